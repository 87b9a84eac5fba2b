"""The one error shape of the API: {"error": {"code", "message", "details"}}.

DRF errors go through `api_exception_handler`; what happens outside DRF (a body over the
limit, an unknown path under /api/, an unhandled exception) goes through `ApiErrorMiddleware`.
Nothing ever answers with a stack trace.
"""

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.views import set_rollback

from core.ratelimit import RateLimited

from .exceptions import ApplicationError

logger = logging.getLogger(__name__)

PHONE_REASON_CODES = {"not_a_number", "too_short", "too_long", "invalid_country_code"}


def error_response(
    code: str, message: str, status: int, details: dict | None = None, headers: dict | None = None
) -> JsonResponse:
    body = {"error": {"code": code, "message": str(message), "details": details or {}}}
    return JsonResponse(
        body, status=status, headers=headers, json_dumps_params={"ensure_ascii": False}
    )


def _first_message(detail) -> tuple[str, str]:
    """(field path, message) of the first error in a DRF ValidationError's detail."""
    path = []
    while isinstance(detail, dict | list) and detail:
        if isinstance(detail, dict):
            key = next(iter(detail))
            path.append(str(key))
            detail = detail[key]
        else:
            detail = detail[0]
    return ".".join(p for p in path if p != "non_field_errors"), str(detail)


def _first_code(codes):
    while isinstance(codes, dict | list) and codes:
        codes = next(iter(codes.values())) if isinstance(codes, dict) else codes[0]
    return codes if isinstance(codes, str) else "invalid"


def _validation_error(exc: exceptions.ValidationError) -> JsonResponse:
    field, message = _first_message(exc.detail)
    code = _first_code(exc.get_codes())
    if code in PHONE_REASON_CODES:
        code = "invalid_number"
    elif code not in {"invalid_number", "too_many_items", "invalid_window", "unknown_field"}:
        code = "invalid"
    text = f"{field}: {message}" if field else message
    details = {"fields": exc.detail} if isinstance(exc.detail, dict) else {"errors": exc.detail}
    if field:
        details["field"] = field
    return error_response(code, text, 400, details)


_API_EXCEPTIONS = [
    # (DRF exception, status, code)
    (exceptions.ParseError, 400, "malformed_body"),
    (exceptions.UnsupportedMediaType, 415, "unsupported_media_type"),
    (exceptions.NotAuthenticated, 401, "missing_api_key"),
    (exceptions.AuthenticationFailed, 401, "invalid_api_key"),
    (exceptions.PermissionDenied, 403, "forbidden"),
    (exceptions.NotFound, 404, "not_found"),
    (exceptions.MethodNotAllowed, 405, "method_not_allowed"),
    (exceptions.NotAcceptable, 406, "not_acceptable"),
    (exceptions.Throttled, 429, "rate_limited"),
]


def api_exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(_("Not found."))
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        return body_too_large()

    if isinstance(exc, RateLimited):
        exc = exceptions.Throttled(wait=exc.retry_after)
    if isinstance(exc, ApplicationError):
        set_rollback()
        return error_response(exc.code, exc.message, exc.status, exc.details)
    if isinstance(exc, exceptions.ValidationError):
        set_rollback()
        return _validation_error(exc)
    if isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable: %s", type(exc).__name__)
        return service_unavailable()
    if isinstance(exc, exceptions.APIException):
        set_rollback()
        status, code = next(
            ((status, code) for cls, status, code in _API_EXCEPTIONS if isinstance(exc, cls)),
            (exc.status_code, exc.default_code),
        )
        code = getattr(exc, "error_code", code)
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        details = {}
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(max(1, int(exc.wait)))
            details["retry_after"] = int(headers["Retry-After"])
        return error_response(code, exc.detail, status, details, headers)
    return None


def body_too_large() -> JsonResponse:
    return error_response(
        "body_too_large",
        _("The request body is larger than %(limit)d bytes.") % {"limit": settings.MAX_BODY_BYTES},
        413,
        {"limit": settings.MAX_BODY_BYTES},
    )


def service_unavailable() -> JsonResponse:
    return error_response(
        "service_unavailable",
        _("The registry cannot answer right now. Please try again shortly."),
        503,
        headers={"Retry-After": "5"},
    )


@csrf_exempt  # the API authenticates by key, never by cookie: a POST is answered 404, not 403
def api_not_found(request, *args, **kwargs) -> JsonResponse:
    return error_response("not_found", _("There is no such API endpoint."), 404)


def _is_api(request) -> bool:
    return request.path_info.startswith("/api/")


def _page_limit(request) -> int:
    """File uploads (staff files in the admin) may be larger than any other body."""
    if request.META.get("CONTENT_TYPE", "").startswith("multipart/form-data"):
        return settings.MAX_UPLOAD_BYTES
    return settings.MAX_BODY_BYTES


def _has_control_characters(query) -> bool:
    """A NUL or another control character in a query's names or values: no filter, search
    or page number of ours holds one, and PostgreSQL refuses NUL in any text it compares."""
    return any(
        ord(char) < 32 or ord(char) == 127
        for name, values in query.lists()
        for text in (name, *values)
        for char in text
    )


class ApiErrorMiddleware:
    """Refuses oversize bodies before anything reads them, and keeps errors under /api/ in
    the error shape even when they happen outside DRF."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if _is_api(request):
            if length > settings.MAX_BODY_BYTES:
                return body_too_large()
        elif length > _page_limit(request):
            return HttpResponse(_("Request body too large."), status=413, content_type="text/plain")
        elif _has_control_characters(request.GET):
            return HttpResponse(
                _("The address holds characters no page accepts."),
                status=400,
                content_type="text/plain",
            )
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not _is_api(request):
            if isinstance(exception, OperationalError | InterfaceError):
                logger.warning("database unavailable: %s", type(exception).__name__)
                return import_string(settings.DATABASE_UNAVAILABLE_VIEW)(request)
            return None
        if isinstance(exception, OperationalError | InterfaceError):
            return service_unavailable()
        if isinstance(exception, DatabaseError):
            logger.exception("database error on the API")
        else:
            logger.exception("unhandled error on the API")
        return error_response("internal_error", _("Something went wrong on our side."), 500)
