"""Two-factor sign-in to the admin (django-otp): after the password, a TOTP code from an
authenticator app or a one-time recovery code. With DEBUG off every staff user must pass it
and enrols on first sign-in; with DEBUG on (the embedded demo) only users who enrolled are
asked. The views are in core.twofactor_views."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.db import transaction
from django.shortcuts import redirect
from django.urls import path, reverse
from django_otp import DEVICE_ID_SESSION_KEY, devices_for_user, user_has_device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.lockout import remember_device

# The recovery codes just made, shown once by the next page and then forgotten.
NEW_CODES_SESSION_KEY = "two_factor_new_codes"


def second_factor_required(user) -> bool:
    return not settings.DEBUG or user_has_device(user, confirmed=True)


def second_factor_passed(request) -> bool:
    """Whether this session may use the admin as far as the second factor goes. A user who
    has just signed in with a password carries no otp_device yet: not verified."""
    user = request.user
    return getattr(user, "otp_device", None) is not None or not second_factor_required(user)


def second_factor_pass(request, device) -> None:
    """The session passed `device`: a new session key, as for any rise in privilege."""
    request.session.cycle_key()
    request.session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    request.user.otp_device = device


def two_factor_enrol(*, user, device: TOTPDevice) -> list[str]:
    """Confirm the authenticator `device` that proved itself with a code; returns the
    user's new recovery codes."""
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return recovery_codes_renew(user=user)


def recovery_codes_renew(*, user) -> list[str]:
    """New one-time recovery codes; the old ones stop working."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="recovery codes")
    codes = [StaticToken.random_token() for _ in range(settings.RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def two_factor_reset(*, user) -> int:
    """Forget every device of `user` (a lost phone): their sessions stop being verified at
    once, and their next sign-in enrols again. Returns how many devices were removed."""
    devices = list(devices_for_user(user, confirmed=None))
    for device in devices:
        device.delete()
    return len(devices)


def with_next(name: str, next_url: str) -> str:
    return f"{reverse(name)}?{urlencode({'next': next_url})}"


class AdminSite(admin.AdminSite):
    """Django's admin site, whose every page (admin_view) also needs the second factor; the
    password page hands a signed-in user on to it."""

    def has_permission(self, request):
        return super().has_permission(request) and second_factor_passed(request)

    def _awaits_second_factor(self, request) -> bool:
        return super().has_permission(request) and not second_factor_passed(request)

    def login(self, request, extra_context=None):
        if request.method != "POST":
            if self._awaits_second_factor(request):
                return self._to_second_factor(request)
            return super().login(request, extra_context)
        response = super().login(request, extra_context)
        if response.status_code != 302:  # refused: the form again
            return response
        if self._awaits_second_factor(request):
            return self._to_second_factor(request)
        remember_device(response, request.user)
        return response

    def _to_second_factor(self, request):
        next_url = request.POST.get("next") or request.GET.get("next") or reverse("admin:index")
        return redirect(with_next("admin:two-factor", next_url))

    def get_urls(self):
        from core import twofactor_views as views

        return [
            path("two-factor/", views.verify, name="two-factor"),
            path("two-factor/setup/", views.setup, name="two-factor-setup"),
            path("two-factor/recovery-codes/", views.recovery_codes, name="two-factor-codes"),
            *super().get_urls(),
        ]
