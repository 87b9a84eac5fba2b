import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from rest_framework_api_key.models import AbstractAPIKey
from simple_history.models import HistoricalRecords

from core.rates import parse_rate


def validate_rate(value: str) -> None:
    try:
        parse_rate(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


class Carrier(models.Model):
    slug = models.SlugField(_("slug"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=200)
    is_active = models.BooleanField(_("active"), default=True)
    webhook_url = models.URLField(
        _("webhook URL"),
        blank=True,
        help_text=_("Impersonation alerts are POSTed here as signed JSON events."),
    )
    webhook_secret = models.CharField(
        _("webhook secret"),
        max_length=128,
        blank=True,
        help_text=_("Key of the HMAC-SHA256 signature in the X-Registry-Signature header."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("carrier")
        verbose_name_plural = _("carriers")

    def __str__(self) -> str:
        return self.name


class OfficialChannel(models.Model):
    """A way the public can reach the carrier for sure: a hotline, a website, an app…"""

    class Kind(models.TextChoices):
        HOTLINE = "hotline", _("Hotline")
        WEBSITE = "website", _("Website")
        APP = "app", _("Mobile app")
        CHAT = "chat", _("Chat account")
        EMAIL = "email", _("Email")

    carrier = models.ForeignKey(
        Carrier, verbose_name=_("carrier"), on_delete=models.CASCADE, related_name="channels"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    # For a hotline: the number in E.164. For other kinds: the address as published.
    value = models.CharField(_("value"), max_length=300)
    label = models.CharField(_("label"), max_length=100, blank=True)

    class Meta:
        ordering = ["carrier", "kind", "id"]
        verbose_name = _("official channel")
        verbose_name_plural = _("official channels")
        constraints = [
            models.UniqueConstraint(
                fields=["carrier", "kind", "value"], name="channel_unique_per_carrier"
            ),
        ]
        indexes = [models.Index(fields=["kind", "value"], name="channel_kind_value")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.value}"


class StaffMember(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        TERMINATED = "terminated", _("Terminated")

    carrier = models.ForeignKey(
        Carrier, verbose_name=_("carrier"), on_delete=models.PROTECT, related_name="staff"
    )
    employee_code = models.CharField(_("employee code"), max_length=64)
    full_name = models.CharField(_("full name"), max_length=200)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    region = models.CharField(_("region"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["carrier", "employee_code"]
        verbose_name = _("staff member")
        verbose_name_plural = _("staff members")
        constraints = [
            models.UniqueConstraint(
                fields=["carrier", "employee_code"], name="staff_code_unique_per_carrier"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "suspended", "terminated"]),
                name="staff_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.employee_code} — {self.full_name}"


class StaffPhone(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        REVOKED = "revoked", _("Revoked")

    staff = models.ForeignKey(
        StaffMember, verbose_name=_("staff member"), on_delete=models.CASCADE, related_name="phones"
    )
    # Copied from the staff member so that the database itself can hold "at most one active
    # registration of a number per carrier"; the services keep it equal to staff.carrier.
    carrier = models.ForeignKey(
        Carrier, verbose_name=_("carrier"), on_delete=models.PROTECT, related_name="+"
    )
    number = models.CharField(_("number (E.164)"), max_length=16, db_index=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["number"]
        verbose_name = _("staff phone")
        verbose_name_plural = _("staff phones")
        constraints = [
            models.UniqueConstraint(
                fields=["carrier", "number"],
                condition=Q(status="active"),
                name="phone_active_once_per_carrier",
            ),
            models.CheckConstraint(
                condition=Q(number__regex=r"^\+[1-9][0-9]{6,14}$"), name="phone_is_e164"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "revoked"]), name="phone_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_until__gte=F("valid_from")),
                name="phone_validity_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.number


PARCEL_TOKEN_BYTES = 20


def new_parcel_token() -> str:
    """The parcel page's token: 160 random bits, URL-safe (27 characters)."""
    return secrets.token_urlsafe(PARCEL_TOKEN_BYTES)


class DeliveryAssignment(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        OUT_FOR_DELIVERY = "out_for_delivery", _("Out for delivery")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    # A parcel still to be delivered: the only kind an assignment proves anything about.
    OPEN_STATUSES = (Status.PENDING, Status.OUT_FOR_DELIVERY)

    carrier = models.ForeignKey(
        Carrier, verbose_name=_("carrier"), on_delete=models.PROTECT, related_name="assignments"
    )
    tracking_code = models.CharField(_("tracking code"), max_length=64)
    staff = models.ForeignKey(
        StaffMember,
        verbose_name=_("staff member"),
        on_delete=models.PROTECT,
        related_name="assignments",
    )
    # HMAC-SHA256 of the recipient's E.164 number (registry.pii); never the number itself.
    recipient_digest = models.CharField(_("recipient digest"), max_length=64, blank=True)
    window_start = models.DateTimeField(_("window start"), null=True, blank=True)
    window_end = models.DateTimeField(_("window end"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING
    )
    # The parcel page's address (/p/<token>/), printed as a QR code on the label: the same
    # on every reprint, gone with the row. A plain index, not UNIQUE: the table is to be
    # partitioned by creation day in PostgreSQL, where a unique constraint must include the
    # partition key; 160 random bits make a collision as likely as guessing a token.
    # Rows older than the column are given one when their first label is printed
    # (services.parcel_token_ensure): "" is no token and matches no page. Indexed in Meta:
    # db_index would add a second, varchar_pattern_ops index for LIKE queries that nothing
    # makes, as large as the first (75 MB per million rows, bench/scale.py).
    parcel_token = models.CharField(
        _("parcel page token"),
        max_length=32,
        blank=True,
        default=new_parcel_token,
        editable=False,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("delivery assignment")
        verbose_name_plural = _("delivery assignments")
        indexes = [models.Index(fields=["parcel_token"], name="assignment_parcel_token")]
        constraints = [
            models.UniqueConstraint(
                fields=["carrier", "tracking_code"], name="tracking_code_unique_per_carrier"
            ),
            models.CheckConstraint(
                condition=Q(window_start__isnull=True)
                | Q(window_end__isnull=True)
                | Q(window_end__gte=F("window_start")),
                name="assignment_window_ordered",
            ),
            models.CheckConstraint(
                condition=Q(recipient_digest="") | Q(recipient_digest__regex=r"^[0-9a-f]{64}$"),
                name="assignment_digest_is_hex",
            ),
        ]

    def __str__(self) -> str:
        return self.tracking_code


class OpenParcel(models.Model):
    """A parcel still to be delivered (DeliveryAssignment.OPEN_STATUSES) and who delivers
    it: one row per open assignment, in a plain table beside the day-partitioned one, so
    that a verification finds a staff member's open parcels with one index probe instead of
    one per day partition (105 of them). Written only by the services that write
    assignments (registry.services), in the same transaction: created or moved with an
    open assignment, removed when it closes or its day is purged."""

    # No index of its own: the unique (carrier, tracking code) leads with it.
    carrier = models.ForeignKey(
        Carrier,
        verbose_name=_("carrier"),
        on_delete=models.PROTECT,
        db_index=False,
        related_name="+",
    )
    tracking_code = models.CharField(_("tracking code"), max_length=64)
    staff = models.ForeignKey(
        StaffMember, verbose_name=_("staff member"), on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("open parcel")
        verbose_name_plural = _("open parcels")
        constraints = [
            models.UniqueConstraint(
                fields=["carrier", "tracking_code"], name="open_parcel_unique_per_carrier"
            ),
        ]

    def __str__(self) -> str:
        return self.tracking_code


class CarrierOperator(models.Model):
    """An admin user who works for one carrier and manages only that carrier's records."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="carrier_operator",
    )
    carrier = models.ForeignKey(
        Carrier, verbose_name=_("carrier"), on_delete=models.CASCADE, related_name="operators"
    )

    class Meta:
        verbose_name = _("carrier operator")
        verbose_name_plural = _("carrier operators")

    def __str__(self) -> str:
        return f"{self.user} @ {self.carrier}"


class ClientAPIKey(AbstractAPIKey):
    """A key for the API: bound to a carrier (may use the carrier API) or a partner's."""

    # The library's own fields, renamed so the admin can say them in Vietnamese.
    prefix = models.CharField(_("prefix"), max_length=8, unique=True, editable=False)
    created = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    name = models.CharField(
        _("name"),
        max_length=50,
        blank=False,
        default=None,
        help_text=_("A free-form name for the API key. Need not be unique. 50 characters max."),
    )
    revoked = models.BooleanField(
        _("revoked"),
        blank=True,
        default=False,
        help_text=_(
            "If the API key is revoked, clients cannot use it anymore. (This cannot be undone.)"
        ),
    )
    carrier = models.ForeignKey(
        Carrier,
        verbose_name=_("carrier"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="api_keys",
        help_text=_("Set for a carrier's own systems; empty for a partner app."),
    )
    rate_limit = models.CharField(
        _("rate limit"),
        max_length=20,
        blank=True,
        validators=[validate_rate],
        help_text=_("Like 600/min. Empty: the default API_RATE_LIMIT."),
    )

    class Meta(AbstractAPIKey.Meta):
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")


class StaffImport(models.Model):
    """A staff file too long to import inside a request (more than IMPORT_BACKGROUND_ROWS
    rows). The row is the task's input: registry.tasks imports it after the commit that
    wrote it, and a periodic sweep re-enqueues imports whose task was lost."""

    class Status(models.TextChoices):
        # In a context of their own: "Pending" and "Failed" of a delivery say something else.
        PENDING = "pending", pgettext_lazy("staff import", "Pending")
        RUNNING = "running", pgettext_lazy("staff import", "Running")
        DONE = "done", pgettext_lazy("staff import", "Done")
        FAILED = "failed", pgettext_lazy("staff import", "Failed")

    carrier = models.ForeignKey(
        Carrier, on_delete=models.CASCADE, related_name="staff_imports", verbose_name=_("carrier")
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    file_name = models.CharField(_("file name"), max_length=255, blank=True)
    file_format = models.CharField(_("format"), max_length=8)  # a format title: csv, xlsx
    # The file as uploaded, until it is imported (or fails): then emptied, as the staff
    # members it lists are in the registry itself, or nowhere.
    content = models.BinaryField(_("content"), blank=True)
    # The uploader's language, for the messages of the report the worker writes.
    language = models.CharField(_("language"), max_length=10, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    rows_processed = models.PositiveIntegerField(_("rows processed"), default=0)
    report = models.JSONField(_("report"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("staff import")
        verbose_name_plural = _("staff imports")
        indexes = [models.Index(fields=["status", "created_at"], name="staff_import_status")]

    def __str__(self) -> str:
        return self.file_name or f"#{self.pk}"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
