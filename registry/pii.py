"""Recipient phone numbers exist in this system only as HMAC digests (DESIGN.md, privacy)."""

import hashlib
import hmac

from django.conf import settings


def recipient_digest(e164: str) -> str:
    """HMAC-SHA256(key = PII_HMAC_KEY, message = the E.164 number), hex."""
    return hmac.new(settings.PII_HMAC_KEY.encode(), e164.encode(), hashlib.sha256).hexdigest()
