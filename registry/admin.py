"""The admin where carrier operators enrol their staff. Operators see and change only their
own carrier's records (registry.access); every write goes through registry.services."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey
from simple_history.admin import SimpleHistoryAdmin

from . import phones, services
from .access import (
    access_can_use_registry_admin,
    access_carriers_for_user,
    access_operator_carrier,
    access_scope,
)
from .models import (
    Carrier,
    CarrierOperator,
    ClientAPIKey,
    DeliveryAssignment,
    OfficialChannel,
    StaffMember,
    StaffPhone,
)

admin.site.unregister(APIKey)  # the library's own key model; ours is ClientAPIKey
admin.site.site_header = _("Verified shipper registry")
admin.site.site_title = _("Shipper registry")


def _apply_registry_errors(form, write):
    """Run `write`; a RegistryError it raises becomes a form error rather than a 500."""
    try:
        return write()
    except services.RegistryError as exc:
        form.add_error(None, exc.message)
        return None


class CarrierScopedAdmin(SimpleHistoryAdmin):
    """Operators get their carrier's rows only, a 404 for anything else (history pages
    included), and the carrier set for them instead of a choice. Superusers see all."""

    carrier_path = "carrier"

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
        return self._allowed(request) and super().has_delete_permission(request, obj)

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

        return CarrierBoundForm

    def _check_in_scope(self, request, object_id):
        if not self.get_queryset(request).filter(pk=object_id).exists():
            raise Http404

    def history_view(self, request, object_id, extra_context=None):
        self._check_in_scope(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self._check_in_scope(request, object_id)
        if request.method == "POST":
            raise PermissionDenied  # a revert would write around the services
        return super().history_form_view(request, object_id, version_id, extra_context)

    def delete_queryset(self, request, queryset):
        raise PermissionDenied


class OfficialChannelInline(admin.TabularInline):
    model = OfficialChannel
    extra = 0
    can_delete = False
    fields = ["kind", "value", "label"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Carrier)
class CarrierAdmin(CarrierScopedAdmin):
    carrier_path = "pk"
    list_display = ["name", "slug", "is_active"]
    search_fields = ["name", "slug"]
    inlines = [OfficialChannelInline]

    def get_readonly_fields(self, request, obj=None):
        return ["slug"] if obj else []

    def has_add_permission(self, request, *args):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        carrier, _created = services.carrier_save(
            slug=obj.slug, name=obj.name, is_active=obj.is_active
        )
        obj.pk = carrier.pk


@admin.register(OfficialChannel)
class OfficialChannelAdmin(CarrierScopedAdmin):
    list_display = ["carrier", "kind", "value", "label"]
    list_filter = ["kind"]
    search_fields = ["value", "label"]

    def save_model(self, request, obj, form, change):
        services.channel_save(
            carrier=obj.carrier,
            kind=obj.kind,
            value=obj.value,
            label=obj.label,
            channel=obj if change else None,
        )

    def delete_model(self, request, obj):
        services.channel_delete(channel=obj)


class PhoneInlineForm(forms.ModelForm):
    revoke = forms.BooleanField(label=_("Revoke"), required=False)

    class Meta:
        model = StaffPhone
        fields = ["number", "valid_from", "valid_until"]

    def clean_number(self):
        try:
            return phones.normalize(self.cleaned_data["number"])
        except phones.InvalidPhoneNumber as exc:
            raise forms.ValidationError(exc.message, code=exc.reason) from None


class StaffPhoneInline(admin.TabularInline):
    model = StaffPhone
    form = PhoneInlineForm
    extra = 2
    can_delete = False
    fields = ["number", "status", "valid_from", "valid_until", "revoked_at", "revoke"]
    readonly_fields = ["status", "revoked_at"]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields

    def has_add_permission(self, request, obj=None):
        return True

    def has_change_permission(self, request, obj=None):
        return True


@admin.register(StaffMember)
class StaffMemberAdmin(CarrierScopedAdmin):
    list_display = ["employee_code", "full_name", "status", "region", "carrier"]
    list_filter = ["status"]
    search_fields = ["employee_code", "full_name", "phones__number"]
    inlines = [StaffPhoneInline]
    actions = ["suspend_selected", "terminate_selected", "reactivate_selected"]

    def get_readonly_fields(self, request, obj=None):
        # A code is the staff member's identity inside the carrier: changing it would be a
        # different person. Terminate and enrol anew instead.
        return ["employee_code", "carrier"] if obj else []

    def save_model(self, request, obj, form, change):
        staff, _created = services.staff_upsert(
            carrier=obj.carrier,
            employee_code=obj.employee_code,
            full_name=obj.full_name,
            status=obj.status,
            region=obj.region,
        )
        obj.pk = staff.pk

    def save_formset(self, request, form, formset, change):
        staff = form.instance
        for phone_form in formset.forms:
            if not phone_form.has_changed():
                continue
            phone, data = phone_form.instance, phone_form.cleaned_data
            if phone.pk is None:
                services.phone_add(
                    staff=staff,
                    number=data["number"],
                    valid_from=data.get("valid_from"),
                    valid_until=data.get("valid_until"),
                )
            elif data.get("revoke"):
                services.phone_revoke(phone=phone)
            else:
                services.phone_update(
                    phone=phone,
                    valid_from=data.get("valid_from"),
                    valid_until=data.get("valid_until"),
                )

    def _set_status(self, request, queryset, status, done_message):
        for staff in queryset:
            services.staff_set_status(staff=staff, status=status)
        self.message_user(request, done_message % {"count": queryset.count()}, messages.SUCCESS)

    @admin.action(description=_("Suspend selected staff"), permissions=["change"])
    def suspend_selected(self, request, queryset):
        self._set_status(request, queryset, StaffMember.Status.SUSPENDED, _("%(count)d suspended."))

    @admin.action(
        description=_("Terminate selected staff (revokes their phones)"), permissions=["change"]
    )
    def terminate_selected(self, request, queryset):
        self._set_status(
            request, queryset, StaffMember.Status.TERMINATED, _("%(count)d terminated.")
        )

    @admin.action(description=_("Reactivate selected staff"), permissions=["change"])
    def reactivate_selected(self, request, queryset):
        self._set_status(request, queryset, StaffMember.Status.ACTIVE, _("%(count)d reactivated."))


@admin.register(StaffPhone)
class StaffPhoneAdmin(CarrierScopedAdmin):
    list_display = ["number", "staff", "status", "valid_from", "valid_until", "carrier"]
    list_filter = ["status"]
    search_fields = ["number", "staff__employee_code", "staff__full_name"]
    readonly_fields = ["number", "staff", "carrier", "status", "revoked_at"]
    fields = ["number", "staff", "carrier", "status", "valid_from", "valid_until", "revoked_at"]
    actions = ["revoke_selected"]

    def has_add_permission(self, request, *args):
        return False  # phones are added on their staff member's page

    def get_exclude(self, request, obj=None):
        return []

    def save_model(self, request, obj, form, change):
        services.phone_update(phone=obj, valid_from=obj.valid_from, valid_until=obj.valid_until)

    @admin.action(description=_("Revoke selected phones"), permissions=["change"])
    def revoke_selected(self, request, queryset):
        for phone in queryset:
            services.phone_revoke(phone=phone)
        self.message_user(request, _("Phones revoked."), messages.SUCCESS)


class AssignmentForm(forms.ModelForm):
    recipient_phone = forms.CharField(
        label=_("Recipient phone"),
        required=False,
        help_text=_("Stored only as a keyed digest; it cannot be shown again."),
    )

    class Meta:
        model = DeliveryAssignment
        fields = ["carrier", "tracking_code", "staff", "window_start", "window_end", "status"]

    def clean_recipient_phone(self):
        raw = self.cleaned_data["recipient_phone"]
        if not raw:
            return ""
        try:
            return phones.normalize(raw)
        except phones.InvalidPhoneNumber as exc:
            raise forms.ValidationError(exc.message, code=exc.reason) from None


@admin.register(DeliveryAssignment)
class DeliveryAssignmentAdmin(CarrierScopedAdmin):
    form = AssignmentForm
    list_display = ["tracking_code", "staff", "status", "window_start", "window_end", "carrier"]
    list_filter = ["status"]
    search_fields = ["tracking_code", "staff__employee_code"]

    def get_readonly_fields(self, request, obj=None):
        return ["tracking_code", "carrier"] if obj else []

    def save_model(self, request, obj, form, change):
        assignment, _created = services.assignment_upsert(
            carrier=obj.carrier,
            tracking_code=obj.tracking_code,
            staff=obj.staff,
            recipient_phone=form.cleaned_data.get("recipient_phone") or None,
            window_start=obj.window_start,
            window_end=obj.window_end,
            status=obj.status,
        )
        obj.pk = assignment.pk


@admin.register(CarrierOperator)
class CarrierOperatorAdmin(admin.ModelAdmin):
    list_display = ["user", "carrier"]
    autocomplete_fields = ["user"]

    def has_module_permission(self, request):
        return request.user.is_superuser

    has_view_permission = has_add_permission = has_change_permission = has_delete_permission = (
        lambda self, request, obj=None: request.user.is_superuser
    )

    def save_model(self, request, obj, form, change):
        operator = services.operator_assign(user=obj.user, carrier=obj.carrier)
        obj.pk = operator.pk


@admin.register(ClientAPIKey)
class ClientAPIKeyAdmin(APIKeyModelAdmin):
    list_display = [*APIKeyModelAdmin.list_display, "carrier", "rate_limit"]
    list_filter = ["carrier", "revoked"]

    def has_module_permission(self, request):
        return request.user.is_superuser

    has_view_permission = has_add_permission = has_change_permission = has_delete_permission = (
        lambda self, request, obj=None: request.user.is_superuser
    )
