"""Admin sign-in guessing (django-axes). Axes counts failures per username and address
(AXES_FAILURE_LIMIT); AdminLoginHandler also counts them per username across every address
(AXES_USERNAME_FAILURE_LIMIT), and past that limit pauses sign-ins to that username only for
browsers that never completed one: a browser that did holds a signed device cookie and keeps
just the per-address limit. Someone guessing from many addresses is stopped, and cannot lock
the real operator out of their own browser by doing so (SECURITY.md, "Admin sign-in")."""

import math

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import admin
from django.core import signing
from django.db.models import Sum
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

DEVICE_SALT = "core.lockout.device"


def remember_device(response, user) -> None:
    """Mark this browser as one that completed a sign-in as `user`."""
    response.set_cookie(
        settings.ADMIN_DEVICE_COOKIE,
        signing.dumps(user.get_username(), salt=DEVICE_SALT),
        max_age=settings.ADMIN_DEVICE_COOKIE_DAYS * 86400,
        path="/admin/",
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def known_device(request, username: str) -> bool:
    try:
        signed_for = signing.loads(
            request.COOKIES.get(settings.ADMIN_DEVICE_COOKIE, ""),
            salt=DEVICE_SALT,
            max_age=settings.ADMIN_DEVICE_COOKIE_DAYS * 86400,
        )
    except signing.BadSignature:
        return False
    return signed_for == username


def username_failures(request, username: str) -> int:
    """Failures for `username` from every address within the cool-off."""
    since = timezone.now() - get_cool_off(request)
    return (
        AccessAttempt.objects.filter(username=username, attempt_time__gte=since).aggregate(
            total=Sum("failures_since_start")
        )["total"]
        or 0
    )


class AdminLoginHandler(AxesDatabaseHandler):
    def is_locked(self, request, credentials=None) -> bool:
        return super().is_locked(request, credentials) or self._username_paused(
            request, credentials
        )

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        # Axes decides on the failure that reaches its limit by its own count alone.
        super().user_login_failed(sender, credentials, request=request, **kwargs)
        if request is not None and not request.axes_locked_out:
            if self._username_paused(request, credentials):
                request.axes_locked_out = True
                request.axes_credentials = credentials

    def _username_paused(self, request, credentials) -> bool:
        username = get_client_username(request, credentials)
        if not username or known_device(request, username):
            return False
        paused = username_failures(request, username) >= settings.AXES_USERNAME_FAILURE_LIMIT
        # The lockout page says which of the two limits this was.
        request.axes_username_paused = paused
        return paused


def admin_locked_out(request, original_response=None, credentials=None):
    """The page of an admin login that django-axes locked out (AXES_LOCKOUT_CALLABLE): in the
    admin's own look, 429 with Retry-After like every other limit of the project."""
    # The lockout starts at the failure that reached the limit and attempts made during it
    # do not extend it (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT), so the whole
    # cool-off is exact when the page is first shown and an upper bound after that.
    seconds = int(get_cool_off(request).total_seconds())
    paused = getattr(request, "axes_username_paused", False)
    context = {
        **admin.site.each_context(request),
        "title": _("Too many failed sign-ins"),
        "username_paused": paused,
        "failure_limit": settings.AXES_USERNAME_FAILURE_LIMIT
        if paused
        else get_failure_limit(request, credentials),
        "minutes": math.ceil(seconds / 60),
    }
    response = render(request, "admin/locked_out.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response
