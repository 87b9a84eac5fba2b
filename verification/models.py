import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from registry.models import Carrier, StaffMember


class CallIntent(models.Model):
    """A shipper's app saying "this staff phone is calling this recipient now"; it backs the
    `calling_now` answer and expires after CALL_INTENT_TTL_SECONDS."""

    carrier = models.ForeignKey(
        Carrier, verbose_name=_("carrier"), on_delete=models.CASCADE, related_name="+"
    )
    staff = models.ForeignKey(
        StaffMember,
        verbose_name=_("staff member"),
        on_delete=models.CASCADE,
        related_name="call_intents",
    )
    phone = models.CharField(_("staff phone (E.164)"), max_length=16)
    # HMAC-SHA256 of the recipient's E.164 number (registry.pii).
    recipient_digest = models.CharField(_("recipient digest"), max_length=64)
    tracking_code = models.CharField(_("tracking code"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"), db_index=True)

    class Meta:
        verbose_name = _("call intent")
        verbose_name_plural = _("call intents")
        indexes = [
            models.Index(fields=["phone", "recipient_digest", "expires_at"], name="intent_lookup"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(recipient_digest__regex=r"^[0-9a-f]{64}$"),
                name="intent_digest_is_hex",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.phone} until {self.expires_at:%H:%M}"


class ScamReport(models.Model):
    """A recipient's report that a number called pretending to be a shipper. Counted per
    distinct reporter, so one person cannot make a number `reported`."""

    class Channel(models.TextChoices):
        CALL = "call", _("Phone call")
        SMS = "sms", _("SMS")
        CHAT = "chat", _("Chat message")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        REJECTED = "rejected", _("Rejected as spam")

    number = models.CharField(_("number (E.164)"), max_length=16, db_index=True)
    claimed_carrier = models.ForeignKey(
        Carrier,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("carrier the caller claimed"),
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices, default="call")
    description = models.TextField(_("description"), max_length=1000, blank=True)
    # HMAC of "ip:<client IP>" for the web, "key:<api key id>" for partners: distinct
    # reporters are counted without storing who they are.
    reporter = models.CharField(_("reporter (digest)"), max_length=64)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default="open")
    # A report on a registered staff number is a possible spoofing case for that carrier,
    # which marks it reviewed once looked into.
    reviewed_at = models.DateTimeField(_("reviewed by the carrier at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("scam report")
        verbose_name_plural = _("scam reports")
        indexes = [models.Index(fields=["number", "status", "reporter"], name="report_count")]

    def __str__(self) -> str:
        return self.number


class NumberClearance(models.Model):
    """A superuser's decision that a number was wrongly reported: reports up to this moment
    no longer count. The reason is kept."""

    number = models.CharField(_("number (E.164)"), max_length=16, db_index=True)
    reason = models.TextField(_("reason"), max_length=1000)
    cleared_by = models.ForeignKey(
        "auth.User", on_delete=models.PROTECT, related_name="+", verbose_name=_("cleared by")
    )
    cleared_at = models.DateTimeField(_("cleared at"), auto_now_add=True)

    class Meta:
        ordering = ["-cleared_at"]
        verbose_name = _("number clearance")
        verbose_name_plural = _("number clearances")

    def __str__(self) -> str:
        return self.number


class ScamWarning(models.Model):
    """A scam pattern recipients meet, shown on the warnings page in both languages."""

    title_vi = models.CharField(_("title (Vietnamese)"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=200)
    body_vi = models.TextField(_("text (Vietnamese)"), max_length=3000)
    body_en = models.TextField(_("text (English)"), max_length=3000)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    is_published = models.BooleanField(_("published"), default=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("scam warning")
        verbose_name_plural = _("scam warnings")

    def __str__(self) -> str:
        return self.title_en


class ImpersonationAlert(models.Model):
    """What a carrier must know about its numbers.

    `impersonation`: someone said a caller claimed this carrier, from a number that is not
    the carrier's. One row per carrier and number and day: a campaign of a thousand calls is
    one alert that counts a thousand, not a thousand webhooks.
    `shared_number`: another carrier (`other_carrier`) registered one of this carrier's
    active staff numbers as its own staff phone. One row per number and pair of carriers.
    `impersonation_digest`: the impersonation alerts of one source (an API key or a client
    address) past IMPERSONATION_ALERTS_PER_SOURCE_HOUR in one hour, counted here without a
    number and sent as one webhook once the hour is over. One row per carrier, hour and
    source."""

    class Kind(models.TextChoices):
        IMPERSONATION = "impersonation", _("Impersonation")
        SHARED_NUMBER = "shared_number", _("Number shared with another carrier")
        DIGEST = "impersonation_digest", _("Impersonations past the hourly cap of one source")

    class Source(models.TextChoices):
        LOOKUP = "lookup", _("Lookup")
        REPORT = "report", _("Scam report")
        REGISTRATION = "registration", _("Registration by another carrier")

    kind = models.CharField(
        _("kind"), max_length=20, choices=Kind.choices, default=Kind.IMPERSONATION
    )
    carrier = models.ForeignKey(
        Carrier, verbose_name=_("carrier"), on_delete=models.CASCADE, related_name="alerts"
    )
    other_carrier = models.ForeignKey(
        Carrier,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("registered also by"),
    )
    number = models.CharField(_("number (E.164)"), max_length=16, blank=True)
    day = models.DateField(_("day"))
    # A digest's hour (its start), and its source: a keyed digest of the key or address,
    # and what the carrier may be told of it (a key's prefix, never an address).
    hour = models.DateTimeField(_("hour"), null=True, blank=True)
    source = models.CharField(_("source (digest)"), max_length=64, blank=True)
    source_label = models.CharField(_("source"), max_length=80, blank=True)
    first_source = models.CharField(_("first source"), max_length=12, choices=Source.choices)
    lookups = models.PositiveIntegerField(_("lookups"), default=0)
    reports = models.PositiveIntegerField(_("reports"), default=0)
    first_seen = models.DateTimeField(_("first seen"), auto_now_add=True)
    last_seen = models.DateTimeField(_("last seen"), auto_now=True)

    class Meta:
        ordering = ["-last_seen"]
        verbose_name = _("impersonation alert")
        verbose_name_plural = _("impersonation alerts")
        constraints = [
            models.UniqueConstraint(
                fields=["carrier", "number", "day"],
                condition=models.Q(kind="impersonation"),
                name="alert_once_per_day",
            ),
            models.UniqueConstraint(
                fields=["carrier", "number", "other_carrier"],
                condition=models.Q(kind="shared_number"),
                name="shared_number_alert_once_per_pair",
            ),
            models.UniqueConstraint(
                fields=["carrier", "hour", "source"],
                condition=models.Q(kind="impersonation_digest"),
                name="digest_once_per_source_hour",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number or self.source_label} → {self.carrier}"


class WebhookDelivery(models.Model):
    """One event to POST to a carrier's webhook. The row is the task's input: a Celery task
    takes its id after commit, and a periodic sweep re-enqueues rows still pending."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    event_id = models.UUIDField(_("event id"), unique=True, default=uuid.uuid4, editable=False)
    alert = models.ForeignKey(
        ImpersonationAlert,
        verbose_name=_("alert"),
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    url = models.URLField(_("URL"))
    payload = models.JSONField(_("payload"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default="pending")
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    # When the next attempt is due: now for a new delivery, after its backoff for one that
    # failed. The sweep re-sends only what is overdue, never one waiting out its backoff.
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        indexes = [
            models.Index(fields=["status", "created_at"], name="delivery_pending"),
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
        ]

    def __str__(self) -> str:
        return str(self.event_id)


class DailyLookupStat(models.Model):
    """Lookups per carrier, day and outcome, rolled up from the counters the lookup path
    increments in the cache (no row is written per lookup)."""

    class Outcome(models.TextChoices):
        STAFF = "staff", _("Lookups of staff numbers")
        IMPERSONATION = "impersonation", _("Claimed by a caller with another number")
        PARCEL_PAGE = "parcel_page", _("Parcel page visits")

    carrier = models.ForeignKey(
        Carrier, verbose_name=_("carrier"), on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField(_("day"))
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    count = models.PositiveIntegerField(_("count"), default=0)

    class Meta:
        verbose_name = _("daily lookup count")
        verbose_name_plural = _("daily lookup counts")
        constraints = [
            models.UniqueConstraint(fields=["carrier", "day", "outcome"], name="stat_once_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.carrier_id} {self.day} {self.outcome}: {self.count}"
