"""The admin's second step (core.twofactor): verify a code, enrol an authenticator on first
sign-in, show the new recovery codes once. For a signed-in staff user who has not yet
passed the second factor; admin_view cannot guard them, since it asks for that factor."""

from base64 import b32encode
from functools import wraps

import segno
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django_otp import verify_token
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.lockout import remember_device
from core.twofactor import (
    NEW_CODES_SESSION_KEY,
    second_factor_pass,
    second_factor_passed,
    two_factor_enrol,
    with_next,
)


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
    )

    def clean_code(self) -> str:
        return "".join(self.cleaned_data["code"].split()).lower()


def signed_in_staff(view):
    @wraps(view)
    def guarded(request):
        if not (request.user.is_active and request.user.is_staff):
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        return view(request, _next_url(request))

    return never_cache(guarded)


def _next_url(request) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(wanted, {request.get_host()}, request.is_secure()):
        return wanted
    return reverse("admin:index")


def _page(request, template: str, title, next_url: str, **context) -> TemplateResponse:
    context = {**admin.site.each_context(request), "title": title, "next": next_url, **context}
    return TemplateResponse(request, f"admin/two_factor/{template}", context)


def _signed_in(request, device, next_url: str):
    second_factor_pass(request, device)
    response = redirect(next_url)
    remember_device(response, request.user)
    return response


def _device_for(user, code: str):
    """A six-digit code is the authenticator's, anything else a recovery code."""
    model = TOTPDevice if code.isdigit() and len(code) == 6 else StaticDevice
    return model.objects.filter(user=user, confirmed=True).first()


@signed_in_staff
def verify(request, next_url):
    user = request.user
    if second_factor_passed(request):
        return redirect(next_url)
    if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return redirect(with_next("admin:two-factor-setup", next_url))
    form = CodeForm(request.POST or None)
    if form.is_valid():
        code = form.cleaned_data["code"]
        device = _device_for(user, code)
        # django_otp.verify_token locks the device row: its throttle (a wait that doubles
        # with every wrong code) and a recovery code's single use hold under concurrency.
        if device and verify_token(user, device.persistent_id, code):
            if isinstance(device, StaticDevice):
                left = device.token_set.count()
                messages.warning(request, _used_recovery_code(left))
            return _signed_in(request, device, next_url)
        form.add_error("code", _wrong_code())
    return _page(request, "verify.html", _("Two-step verification"), next_url, form=form)


def _used_recovery_code(left: int) -> str:
    return ngettext(
        "You signed in with a recovery code, which now no longer works: %(left)d is left.",
        "You signed in with a recovery code, which now no longer works: %(left)d are left.",
        left,
    ) % {"left": left}


def _wrong_code():
    return _(
        "This code is not valid. Wait for the app's next code (and check the phone's clock), "
        "or use an unused recovery code. After several wrong codes, wait a little."
    )


@signed_in_staff
def setup(request, next_url):
    user = request.user
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return redirect(with_next("admin:two-factor", next_url))
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    form = CodeForm(request.POST or None)
    if form.is_valid():
        if device.verify_token(form.cleaned_data["code"]):
            codes = two_factor_enrol(user=user, device=device)
            response = _signed_in(request, device, with_next("admin:two-factor-codes", next_url))
            request.session[NEW_CODES_SESSION_KEY] = codes
            return response
        form.add_error("code", _wrong_code())
    secret = b32encode(device.bin_key).decode()
    return _page(
        request,
        "setup.html",
        _("Set up two-step verification"),
        next_url,
        form=form,
        qr_svg=segno.make(device.config_url, error="m").svg_inline(scale=4, omitsize=False),
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
    )


@signed_in_staff
def recovery_codes(request, next_url):
    codes = request.session.pop(NEW_CODES_SESSION_KEY, None)
    if not codes or not second_factor_passed(request):
        return redirect(next_url)
    return _page(request, "recovery_codes.html", _("Your recovery codes"), next_url, codes=codes)
