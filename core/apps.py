"""The admin's app config: Django's admin with our site (core.twofactor.AdminSite), which
asks staff for a second factor after the password."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    default_site = "core.twofactor.AdminSite"

    def ready(self):
        super().ready()
        from django_otp.plugins.otp_static.models import StaticDevice
        from django_otp.plugins.otp_totp.models import TOTPDevice

        # django-otp's own device admins would show a superuser every operator's TOTP
        # secret and recovery codes; a lost device is reset with `reset_two_factor`.
        for model in (TOTPDevice, StaticDevice):
            if admin.site.is_registered(model):
                admin.site.unregister(model)
