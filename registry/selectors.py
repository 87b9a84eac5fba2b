"""Reads of the registry that more than one caller needs."""

import logging
from datetime import date, datetime

from django.core.cache import cache
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from .models import Carrier, OfficialChannel, StaffImport, StaffMember, StaffPhone

logger = logging.getLogger(__name__)


def staff_get(*, carrier: Carrier, employee_code: str) -> StaffMember | None:
    """The staff member with this code *inside* `carrier`: another carrier's staff with the
    same code is never found."""
    return StaffMember.objects.filter(carrier=carrier, employee_code=employee_code).first()


def phones_active_now(today: date | None = None) -> QuerySet[StaffPhone]:
    """Active phones of active staff of active carriers, inside their validity dates."""
    today = today or timezone.localdate()
    return StaffPhone.objects.filter(
        Q(valid_from__isnull=True) | Q(valid_from__lte=today),
        Q(valid_until__isnull=True) | Q(valid_until__gte=today),
        status=StaffPhone.Status.ACTIVE,
        staff__status=StaffMember.Status.ACTIVE,
        carrier__is_active=True,
    )


def staff_import_progress_key(import_id: int) -> str:
    return f"staff-import:{import_id}:progress"


def _progress_entry(import_id: int) -> dict | None:
    try:
        return cache.get(staff_import_progress_key(import_id))
    except Exception:  # noqa: BLE001  progress is shown on a best-effort basis
        logger.warning("cache unavailable: progress of staff import %s unknown", import_id)
        return None


def staff_import_progress(staff_import: StaffImport) -> int:
    """Rows of the file gone through so far. While the import runs, its rows are written in
    one transaction that nobody else sees until it commits, the import's own row included:
    the worker counts in the cache instead (services.staff_import_run)."""
    if staff_import.status != StaffImport.Status.RUNNING:
        return staff_import.rows_processed
    entry = _progress_entry(staff_import.pk)
    return entry["processed"] if entry else staff_import.rows_processed


def staff_imports_stalled(*, since: datetime) -> list[int]:
    """Imports whose task seems lost: pending since before `since`, or running without a
    word of progress since then (the worker died). A false alarm costs one task that finds
    the import locked by the worker still running it, and does nothing."""
    pending = StaffImport.objects.filter(status=StaffImport.Status.PENDING, created_at__lt=since)
    stalled = list(pending.values_list("pk", flat=True)[:1000])
    running = StaffImport.objects.filter(status=StaffImport.Status.RUNNING, started_at__lt=since)
    for import_id in running.values_list("pk", flat=True)[:1000]:
        entry = _progress_entry(import_id)
        if entry is None or entry["at"] < since.timestamp():
            stalled.append(import_id)
    return stalled


def hotlines_of_several_carriers() -> dict[str, list[str]]:
    """{hotline: [carrier slugs]} for hotlines held by more than one carrier: rows written
    before a hotline belonged to one carrier only (services._refuse_as_hotline)."""
    hotlines = OfficialChannel.objects.filter(kind=OfficialChannel.Kind.HOTLINE)
    shared = (
        hotlines.values("value")
        .annotate(carriers=Count("carrier", distinct=True))
        .filter(carriers__gt=1)
        .values_list("value", flat=True)
    )
    return _slugs_by_number(hotlines.filter(value__in=list(shared)), "value")


def hotlines_that_are_staff_phones() -> dict[str, dict[str, list[str]]]:
    """{number: {"hotline_of": [slugs], "staff_phone_of": [slugs]}} for numbers that are both
    a hotline and an active staff phone."""
    hotlines = OfficialChannel.objects.filter(kind=OfficialChannel.Kind.HOTLINE)
    staff_phones = StaffPhone.objects.filter(
        status=StaffPhone.Status.ACTIVE, number__in=hotlines.values("value")
    )
    staff_of = _slugs_by_number(staff_phones, "number")
    hotline_of = _slugs_by_number(hotlines.filter(value__in=list(staff_of)), "value")
    return {
        number: {"hotline_of": hotline_of.get(number, []), "staff_phone_of": slugs}
        for number, slugs in sorted(staff_of.items())
    }


def _slugs_by_number(queryset, number_field: str) -> dict[str, list[str]]:
    slugs: dict[str, list[str]] = {}
    for number, slug in queryset.order_by(number_field, "carrier__slug").values_list(
        number_field, "carrier__slug"
    ):
        if slug not in slugs.setdefault(number, []):
            slugs[number].append(slug)
    return slugs
