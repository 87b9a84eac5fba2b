"""The admin where carrier operators enrol their staff. Operators see and change only their
own carrier's records (registry.access); every write goes through registry.services."""

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.models import Group, User
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.http import HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import translation
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportMixin
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from . import phones, resources, selectors, services
from .access import access_carriers_for_user, access_is_superuser, access_scope
from .admin_base import (
    CarrierScopedAdmin,
    CarrierScopedLogAdmin,
    ChoiceLabelsContextHelper,
    HistoryNeedsPermission,
    ReadOnlyForOperators,
    SuperuserScopedAdmin,
)
from .api import LabelIn, label_response
from .models import (
    Carrier,
    CarrierOperator,
    ClientAPIKey,
    DeliveryAssignment,
    OfficialChannel,
    StaffImport,
    StaffMember,
    StaffPhone,
)
from .phone_fields import PhoneFormField

admin.site.unregister(APIKey)  # the library's own key model; ours is ClientAPIKey
admin.site.site_header = _("Verified shipper registry")
admin.site.site_title = _("Shipper registry")


def _check_history_permission_first(model) -> None:
    """Re-register another app's admin of `model` with HistoryNeedsPermission."""
    if admin.site.is_registered(model):
        base = type(admin.site.get_model_admin(model))
        admin.site.unregister(model)
        admin.site.register(model, type(base.__name__, (HistoryNeedsPermission, base), {}))


# Django's and django-axes' own admins (carrier operators have no permission on them).
for _model in (User, Group, AccessAttempt, AccessLog, AccessFailureLog):
    _check_history_permission_first(_model)


class OfficialChannelInline(admin.TabularInline):
    model = OfficialChannel
    extra = 0
    can_delete = False
    fields = ["kind", "value", "label"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Carrier)
class CarrierAdmin(CarrierScopedLogAdmin):
    carrier_path = "pk"
    list_display = ["name", "slug", "is_active"]
    search_fields = ["name", "slug"]
    inlines = [OfficialChannelInline]

    def get_readonly_fields(self, request, obj=None):
        return ["slug"] if obj else []

    def has_add_permission(self, request, *args):
        return access_is_superuser(request.user)

    def has_change_permission(self, request, obj=None):
        return access_is_superuser(request.user)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        carrier, _created = services.carrier_save(
            slug=obj.slug,
            name=obj.name,
            is_active=obj.is_active,
            webhook=(obj.webhook_url, obj.webhook_secret),
        )
        obj.pk = carrier.pk

    def get_exclude(self, request, obj=None):
        # The webhook secret signs the carrier's alerts: superusers set it, nobody reads it
        # back on a page an operator can open.
        exclude = list(super().get_exclude(request, obj) or [])
        return exclude if access_is_superuser(request.user) else [*exclude, "webhook_secret"]


@admin.register(OfficialChannel)
class OfficialChannelAdmin(CarrierScopedLogAdmin):
    """Official channels are what the public trusts most: registry operators (superusers)
    write them, a carrier's operators read theirs."""

    list_display = ["carrier", "kind", "value", "label"]
    list_filter = ["kind"]
    search_fields = ["value", "label"]

    def has_add_permission(self, request, *args):
        return access_is_superuser(request.user) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return access_is_superuser(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return access_is_superuser(request.user) and super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        services.channel_save(
            carrier=obj.carrier,
            kind=obj.kind,
            value=obj.value,
            label=obj.label,
            channel=obj if change else None,
        )

    deletable = True  # services.channel_delete

    def delete_model(self, request, obj):
        services.channel_delete(channel=obj)

    def delete_queryset(self, request, queryset):
        for channel in queryset:
            services.channel_delete(channel=channel)


class PhoneInlineForm(forms.ModelForm):
    # Not the model field's max_length of 16 (E.164): "+84 (912) 345-678" is longer than
    # the number it stands for, and is stored as +84912345678.
    number = PhoneFormField(
        label=_("Phone number"),
        max_length=phones.MAX_INPUT_LENGTH,
        help_text=_("Any usual format, such as 0912 345 678; stored as +84912345678."),
    )
    revoke = forms.BooleanField(label=_("Revoke"), required=False)

    class Meta:
        model = StaffPhone
        fields = ["number", "valid_from", "valid_until"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            # A registered number is the phone's identity: another number is another row
            # (add it, revoke this one), so that history and revocation stay true.
            self.fields["number"].disabled = True
        else:
            self.fields["revoke"].disabled = True  # nothing to revoke before it is added


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
class StaffMemberAdmin(ImportMixin, CarrierScopedAdmin):
    list_display = ["employee_code", "full_name", "status", "region", "carrier"]
    list_filter = ["status"]
    search_fields = ["employee_code", "full_name", "phones__number"]
    inlines = [StaffPhoneInline]
    actions = ["suspend_selected", "terminate_selected", "reactivate_selected"]

    # File import (registry.resources): into the carrier chosen in the form among the
    # user's carriers (access_carriers_for_user), never into one named by the file.
    resource_classes = [resources.StaffImportResource]
    import_formats = resources.IMPORT_FORMATS
    import_form_class = resources.StaffImportForm
    confirm_form_class = resources.StaffConfirmImportForm
    tmp_storage_class = resources.UPLOAD_STORAGE
    from_encoding = resources.FILE_ENCODING
    # A file of more than IMPORT_BACKGROUND_ROWS rows is not previewed row by row, and is
    # imported by a worker once confirmed (process_dataset): this page says so.
    import_template_name = "admin/registry/staffmember/import.html"

    def has_import_permission(self, request):
        return self.has_add_permission(request) and self.has_change_permission(request)

    def get_import_form_kwargs(self, request):
        kwargs = super().get_import_form_kwargs(request)
        return {**kwargs, "carriers": access_carriers_for_user(request.user)}

    def get_confirm_form_kwargs(self, request, import_form=None):
        kwargs = super().get_confirm_form_kwargs(request, import_form)
        return {**kwargs, "carriers": access_carriers_for_user(request.user)}

    def get_confirm_form_initial(self, request, import_form):
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial["carrier"] = import_form.cleaned_data["carrier"].pk
        return initial

    def get_import_resource_kwargs(self, request, **kwargs):
        # The carrier of a validated upload or confirmation form, whose choices were the
        # user's; None for the blank form, and the resource refuses to import without one.
        form = kwargs.get("form")
        return {
            "carrier": getattr(form, "cleaned_data", {}).get("carrier"),
            "preview_rows": settings.IMPORT_BACKGROUND_ROWS,
        }

    def get_import_context_data(self, **kwargs):
        context = super().get_import_context_data(**kwargs)
        return {**context, "background_rows": settings.IMPORT_BACKGROUND_ROWS}

    def process_dataset(self, dataset, form, request, **kwargs):
        if len(dataset) <= settings.IMPORT_BACKGROUND_ROWS:
            return super().process_dataset(dataset, form, request, **kwargs)
        # Too long to import within a request: the file is kept in a StaffImport row, which a
        # worker imports after commit through the same resource (services.staff_import_run).
        data = form.cleaned_data
        file_format = self.get_import_formats()[int(data["format"])]()
        return services.staff_import_create(
            carrier=data["carrier"],
            uploaded_by=request.user,
            file_name=data.get("original_file_name") or "",
            file_format=file_format.get_title(),
            content=self.get_tmp_storage_class()(name=data["import_file_name"]).read(),
            total_rows=len(dataset),
            language=translation.get_language(),
        )

    def process_result(self, result, request):
        if isinstance(result, StaffImport):
            self.message_user(
                request,
                _("The file is imported in the background: this page shows how far it got."),
                messages.SUCCESS,
            )
            return HttpResponseRedirect(
                reverse("admin:registry_staffimport_change", args=[result.pk])
            )
        if not (result.has_errors() or result.has_validation_errors()):
            return super().process_result(result, request)
        # The confirmation met an error the preview had not (the registry changed in
        # between) and the resource rolled it all back: say so, show why, offer the form.
        self.message_user(request, _("Nothing was imported."), messages.ERROR)
        form = self.get_import_form_class(request)(
            self.get_import_formats(),
            self.get_import_resource_classes(request),
            carriers=access_carriers_for_user(request.user),
        )
        resource = self.get_import_resource_classes(request)[0]()
        columns = [field.column_name for field in resource.get_user_visible_fields()]
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import"),
            "opts": self.opts,
            "form": form,
            "media": self.media + form.media,
            "result": result,
            "import_error_display": self.import_error_display,
            "fields_list": [(resource.get_display_name(), columns)],
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, [self.import_template_name], context)

    def get_readonly_fields(self, request, obj=None):
        # A code is the staff member's identity inside the carrier: changing it would be a
        # different person. Terminate and enrol anew instead.
        return ["employee_code", "carrier"] if obj else []

    def save_model(self, request, obj, form, change):
        if change and not form.has_changed():
            return  # only phones changed: no write, and no empty entry in the history
        staff, _created = services.staff_upsert(
            carrier=obj.carrier,
            employee_code=obj.employee_code,
            full_name=obj.full_name,
            status=obj.status,
            region=obj.region,
        )
        obj.pk = staff.pk

    def save_formset(self, request, form, formset, change):
        # Each row through its service instead of formset.save(); the three lists are what
        # Django's change message (the admin log) reads from a saved formset.
        staff = form.instance
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for phone_form in formset.forms:
            if not phone_form.has_changed():
                continue
            phone, data = phone_form.instance, phone_form.cleaned_data
            if phone.pk is None:
                phone = services.phone_add(
                    staff=staff,
                    number=data["number"],
                    valid_from=data.get("valid_from"),
                    valid_until=data.get("valid_until"),
                )
                formset.new_objects.append(phone)
                continue
            if data.get("revoke"):
                services.phone_revoke(phone=phone)
            else:
                services.phone_update(
                    phone=phone,
                    valid_from=data.get("valid_from"),
                    valid_until=data.get("valid_until"),
                )
            formset.changed_objects.append((phone, phone_form.changed_data))

    object_history_template = "admin/registry/staffmember/object_history.html"

    def history_view(self, request, object_id, extra_context=None):
        # For the operator a number added, revoked or re-dated is a change to this person's
        # registration, so the phones' own records are shown beside the staff member's.
        staff = self.get_object(request, unquote(object_id))
        context = {"phone_history": self._phone_history(staff), **(extra_context or {})}
        return super().history_view(request, object_id, context)

    @staticmethod
    def _phone_history(staff: StaffMember) -> list[tuple]:
        """(record, changes) for every phone record of `staff`, newest first; `changes` as
        django-simple-history's own history page formats them."""
        records = (
            StaffPhone.history.filter(staff_id=staff.pk)
            .select_related("history_user")
            .order_by("history_date", "history_id")
        )
        previous, rows = {}, []
        for record in records:
            changes = []
            if record.id in previous:
                delta = record.diff_against(
                    previous[record.id], included_fields=["status", "valid_from", "valid_until"]
                )
                helper = ChoiceLabelsContextHelper(StaffPhone, record)
                changes = helper.context_for_delta_changes(delta)
            previous[record.id] = record
            rows.append((record, changes))
        return rows[::-1]

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
        # Terminating revokes every phone at once and answers `revoked` to recipients from the
        # next lookup on: like a deletion, it asks first (Django's delete_selected pattern).
        if request.POST.get("confirm") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": _("Terminate these staff members?"),
                "opts": self.model._meta,
                "queryset": queryset.prefetch_related("phones"),
                "action": "terminate_selected",
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(
                request, "admin/registry/staffmember/terminate_confirmation.html", context
            )
        self._set_status(
            request, queryset, StaffMember.Status.TERMINATED, _("%(count)d terminated.")
        )

    @admin.action(description=_("Reactivate selected staff"), permissions=["change"])
    def reactivate_selected(self, request, queryset):
        self._set_status(request, queryset, StaffMember.Status.ACTIVE, _("%(count)d reactivated."))


@admin.register(StaffImport)
class StaffImportAdmin(ReadOnlyForOperators):
    """Staff files imported in the background: their progress while they run, then their
    report. Written by registry.services only; operators see their own carrier's."""

    list_display = ["created_at", "file_name", "carrier", "uploader", "status", "progress"]
    list_filter = ["status"]
    fields = [
        "carrier",
        "file_name",
        "uploader",
        "status",
        "progress",
        "created_at",
        "started_at",
        "finished_at",
        "error",
        "report_table",
    ]
    readonly_fields = fields
    refresh_seconds = 3  # of the page of an import not finished yet
    ROW_RESULTS = {"new": _("New"), "update": _("Updated"), "invalid": _("Error")}

    def get_queryset(self, request):
        imports = super().get_queryset(request).select_related("carrier", "uploaded_by")
        return access_scope(imports.defer("content"), request.user)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        staff_import = self.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        if not staff_import.finished:
            context["refresh_seconds"] = self.refresh_seconds
        return super().change_view(request, object_id, form_url, context)

    @admin.display(description=_("uploaded by"))
    def uploader(self, staff_import):
        return staff_import.uploaded_by or "—"  # text: an operator may not open user pages

    @admin.display(description=_("progress"))
    def progress(self, staff_import):
        text = _("%(processed)d / %(total)d rows") % {
            "processed": selectors.staff_import_progress(staff_import),
            "total": staff_import.total_rows,
        }
        if staff_import.finished:
            return text
        return format_html('{} <a href="">{}</a>', text, _("Reload"))

    @admin.display(description=_("report"))
    def report_table(self, staff_import):
        if not staff_import.finished:
            return _("The report is written when the import is finished.")
        report = staff_import.report or {}
        totals = report.get("totals", {})
        summary = _("%(new)d new, %(update)d updated, %(skip)d empty rows skipped.") % {
            key: totals.get(key, 0) for key in ("new", "update", "skip")
        }
        rows = [
            {
                "row": row["row"],
                "employee_code": row["employee_code"],
                "result": self.ROW_RESULTS.get(row["result"], _("Error")),
                "errors": [
                    ("" if field == NON_FIELD_ERRORS else field, message)
                    for field, messages in row.get("errors", {}).items()
                    for message in messages
                ],
            }
            for row in report.get("rows", [])
        ]
        return render_to_string(
            "admin/registry/staffimport/report_table.html",
            {
                "summary": summary
                if staff_import.status == StaffImport.Status.DONE
                else staff_import.error,
                "file_errors": report.get("errors", []),
                "rows": rows,
            },
        )


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
    recipient_phone = PhoneFormField(
        label=_("Recipient phone"),
        required=False,
        help_text=_("Stored only as a keyed digest; it cannot be shown again."),
    )

    class Meta:
        model = DeliveryAssignment
        fields = ["carrier", "tracking_code", "staff", "window_start", "window_end", "status"]


class LabelForm(forms.Form):
    """The recipient's data for one label: drawn into the PDF or ZPL and dropped, never
    saved (no model behind this form, nothing written but what the API writes)."""

    recipient_name = forms.CharField(
        label=_("Recipient's name"),
        max_length=200,
        help_text=_("Printed as initials only."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    recipient_phone = PhoneFormField(
        label=_("Recipient phone"),
        max_length=phones.MAX_INPUT_LENGTH,
        help_text=_("Printed with its last three digits only; it must be the parcel's recipient."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "tel"}),
    )
    address = forms.CharField(
        label=_("Address"),
        help_text=_("1 to 4 lines of at most 80 characters, printed as written."),
        widget=forms.Textarea(attrs={"rows": 4, "autocomplete": "off"}),
    )
    cod_amount = forms.IntegerField(label=_("Cash on delivery (VND)"), min_value=0, required=False)
    format = forms.ChoiceField(
        label=_("Format"),
        choices=[("pdf", _("PDF, 100 x 150 mm")), ("zpl", _("ZPL, for Zebra printers"))],
        initial="pdf",
    )

    # Where the API serializer's errors show (the tracking code's: above the form).
    API_FIELDS = {
        "recipient_name": "recipient_name",
        "recipient_phone": "recipient_phone",
        "address_lines": "address",
        "cod_amount": "cod_amount",
        "format": "format",
    }

    def api_body(self, tracking_code: str) -> dict:
        data = self.cleaned_data
        body = {
            "tracking_code": tracking_code,
            "recipient_name": data["recipient_name"],
            "recipient_phone": data["recipient_phone"],
            "address_lines": [line for line in data["address"].splitlines() if line.strip()],
            "format": data["format"],
        }
        if data.get("cod_amount") is not None:
            body["cod_amount"] = data["cod_amount"]
        return body


@admin.register(DeliveryAssignment)
class DeliveryAssignmentAdmin(CarrierScopedLogAdmin):
    form = AssignmentForm
    list_display = ["tracking_code", "staff", "status", "window_start", "window_end", "carrier"]
    list_filter = ["status"]
    search_fields = ["tracking_code", "staff__employee_code"]

    def get_readonly_fields(self, request, obj=None):
        return ["tracking_code", "carrier", "parcel_page"] if obj else []

    @admin.display(description=_("parcel page"))
    def parcel_page(self, assignment):
        label_url = reverse("admin:registry_deliveryassignment_label", args=[assignment.pk])
        if not assignment.parcel_token:
            return format_html(
                '{} <a href="{}">{}</a>',
                _("Given with its first label."),
                label_url,
                _("Print a label"),
            )
        page_url = reverse("parcel", args=[assignment.parcel_token])
        return format_html(
            '<a href="{}" id="parcel-page-link">{}</a> · <a href="{}">{}</a>',
            page_url,
            page_url,
            label_url,
            _("Print a label"),
        )

    def get_urls(self):
        return [
            path(
                "<path:object_id>/label/",
                self.admin_site.admin_view(self.label_view),
                name="registry_deliveryassignment_label",
            ),
            *super().get_urls(),
        ]

    def label_view(self, request, object_id):
        """Print a label of one of the operator's parcels: the recipient's data is typed here,
        checked and drawn by the API's own code (registry.api.label_response), never saved."""
        assignment = self.get_object(request, unquote(object_id))  # 404 outside the scope
        if not self.has_change_permission(request, assignment):
            raise PermissionDenied
        form = LabelForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = LabelIn(data=form.api_body(assignment.tracking_code))
            if data.is_valid():
                try:
                    return label_response(
                        request, carrier=assignment.carrier, data=data.validated_data
                    )
                except services.RegistryError as exc:
                    form.add_error(
                        "recipient_phone" if exc.code == "recipient_mismatch" else None,
                        exc.message,
                    )
            else:
                for field, errors in data.errors.items():
                    if isinstance(errors, dict):  # address_lines: {line index: [messages]}
                        errors = [message for line in errors.values() for message in line]
                    form.add_error(form.API_FIELDS.get(field), [str(error) for error in errors])
        parcel_url = (
            request.build_absolute_uri(reverse("parcel", args=[assignment.parcel_token]))
            if assignment.parcel_token
            else ""
        )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Print a label for %(code)s") % {"code": assignment.tracking_code},
            "opts": self.opts,
            "original": assignment,
            "form": form,
            "parcel_url": parcel_url,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/registry/deliveryassignment/label.html", context)

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
class CarrierOperatorAdmin(SuperuserScopedAdmin):
    list_display = ["user", "carrier"]
    autocomplete_fields = ["user"]
    deletable = True

    def save_model(self, request, obj, form, change):
        operator = services.operator_assign(user=obj.user, carrier=obj.carrier)
        obj.pk = operator.pk


@admin.register(ClientAPIKey)
class ClientAPIKeyAdmin(SuperuserScopedAdmin, APIKeyModelAdmin):
    list_display = [*APIKeyModelAdmin.list_display, "carrier", "rate_limit"]
    list_filter = ["carrier", "revoked"]
    # Not deletable: revoke instead, a revoked key keeps its row, its name and its history.

    def save_model(self, request, obj, form, change):
        if not change:
            return super().save_model(request, obj, form, change)  # shows the new key once
        services.api_key_update(
            api_key=obj,
            name=obj.name,
            expiry_date=obj.expiry_date,
            revoked=obj.revoked,
            rate_limit=obj.rate_limit,
        )
