"""Moderation of scam reports, the warnings page, and what carriers see of impersonation:
alerts and webhook deliveries. Operators see only what concerns their carrier."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from registry.access import (
    access_can_use_registry_admin,
    access_is_superuser,
    access_scope,
    access_scope_reports,
)
from registry.admin_base import HistoryNeedsPermission, ReadOnlyForOperators, SuperuserOnlyAdmin

from . import services
from .models import ImpersonationAlert, NumberClearance, ScamReport, ScamWarning, WebhookDelivery


@admin.register(ScamReport)
class ScamReportAdmin(ReadOnlyForOperators):
    list_display = [
        "number",
        "claimed_carrier",
        "channel",
        "status",
        "reviewed_at",
        "created_at",
        "short_description",
    ]
    list_filter = ["status", "channel", ("reviewed_at", admin.EmptyFieldListFilter)]
    search_fields = ["number"]
    readonly_fields = [
        "number",
        "claimed_carrier",
        "channel",
        "description",
        "status",
        "reviewed_at",
        "created_at",
    ]
    exclude = ["reporter"]
    actions = ["reject_as_spam", "mark_reviewed"]

    def get_queryset(self, request):
        return access_scope_reports(super().get_queryset(request), request.user)

    @admin.display(description=_("description"))
    def short_description(self, report):
        # Plain text: the admin escapes it, so HTML or a script in a report stays inert.
        return report.description[:80]

    def has_reject_permission(self, request):
        return access_is_superuser(request.user)

    def has_review_permission(self, request):
        return access_can_use_registry_admin(request.user)

    @admin.action(description=_("Reject selected reports as spam"), permissions=["reject"])
    def reject_as_spam(self, request, queryset):
        for report in queryset:
            services.report_reject(report=report)
        self.message_user(request, _("Reports rejected."), messages.SUCCESS)

    @admin.action(description=_("Mark selected reports reviewed"), permissions=["review"])
    def mark_reviewed(self, request, queryset):
        for report in queryset:
            services.report_mark_reviewed(report=report)
        self.message_user(request, _("Reports marked reviewed."), messages.SUCCESS)


class SuperuserOnly(SuperuserOnlyAdmin, HistoryNeedsPermission, admin.ModelAdmin):
    """Clearances and warnings change what the public is told: registry operators only."""


@admin.register(NumberClearance)
class NumberClearanceAdmin(SuperuserOnly):
    list_display = ["number", "cleared_by", "cleared_at", "reason"]
    search_fields = ["number"]
    fields = ["number", "reason"]

    def get_readonly_fields(self, request, obj=None):
        return ["number", "reason"] if obj else []

    def save_model(self, request, obj, form, change):
        clearance = services.number_clear(number=obj.number, reason=obj.reason, user=request.user)
        obj.pk = clearance.pk


@admin.register(ScamWarning)
class ScamWarningAdmin(SuperuserOnly):
    list_display = ["title_vi", "title_en", "position", "is_published"]
    list_editable = ["position", "is_published"]

    deletable = True


@admin.register(ImpersonationAlert)
class ImpersonationAlertAdmin(ReadOnlyForOperators):
    list_display = [
        "number",
        "kind",
        "carrier",
        "other_carrier",
        "day",
        "hour",
        "source_label",
        "lookups",
        "reports",
        "first_source",
        "last_seen",
    ]
    list_filter = ["kind", "day", "first_source"]
    search_fields = ["number"]

    def get_queryset(self, request):
        return access_scope(super().get_queryset(request), request.user)

    def get_list_filter(self, request):
        if access_is_superuser(request.user):
            return ["carrier", *self.list_filter]
        return self.list_filter


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyForOperators):
    list_display = [
        "event_id",
        "alert",
        "status",
        "attempts",
        "last_error",
        "created_at",
        "delivered_at",
    ]
    list_filter = ["status"]
    readonly_fields = [
        "event_id",
        "alert",
        "url",
        "payload",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "created_at",
        "delivered_at",
    ]
    actions = ["send_again"]

    def get_queryset(self, request):
        return access_scope(super().get_queryset(request), request.user, "alert__carrier")

    def has_send_permission(self, request):
        return access_can_use_registry_admin(request.user)

    @admin.action(description=_("Send failed deliveries again"), permissions=["send"])
    def send_again(self, request, queryset):
        for delivery in queryset.filter(status=WebhookDelivery.Status.FAILED):
            services.webhook_retry(delivery=delivery)
        self.message_user(request, _("Deliveries queued again."), messages.SUCCESS)
