"""What the public asks: the verdict rules live here, and only here."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from registry import phones, selectors
from registry.models import Carrier
from registry.pii import recipient_digest
from registry.services import RegistryError

from .models import CallIntent


def call_intent_create(
    *,
    carrier: Carrier,
    employee_code: str,
    phone: str,
    recipient_phone: str,
    tracking_code: str = "",
) -> CallIntent:
    """Record that a staff phone of `carrier` is calling a recipient now. Only an active
    phone of an active staff member of that carrier is accepted."""
    staff_phone = phones.normalize(phone)
    recipient = phones.normalize(recipient_phone)
    staff = selectors.staff_get(carrier=carrier, employee_code=employee_code)
    if (
        staff is None
        or not selectors.phones_active_now().filter(staff=staff, number=staff_phone).exists()
    ):
        raise RegistryError(
            "phone_not_registered",
            _("This phone is not an active phone of an active staff member of this carrier."),
        )
    now = timezone.now()
    return CallIntent.objects.create(
        carrier=carrier,
        staff=staff,
        phone=staff_phone,
        recipient_digest=recipient_digest(recipient),
        tracking_code=tracking_code,
        expires_at=now + timedelta(seconds=settings.CALL_INTENT_TTL_SECONDS),
    )
