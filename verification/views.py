"""Public pages for a recipient on a cheap phone: no JavaScript, no CDN, Vietnamese first.
Tracking codes and the recipient's own number travel in POST bodies, never in a URL."""

import csv
import secrets
from functools import wraps

from django import forms
from django.conf import settings
from django.contrib import admin
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods
from django.views.defaults import page_not_found

from core import ratelimit, resilient_cache
from core.exceptions import ApplicationError
from core.rates import parse_rate
from registry import phones
from registry.access import (
    access_can_use_registry_admin,
    access_carriers_for_user,
    access_is_superuser,
)
from registry.freshness import CARRIERS_KEY

from . import dashboard as dashboard_data
from . import selectors, services, stats
from .models import DailyLookupStat, ScamReport, ScamWarning


class LookupForm(forms.Form):
    """The lookup's rules for what was typed. The page writes the form itself (home.html):
    the widgets' own templates cost more than the rest of the page."""

    number = forms.CharField(max_length=64)
    # A slug of the directory, checked in clean_claimed_carrier: a ChoiceField's choices
    # cost more to set for each request than the whole check.
    claimed_carrier = forms.CharField(required=False, strip=False)
    tracking_code = forms.CharField(max_length=64, required=False)
    recipient_phone = forms.CharField(max_length=64, required=False)

    def __init__(self, data, *, carriers: list[dict]):
        super().__init__(data)
        self.carriers = carriers

    def clean_claimed_carrier(self) -> str:
        slug = self.cleaned_data["claimed_carrier"]
        if slug and not any(entry["slug"] == slug for entry in self.carriers):
            raise forms.ValidationError(
                forms.ChoiceField.default_error_messages["invalid_choice"],
                code="invalid_choice",
                params={"value": slug},
            )
        return slug


def _add_service_error(form: forms.Form, exc: ApplicationError) -> None:
    """A service's refusal beside the field it is about. The service's message starts with
    the API's field name ("number: …"); beside its field, the reason alone reads better."""
    field = exc.details.get("field", "number")
    message = phones.REASONS.get(exc.details.get("reason"), exc.message)
    form.add_error(field if field in form.fields else "number", message)


def _too_many(request, retry_after: int):
    response = render(
        request, "verification/rate_limited.html", {"retry_after": retry_after}, status=429
    )
    response["Retry-After"] = str(retry_after)
    return response


def unavailable(request):
    """What the public pages answer while the database is unreachable (core.errors): a
    short page with the official hotlines as last read, and the rule that stops the scam,
    instead of "Server Error (500)". Touches nothing but the cache."""
    response = render(
        request,
        "verification/unavailable.html",
        {"carriers": selectors.carrier_directory_last_known()},
        status=503,
    )
    response["Retry-After"] = "30"
    return response


BROWSER_COOKIE, BROWSER_SALT = "browser", "verification.web-lookup-browser"


def _lookup_windows(request) -> list[ratelimit.Window]:
    """The limits a web lookup counts against (docs/rate-limits.md). Recipients behind one
    carrier-grade NAT address share it: a browser that loaded the form carries a signed id
    and is limited on its own (WEB_RATE_LIMIT), under a per-address ceiling sized for a
    crowd (WEB_ADDRESS_RATE_LIMIT). A client without that id (a script posting directly) is
    limited per address at WEB_RATE_LIMIT, as before."""
    address = ratelimit.client_ip(request)
    per_client = parse_rate(settings.WEB_RATE_LIMIT)
    ceiling = ratelimit.Window.now(
        f"web-address:{address}", parse_rate(settings.WEB_ADDRESS_RATE_LIMIT)
    )
    browser = request.get_signed_cookie(BROWSER_COOKIE, default=None, salt=BROWSER_SALT)
    if browser:
        return [ratelimit.Window.now(f"web-browser:{browser}", per_client), ceiling]
    return [ratelimit.Window.now(f"web:{address}", per_client), ceiling]


def _with_browser_id(request, response):
    """A browser's id comes with the form it loads: a random value, signed so that a script
    cannot make up new ones without loading the page each time."""
    if request.get_signed_cookie(BROWSER_COOKIE, default=None, salt=BROWSER_SALT) is None:
        response.set_signed_cookie(
            BROWSER_COOKIE,
            secrets.token_urlsafe(16),
            salt=BROWSER_SALT,
            max_age=365 * 86400,
            httponly=True,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
        )
    return response


def _home(request, carriers: list[dict], typed=None, errors=None, status=200, **result):
    """The lookup page. `typed`: what to write back into the fields (after an error, all of
    it; after a check, only the claimed carrier: the tracking code and the recipient's own
    number are never echoed); `errors`: the messages by field."""
    # Every field's entry, if only empty: the template engine looks a missing key up again
    # as an attribute and then lists the object's attributes (~5 µs a field).
    typed, errors = typed or {}, errors or {}
    context = {
        "carriers": carriers,
        "typed": {name: typed.get(name, "") for name in LookupForm.base_fields},
        "errors": {name: errors.get(name) for name in LookupForm.base_fields},
        **result,
    }
    return render(request, "verification/home.html", context, status=status)


@require_http_methods(["GET", "POST"])
def home(request):
    if request.method == "GET":
        return _with_browser_id(request, _home(request, selectors.carrier_directory()))
    # One round trip to the cache for the limits, the number's cached verdict and proofs,
    # and the carrier directory.
    windows = _lookup_windows(request)
    prefetched, counts = resilient_cache.fetch(
        [*services.verification_keys(request.POST), CARRIERS_KEY],
        [window.counter for window in windows],
    )
    retry_after = max(window.retry_after(counts[window.key]) for window in windows)
    if retry_after:
        return _too_many(request, retry_after)
    carriers = selectors.carrier_directory(prefetched)
    form = LookupForm(request.POST, carriers=carriers)
    if not form.is_valid():
        return _home(request, carriers, request.POST, form.errors, status=400)
    data = form.cleaned_data
    lookup = services.Lookup(
        claimed_carrier=data["claimed_carrier"] or None,
        tracking_code=data["tracking_code"].strip() or None,
        recipient_phone=data["recipient_phone"].strip() or None,
    )
    try:
        answer = services.verify(
            data["number"],
            lookup,
            with_details=True,
            prefetched=prefetched,
            origin=services.AlertSource.address(ratelimit.client_ip(request)),
        )
    except ApplicationError as exc:
        _add_service_error(form, exc)
        return _home(request, carriers, request.POST, form.errors, status=400)
    verdict = services.web_verdict(answer)
    return _home(
        request,
        carriers,
        {"claimed_carrier": data["claimed_carrier"]},
        answer=answer,
        verdict=verdict,
        tone=TONES[verdict],
        **_hotlines_to_call(answer, verdict, carriers),
        parcel_carrier=_parcel_carrier(answer),
        converted=phones.conversion(data["number"]),
        # As a person in Vietnam writes it (0912 345 678), to compare with the phone screen.
        number_display=phones.display(answer["number"]),
        carrier_names=", ".join(carrier["name"] for carrier in answer["carriers"]),
    )


# The colour of each answer: green only when the recipient may talk, red when they should
# hang up on a caller who is not who they claim, amber when nothing is known either way.
TONES = {
    services.GENUINE: "safe",
    services.OFFICIAL: "official",
    services.NOT_THIS_CARRIER: "danger",
    services.WRONG_PARCEL: "danger",
    services.REVOKED: "danger",
    services.REPORTED: "danger",
    services.UNKNOWN: "caution",
}
SHORT_LIST = 4


def _hotlines_to_call(answer: dict, verdict: str, directory: list[dict]) -> dict:
    """The primary action's numbers: whom to call instead of talking to this caller. The
    carrier the caller claimed, else the carriers the number is (or was) with, else the first
    few carriers of the directory (`short_list`, with a link to all of them). For `official`,
    the hotline itself (calling it back beats a spoofed caller ID); for `genuine`, nothing:
    the recipient may talk."""
    if verdict == services.GENUINE:
        return {"hotlines": [], "short_list": False}
    if verdict == services.OFFICIAL:
        number = answer["number"]
        entry = answer["carriers"][0]
        hotline = {"name": entry["name"], "number": number, "display": phones.display(number)}
        return {"hotlines": [hotline], "short_list": False}
    claimed = answer.get("claimed_carrier")
    if claimed and claimed["hotlines"]:
        hotlines = [{"name": claimed["name"], **hotline} for hotline in claimed["hotlines"]]
        return {"hotlines": hotlines, "short_list": False}
    in_directory = {entry["slug"]: entry for entry in directory}
    entries = [] if claimed else answer["carriers"]
    hotlines = _first_hotlines(
        [in_directory[carrier["slug"]] for carrier in entries if carrier["slug"] in in_directory]
    )
    if hotlines:
        return {"hotlines": hotlines, "short_list": False}
    return {
        "hotlines": _first_hotlines(directory[:SHORT_LIST]),
        "short_list": True,
    }


def _first_hotlines(entries: list[dict]) -> list[dict]:
    return [
        {"name": entry["name"], "number": hotline["value"], "display": hotline["display"]}
        for entry in entries
        for hotline in [next((c for c in entry["channels"] if c["kind"] == "hotline"), None)]
        if hotline
    ]


def _parcel_carrier(answer: dict) -> str | None:
    """The name of the carrier whose parcel matched, when the verdict says so."""
    slug = (answer.get("assignment") or {}).get("carrier")
    names = {carrier["slug"]: carrier["name"] for carrier in answer["carriers"]}
    return names.get(slug, slug) if slug else None


def carriers(request):
    return render(
        request, "verification/carriers.html", {"carriers": selectors.carrier_directory()}
    )


def offline(request):
    """The official hotlines, saved by the service worker for when the network fails. A page
    of its own, without forms: it must make sense read from the phone's cache, hours later."""
    return render(request, "verification/offline.html", {"carriers": selectors.carrier_directory()})


class ReportForm(forms.Form):
    number = forms.CharField(
        label=_("The number that called or texted you"),
        max_length=64,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    claimed_carrier = forms.ChoiceField(label=_("Which carrier did they claim?"), required=False)
    channel = forms.ChoiceField(
        label=_("How did they reach you?"), choices=ScamReport.Channel.choices, initial="call"
    )
    description = forms.CharField(
        label=_("What did they ask for? (optional)"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Do not write your own name, address or phone number."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["claimed_carrier"].choices = [("", _("They did not say / I don't know"))] + [
            (entry["slug"], entry["name"]) for entry in selectors.carrier_directory()
        ]


@require_http_methods(["GET", "POST"])
def report(request):
    if request.method == "GET":
        return render(request, "verification/report.html", {"form": ReportForm()})
    form = ReportForm(request.POST)
    if not form.is_valid():
        return render(request, "verification/report.html", {"form": form}, status=400)
    try:
        address = ratelimit.client_ip(request)
        services.report_receive(
            reporter_kind="ip",
            reporter_id=address,
            origin=services.AlertSource.address(address),
            **form.cleaned_data,
        )
    except ratelimit.RateLimited as exc:
        return _too_many(request, exc.retry_after)
    except ApplicationError as exc:
        _add_service_error(form, exc)
        return render(request, "verification/report.html", {"form": form}, status=400)
    return render(request, "verification/report_thanks.html")


def warnings(request):
    english = request.LANGUAGE_CODE == "en"
    items = [
        {
            "title": warning.title_en if english else warning.title_vi,
            "body": warning.body_en if english else warning.body_vi,
        }
        for warning in ScamWarning.objects.filter(is_published=True)
    ]
    return render(request, "verification/warnings.html", {"warnings": items})


def _parcel_view(view):
    """The parcel pages: per-IP limit like the lookup (its own bucket, WEB_RATE_LIMIT), and
    every answer, 404 and 429 included, kept out of search engines, shared caches and other
    sites' Referer headers: the token in the URL is all it takes to read the page."""

    @wraps(view)
    def wrapped(request, token: str):
        retry_after = ratelimit.hit(
            f"parcel:{ratelimit.client_ip(request)}", parse_rate(settings.WEB_RATE_LIMIT)
        )
        try:
            response = _too_many(request, retry_after) if retry_after else view(request, token)
        except Http404 as exc:
            response = page_not_found(request, exc)
        response["X-Robots-Tag"] = "noindex, nofollow"
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "no-referrer"
        return response

    return require_http_methods(["GET", "HEAD"])(wrapped)


def _parcel_or_404(token: str) -> selectors.ParcelPage:
    page = selectors.parcel_page(token)
    if page is None:
        raise Http404
    return page


@_parcel_view
def parcel(request, token: str):
    """What a recipient sees after scanning the label: who will deliver, while it is open."""
    page = _parcel_or_404(token)
    stats.count(page.carrier_slug, DailyLookupStat.Outcome.PARCEL_PAGE)
    return render(
        request,
        "verification/parcel.html",
        {
            "page": page,
            "phones": [{"number": n, "display": phones.display(n)} for n in page.phones],
            "hotlines": _hotlines(page.carrier_slug),
            "token": token,
        },
    )


def _hotlines(carrier_slug: str) -> list[dict]:
    entry = selectors.carrier_in_directory(carrier_slug) or {"channels": []}
    return [channel for channel in entry["channels"] if channel["kind"] == "hotline"]


def _vcard_text(value: str) -> str:
    """A vCard text value (RFC 6350, 3.4): backslash, comma, semicolon and newline escaped."""
    for char, escaped in (("\\", "\\\\"), (",", "\\,"), (";", "\\;"), ("\n", "\\n")):
        value = value.replace(char, escaped)
    return value


@_parcel_view
def parcel_vcard(request, token: str):
    """The assigned shipper as a contact, so that their call shows up named, with the
    carrier in the name. Only while the page itself shows the shipper."""
    page = _parcel_or_404(token)
    if not page.shows_staff:
        raise Http404
    name = gettext("%(carrier)s shipper %(name)s (%(code)s)") % {
        "carrier": page.carrier_name,
        "name": page.staff_name,
        "code": page.employee_code,
    }
    lines = [
        "BEGIN:VCARD",
        "VERSION:3.0",
        f"FN:{_vcard_text(name)}",
        f"N:{_vcard_text(name)};;;;",
        f"ORG:{_vcard_text(page.carrier_name)}",
        f"TITLE:{_vcard_text(gettext('Shipper'))}",
        *(f"TEL;TYPE=CELL,VOICE:{number}" for number in page.phones),
        f"NOTE:{_vcard_text(gettext('Employee code: %(code)s') % {'code': page.employee_code})}",
        "END:VCARD",
    ]
    response = HttpResponse("\r\n".join(lines) + "\r\n", content_type="text/vcard; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="shipper-{page.carrier_slug}.vcf"'
    return response


def dashboard(request):
    """The carrier dashboard in the admin (wrapped by admin_view): an operator sees their own
    carrier; a superuser picks one. A carrier outside the user's scope is a 404."""
    allowed = access_carriers_for_user(request.user).order_by("name")
    if not access_can_use_registry_admin(request.user) or not allowed.exists():
        raise Http404
    slug = request.GET.get("carrier")
    carrier = allowed.filter(slug=slug).first() if slug else allowed.first()
    if carrier is None:
        raise Http404
    data = dashboard_data.series(carrier)
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{carrier.slug}-30-days.csv"'
        writer = csv.writer(response)
        writer.writerow(["day", *(name for name, _label in dashboard_data.SERIES)])
        for index, day in enumerate(data["days"]):
            writer.writerow(
                [day.isoformat(), *(data[name][index] for name, _label in dashboard_data.SERIES)]
            )
        return response
    charts = [
        {"name": name, "label": label, **dashboard_data.bars(data[name])}
        for name, label in dashboard_data.SERIES
    ]
    context = {
        **admin.site.each_context(request),
        "title": _("Dashboard of %(carrier)s") % {"carrier": carrier.name},
        "carrier": carrier,
        "carriers": allowed if access_is_superuser(request.user) else [],
        "charts": charts,
        "first_day": data["days"][0],
        "last_day": data["days"][-1],
        "top_numbers": data["top_numbers"],
        "shared_numbers": data["shared_numbers"],
    }
    return render(request, "admin/verification/dashboard.html", context)
