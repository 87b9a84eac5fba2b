"""The scoped admin base classes: what every admin of ours is built on, so that a carrier
operator sees and changes only their own carrier's rows (registry.access), a row outside
their scope answers exactly like a row that does not exist, and what only registry operators
(superusers) manage is theirs alone."""

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper

from . import services
from .access import (
    access_can_use_registry_admin,
    access_carriers_for_user,
    access_is_superuser,
    access_operator_carrier,
    access_scope,
    access_superuser_scope,
)
from .models import Carrier, StaffMember


class NotFoundOutsideScope:
    """A row outside the user's queryset answers 404 on every object URL (change, delete,
    history), exactly like a row that does not exist: neither Django's redirect to the index
    nor a 403 that would tell the two apart."""

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404
        return obj

    def history_view(self, request, object_id, extra_context=None):
        # django-simple-history's view finds the row without get_object, and would even
        # show the history of a row that is gone.
        self.get_object(request, unquote(object_id))
        return super().history_view(request, object_id, extra_context)


class HistoryNeedsPermission:
    """Django's history view redirects to the index for a row that does not exist *before*
    it checks permissions, and answers 403 for one that does: someone without access could
    tell existing rows from missing ones. Check first, as the change and delete views do."""

    def history_view(self, request, object_id, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return super().history_view(request, object_id, extra_context)


class CarrierScopeMixin(NotFoundOutsideScope):
    """Operators get their carrier's rows only, a 404 for anything else (history pages
    included), and the carrier set for them instead of a choice. Superusers see all.
    A service's RegistryError becomes a form error, never a 500."""

    carrier_path = "carrier"
    # Staff are terminated, phones revoked, assignments cancelled: registry.services deletes
    # none of them, so neither does the admin. An admin with a delete service turns this on.
    deletable = False

    def get_queryset(self, request):
        return access_scope(super().get_queryset(request), request.user, self.carrier_path)

    def _allowed(self, request) -> bool:
        return access_can_use_registry_admin(request.user)

    def has_module_permission(self, request):
        return self._allowed(request) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args):
        return self._allowed(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return (
            self.deletable
            and self._allowed(request)
            and super().has_delete_permission(request, obj)
        )

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        if access_operator_carrier(request.user) is not None:
            exclude.append("carrier")
        return exclude

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Carrier:
            kwargs["queryset"] = access_carriers_for_user(request.user)
        elif db_field.related_model is StaffMember:
            kwargs["queryset"] = access_scope(StaffMember.objects.all(), request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        operator_carrier = access_operator_carrier(request.user)

        class CarrierBoundForm(form):
            """Puts the operator's carrier on the instance before validation, so that the
            per-carrier unique constraints are checked as form errors, not IntegrityErrors."""

            def _post_clean(self):
                if operator_carrier is not None and hasattr(self.instance, "carrier_id"):
                    self.instance.carrier = operator_carrier
                super()._post_clean()

            def _get_validation_exclusions(self):
                exclusions = super()._get_validation_exclusions()
                if operator_carrier is not None:
                    exclusions.discard("carrier")
                return exclusions

            def clean(self):
                cleaned_data = super().clean()
                refused = getattr(request, "registry_error", None)
                if refused is not None:  # see changeform_view
                    raise forms.ValidationError(refused.message, code=refused.code)
                return cleaned_data

        return CarrierBoundForm

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except services.RegistryError as exc:
            # A rule only the service knows (a number already active in this carrier, the
            # same number twice, a hotline written another way). Django ran the save in a
            # transaction, so everything this request wrote is rolled back: show the same
            # form again with the service's reason as its error.
            request.registry_error = exc
            return super().changeform_view(request, object_id, form_url, extra_context)

    def delete_queryset(self, request, queryset):
        raise PermissionDenied


class ChoiceLabelsContextHelper(HistoricalRecordContextHelper):
    """History changes read "Active -> Revoked" (translated), not "active -> revoked"."""

    def prepare_delta_change_value(self, change, value):
        field = self.model._meta.get_field(change.field)
        if field.choices and not isinstance(value, list):
            return dict(field.flatchoices).get(value, value)
        return super().prepare_delta_change_value(change, value)


class CarrierScopedAdmin(CarrierScopeMixin, SimpleHistoryAdmin):
    """For models with HistoricalRecords: the history pages list their records."""

    def get_historical_record_context_helper(self, request, historical_record):
        return ChoiceLabelsContextHelper(self.model, historical_record)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self.get_object(request, unquote(object_id))
        if request.method == "POST":
            raise PermissionDenied  # a revert would write around the services
        if not str(version_id).isdigit():
            raise Http404
        return super().history_form_view(request, object_id, version_id, extra_context)


class CarrierScopedLogAdmin(CarrierScopeMixin, admin.ModelAdmin):
    """For models without HistoricalRecords: the history page is Django's log of the
    changes made in the admin."""


class ReadOnlyForOperators(NotFoundOutsideScope, admin.ModelAdmin):
    """Rows written by services only: viewable by operators (scoped) and superusers."""

    def has_module_permission(self, request):
        return access_can_use_registry_admin(request.user)

    def has_view_permission(self, request, obj=None):
        return access_can_use_registry_admin(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SuperuserOnlyAdmin:
    """For what only registry operators (superusers) manage: nobody else sees even the
    module. `deletable` turns deletion on."""

    deletable = False

    def has_module_permission(self, request):
        return access_is_superuser(request.user)

    def has_view_permission(self, request, obj=None):
        return access_is_superuser(request.user)

    def has_add_permission(self, request, *args):
        return access_is_superuser(request.user)

    def has_change_permission(self, request, obj=None):
        return access_is_superuser(request.user)

    def has_delete_permission(self, request, obj=None):
        return self.deletable and access_is_superuser(request.user)


class SuperuserScopedAdmin(NotFoundOutsideScope, SuperuserOnlyAdmin, admin.ModelAdmin):
    """SuperuserOnlyAdmin whose rows answer 404 to anyone else, as missing rows do."""

    def get_queryset(self, request):
        return access_superuser_scope(super().get_queryset(request), request.user)
