from django.db import models
from django.utils.translation import gettext_lazy as _

from registry.models import Carrier, StaffMember


class CallIntent(models.Model):
    """A shipper's app saying "this staff phone is calling this recipient now"; it backs the
    `calling_now` answer and expires after CALL_INTENT_TTL_SECONDS."""

    carrier = models.ForeignKey(Carrier, on_delete=models.CASCADE, related_name="+")
    staff = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="call_intents")
    phone = models.CharField(_("staff phone (E.164)"), max_length=16)
    # HMAC-SHA256 of the recipient's E.164 number (registry.pii).
    recipient_digest = models.CharField(_("recipient digest"), max_length=64)
    tracking_code = models.CharField(_("tracking code"), max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
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
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("scam report")
        verbose_name_plural = _("scam reports")
        indexes = [models.Index(fields=["number", "status", "reporter"], name="report_count")]

    def __str__(self) -> str:
        return self.number
