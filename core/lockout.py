"""The page of an admin login that django-axes locked out (AXES_LOCKOUT_CALLABLE): in the
admin's own look, 429 with Retry-After like every other limit of the project."""

import math

from axes.helpers import get_cool_off, get_failure_limit
from django.contrib import admin
from django.shortcuts import render
from django.utils.translation import gettext as _


def admin_locked_out(request, original_response=None, credentials=None):
    # The lockout starts at the failure that reached the limit and attempts made during it
    # do not extend it (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT), so the whole
    # cool-off is exact when the page is first shown and an upper bound after that.
    seconds = int(get_cool_off(request).total_seconds())
    context = {
        **admin.site.each_context(request),
        "title": _("Too many failed sign-ins"),
        "failure_limit": get_failure_limit(request, credentials),
        "minutes": math.ceil(seconds / 60),
    }
    response = render(request, "admin/locked_out.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response
