"""Middleware that only a person's visit needs, passed over on the JSON API (/api/v1/).

An API call is authenticated by its key (registry.apikeys): it has no session, no signed-in
user, no second factor and no flash messages. These four middleware still cost every
partner lookup about 70 µs, an eighth of a cached lookup (docs/performance.md). Each one
here is Django's (or django-otp's) own, subclassed so that the admin's checks still find it,
and runs unchanged on every other path. CSRF stays on everywhere: the API's views are
exempt from it already, and its process_view is what protects the pages."""

from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django_otp import middleware as otp

API_PREFIX = "/api/v1/"


def _pages_only(middleware: type) -> type:
    def __call__(self, request):
        if request.path_info.startswith(API_PREFIX):
            return self.get_response(request)
        return middleware.__call__(self, request)

    return type(
        middleware.__name__,
        (middleware,),
        {"__call__": __call__, "__module__": __name__, "__doc__": middleware.__doc__},
    )


SessionMiddleware = _pages_only(sessions.SessionMiddleware)
AuthenticationMiddleware = _pages_only(auth.AuthenticationMiddleware)
OTPMiddleware = _pages_only(otp.OTPMiddleware)
MessageMiddleware = _pages_only(messages.MessageMiddleware)
