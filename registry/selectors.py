"""Reads of the registry that more than one caller needs."""

from django.db.models import Q, QuerySet
from django.utils import timezone

from .models import Carrier, StaffMember, StaffPhone


def staff_get(*, carrier: Carrier, employee_code: str) -> StaffMember | None:
    """The staff member with this code *inside* `carrier`: another carrier's staff with the
    same code is never found."""
    return StaffMember.objects.filter(carrier=carrier, employee_code=employee_code).first()


def phones_active_now() -> QuerySet[StaffPhone]:
    """Active phones of active staff of active carriers, inside their validity dates."""
    today = timezone.localdate()
    return StaffPhone.objects.filter(
        Q(valid_from__isnull=True) | Q(valid_from__lte=today),
        Q(valid_until__isnull=True) | Q(valid_until__gte=today),
        status=StaffPhone.Status.ACTIVE,
        staff__status=StaffMember.Status.ACTIVE,
        carrier__is_active=True,
    )
