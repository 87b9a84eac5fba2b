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
