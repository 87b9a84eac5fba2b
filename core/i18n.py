"""Vietnamese unless the person asked for English.

Pages ignore the browser's Accept-Language on purpose: many Vietnamese phones are set to
English, and the default must be the language of the people this protects. A person switches
with the language links (`?lang=en`), remembered in a cookie. The API honours
Accept-Language, since integrators read its messages."""

from django.conf import settings
from django.utils import translation
from django.utils.cache import patch_vary_headers

COOKIE = settings.LANGUAGE_COOKIE_NAME
SUPPORTED = {code for code, _name in settings.LANGUAGES}


class LanguageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        asked = request.GET.get("lang")
        if asked not in SUPPORTED:
            asked = None
        if request.path_info.startswith("/api/"):
            language = translation.get_language_from_request(request)
        else:
            language = asked or request.COOKIES.get(COOKIE)
            if language not in SUPPORTED:
                language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        if not request.path_info.startswith("/api/"):
            # The page's language comes from the cookie: a shared cache must not give one
            # person's English page to the next.
            patch_vary_headers(response, ["Cookie"])
        if asked:
            response.set_cookie(
                COOKIE,
                asked,
                max_age=365 * 86400,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        return response
