"""What makes the lookup page an app a recipient can keep on the home screen: the favicon,
the web app manifest, and the service worker that keeps the official hotlines reachable when
the network is poor. All of it is progressive: without JavaScript the pages work as before."""

from functools import cache

from django.contrib.staticfiles import finders
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

DAY = 86400


@cache
def _favicon() -> bytes:
    # From the source static/ directory: present in every deployment, collected or not.
    with open(finders.find("favicon.ico"), "rb") as icon:
        return icon.read()


@require_GET
@cache_control(public=True, max_age=7 * DAY)
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page says: answer it instead of a 404."""
    return HttpResponse(_favicon(), content_type="image/x-icon")


@require_GET
@cache_control(public=True, max_age=DAY)
def manifest(request):
    response = JsonResponse(
        {
            "name": _("Is this really your shipper?"),
            "short_name": _("Shipper check"),
            "description": _(
                "Check whether the number calling you belongs to a registered delivery staff "
                "member."
            ),
            "lang": request.LANGUAGE_CODE,
            "start_url": "/",
            "scope": "/",
            "display": "standalone",
            "background_color": "#f6f7f9",
            "theme_color": "#0b3d91",
            "icons": [
                {
                    "src": static(f"icons/icon-{size}.png"),
                    "sizes": f"{size}x{size}",
                    "type": "image/png",
                    "purpose": "any",
                }
                for size in (192, 512)
            ],
        },
        json_dumps_params={"ensure_ascii": False},
    )
    response["Content-Type"] = "application/manifest+json"
    return response


@require_GET
@cache_control(no_cache=True)
def service_worker(request):
    """Served from the root so that it may answer for every page of the site. Browsers check
    it for updates on their own; no-cache makes them see a new one at once."""
    return render(
        request, "webapp/sw.js", {"css": static("css/site.css")}, content_type="text/javascript"
    )
