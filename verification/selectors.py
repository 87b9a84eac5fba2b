"""Reads behind the verdict. Cached where the services that write say what became stale
(registry.freshness)."""

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from django.conf import settings
from django.db import connections
from django.db.models import (
    BooleanField,
    CharField,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    Value,
)
from django.db.models.functions import Now
from django.utils import timezone

from core import replica, resilient_cache
from registry import phones
from registry.freshness import CARRIERS_KEY
from registry.models import Carrier, DeliveryAssignment, OfficialChannel, StaffPhone
from registry.selectors import phones_active_now

from .models import CallIntent, NumberClearance, ScamReport, WebhookDelivery

# The directory as last read, kept for days: with the database down, the short page that
# says so still gives every official hotline (verification.views.unavailable).
LAST_KNOWN_KEY = "carriers:last-known"
LAST_KNOWN_SECONDS = 7 * 86400


def carrier_directory(prefetched: dict | None = None) -> list[dict]:
    """Active carriers with their official channels, as the public sees them. `prefetched`:
    cache values the caller already fetched (the lookup page asks for CARRIERS_KEY in its
    one round trip); without that key among them, the cache is asked."""
    directory = (prefetched or {}).get(CARRIERS_KEY)
    if directory is None:
        directory = resilient_cache.get(CARRIERS_KEY)
    if directory is None:
        directory = replica.read(_carrier_directory_from)
        # VERDICT_CACHE_SECONDS leaves room for the replica's staleness (settings.py).
        resilient_cache.set(CARRIERS_KEY, directory, settings.VERDICT_CACHE_SECONDS)
        resilient_cache.set(LAST_KNOWN_KEY, directory, LAST_KNOWN_SECONDS)
    return directory


def carrier_directory_last_known() -> list[dict]:
    """The directory without touching the database: its last known copy, or nothing."""
    return resilient_cache.get(LAST_KNOWN_KEY) or []


def _carrier_directory_from(alias: str) -> list[dict]:
    return [
        {
            "slug": carrier.slug,
            "name": carrier.name,
            "channels": [
                {
                    "kind": channel.kind,
                    "value": channel.value,
                    "label": channel.label,
                    "display": phones.display(channel.value)
                    if channel.kind == OfficialChannel.Kind.HOTLINE
                    else channel.value,
                }
                for channel in carrier.channels.all()
            ],
        }
        for carrier in Carrier.objects.using(alias)
        .filter(is_active=True)
        .prefetch_related("channels")
    ]


def carrier_in_directory(slug: str, prefetched: dict | None = None) -> dict | None:
    return next((entry for entry in carrier_directory(prefetched) if entry["slug"] == slug), None)


@dataclass(frozen=True)
class Registration:
    carrier_slug: str
    carrier_name: str
    staff_id: int
    employee_code: str
    full_name: str
    active_now: bool


@dataclass(frozen=True)
class NumberFacts:
    hotline_carriers: list[dict]  # [{"slug", "name"}] of active carriers with this hotline
    registrations: list[Registration]  # every staff registration, active or not
    report_count: int


def _fetchall(alias: str, sql: str, params) -> list[tuple]:
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


_COLUMNS = ["kind", "slug", "name", "staff", "code", "full_name", "active", "reporters"]


def _number_facts_queryset(e164: str, today: date):
    """Everything the verdict needs to know of a number as one UNION ALL: the hotlines, the
    staff registrations and the report count."""
    text, number, boolean = CharField(), IntegerField(), BooleanField()
    # order_by(): the models' default ordering is not allowed inside a UNION.
    hotlines = (
        OfficialChannel.objects.filter(
            kind=OfficialChannel.Kind.HOTLINE, value=e164, carrier__is_active=True
        )
        .order_by()
        .values_list(
            Value("hotline", text),
            F("carrier__slug"),
            F("carrier__name"),
            Value(0, number),
            Value("", text),
            Value("", text),
            Value(True, boolean),
            Value(0, number),
        )
    )
    phones = (
        StaffPhone.objects.filter(number=e164)
        .order_by()
        .values_list(
            Value("phone", text),
            F("carrier__slug"),
            F("carrier__name"),
            F("staff_id"),
            F("staff__employee_code"),
            F("staff__full_name"),
            # The one rule of what an active phone is: registry.selectors.phones_active_now.
            Exists(phones_active_now(today).filter(pk=OuterRef("pk"))),
            Value(0, number),
        )
    )
    cleared = NumberClearance.objects.filter(number=e164, cleared_at__gte=OuterRef("created_at"))
    reports = (
        ScamReport.objects.filter(number=e164)
        .exclude(status=ScamReport.Status.REJECTED)
        .exclude(Exists(cleared))
        .order_by()
        .values("number")
        .annotate(reporters=Count("reporter", distinct=True))
        .values_list(
            Value("reports", text),
            Value("", text),
            Value("", text),
            Value(0, number),
            Value("", text),
            Value("", text),
            Value(True, boolean),
            F("reporters"),
        )
    )
    return hotlines.union(phones, reports, all=True)


_NUMBER_PLACEHOLDER = "+0number-placeholder"


@lru_cache(maxsize=2)
def _number_facts_sql(today: date) -> tuple[str, tuple, list[int]]:
    """The query compiled once a day: Django takes longer to compile this UNION than
    PostgreSQL takes to run it. Where the placeholder stands in the parameters, the number
    goes."""
    sql, params = _number_facts_queryset(_NUMBER_PLACEHOLDER, today).query.sql_with_params()
    return sql, params, [i for i, value in enumerate(params) if value == _NUMBER_PLACEHOLDER]


def number_facts(e164: str) -> NumberFacts:
    """Everything the verdict needs to know of a number, in ONE query: a lookup that misses
    the cache makes a single round trip to the database."""
    sql, params, number_at = _number_facts_sql(timezone.localdate())
    params = list(params)
    for index in number_at:
        params[index] = e164
    rows = replica.read(lambda alias: _fetchall(alias, sql, params))
    hotline_carriers, registrations, report_count = {}, [], 0
    for kind, slug, name, staff, code, full_name, active, reporters in rows:
        if kind == "hotline":
            hotline_carriers[slug] = name
        elif kind == "phone":
            registrations.append(Registration(slug, name, staff, code, full_name, active))
        else:
            report_count = reporters
    registrations.sort(key=lambda r: (r.carrier_name, r.employee_code))
    return NumberFacts(
        [{"slug": slug, "name": name} for slug, name in sorted(hotline_carriers.items())],
        registrations,
        report_count,
    )


_TRACKING_PLACEHOLDER = "+0tracking-placeholder"
_DIGEST_PLACEHOLDER = "+0digest-placeholder"
OPEN_ASSIGNMENT = [DeliveryAssignment.Status.PENDING, DeliveryAssignment.Status.OUT_FOR_DELIVERY]


@dataclass(frozen=True)
class Proof:
    """A record that proves something about a staff number: an assignment of a parcel to
    the staff member, or a call the carrier announced. It counts for its own carrier only."""

    kind: str  # "assignment" or "call"
    carrier_slug: str
    carrier_name: str
    employee_code: str


@lru_cache(maxsize=2)
def _parcel_and_call_sql(today: date) -> tuple[str, tuple, dict[str, list[int]]]:
    """The open assignments of the parcel to a staff member whose active phone is the
    number, and that staff phone's unexpired announced calls to this recipient, each made by
    the staff member's own carrier: as one UNION, compiled once a day like
    _number_facts_sql."""
    staff_of_number = phones_active_now(today).filter(number=_NUMBER_PLACEHOLDER).values("staff_id")
    text = CharField()
    columns = [F("carrier__slug"), F("carrier__name"), F("staff__employee_code")]
    assigned = (
        DeliveryAssignment.objects.filter(
            tracking_code=_TRACKING_PLACEHOLDER,
            status__in=OPEN_ASSIGNMENT,
            staff_id__in=staff_of_number,
            carrier_id=F("staff__carrier_id"),
        )
        .order_by()
        .values_list(Value("assignment", text), *columns)
    )
    calling = (
        CallIntent.objects.filter(
            phone=_NUMBER_PLACEHOLDER,
            recipient_digest=_DIGEST_PLACEHOLDER,
            staff_id__in=staff_of_number,
            carrier_id=F("staff__carrier_id"),
            expires_at__gt=Now(),
        )
        .order_by()
        .values_list(Value("call", text), *columns)
    )
    sql, params = assigned.union(calling, all=True).query.sql_with_params()
    where = {
        placeholder: [i for i, value in enumerate(params) if value == placeholder]
        for placeholder in (_NUMBER_PLACEHOLDER, _TRACKING_PLACEHOLDER, _DIGEST_PLACEHOLDER)
    }
    return sql, params, where


def parcel_and_call(e164: str, *, tracking_code: str, digest: str) -> list[Proof]:
    """Every proof about the number for this parcel and this recipient, in one query, sorted
    by carrier name. An empty tracking code or digest matches nothing."""
    sql, params, where = _parcel_and_call_sql(timezone.localdate())
    params = list(params)
    for placeholder, value in [
        (_NUMBER_PLACEHOLDER, e164),
        (_TRACKING_PLACEHOLDER, tracking_code),
        (_DIGEST_PLACEHOLDER, digest),
    ]:
        for index in where[placeholder]:
            params[index] = value
    rows = replica.read(lambda alias: _fetchall(alias, sql, params))
    proofs = [Proof(*row) for row in rows]
    asked = {"assignment": bool(tracking_code), "call": bool(digest)}
    return sorted(
        (proof for proof in proofs if asked[proof.kind]),
        key=lambda proof: (proof.carrier_name, proof.employee_code),
    )


@dataclass(frozen=True)
class ParcelPage:
    """What the parcel page shows. `staff` and what follows only while the parcel is open
    and its recipient known: a delivered, failed or cancelled parcel, or one whose recipient
    digest was purged (retention), shows its status only."""

    carrier_slug: str
    carrier_name: str
    tracking_code: str
    status: str
    status_label: str
    window_start: object
    window_end: object
    staff_name: str = ""  # masked
    employee_code: str = ""
    phones: tuple[str, ...] = ()  # E.164, active now
    call_announced_at: object = None  # aware datetime of the live call intent, if any

    @property
    def shows_staff(self) -> bool:
        return bool(self.employee_code)


def parcel_page(token: str) -> ParcelPage | None:
    """The parcel of this page token, or None. The announced call counts only a live call
    intent of the parcel's own carrier, from the assigned staff member's active phones, to
    this parcel's recipient (the digest): another carrier's intent proves nothing here.
    A lookup read: from the replica when there is a usable one (core.replica)."""
    if not token:
        return None
    return replica.read(lambda alias: _parcel_page_from(alias, token))


def _parcel_page_from(alias: str, token: str) -> ParcelPage | None:
    assignment = (
        DeliveryAssignment.objects.using(alias)
        .select_related("carrier", "staff")
        .filter(parcel_token=token)
        .first()
    )
    if assignment is None:
        return None
    page = {
        "carrier_slug": assignment.carrier.slug,
        "carrier_name": assignment.carrier.name,
        "tracking_code": assignment.tracking_code,
        "status": assignment.status,
        "status_label": assignment.get_status_display(),
        "window_start": assignment.window_start,
        "window_end": assignment.window_end,
    }
    staff = assignment.staff
    if (
        assignment.status not in OPEN_ASSIGNMENT
        or not assignment.recipient_digest
        or staff.status != staff.Status.ACTIVE
    ):
        return ParcelPage(**page)
    numbers = tuple(
        phones_active_now()
        .using(alias)
        .filter(staff=staff, carrier=assignment.carrier_id)
        .order_by("number")
        .values_list("number", flat=True)
    )
    announced = (
        CallIntent.objects.using(alias)
        .filter(
            carrier=assignment.carrier_id,
            staff=staff,
            phone__in=numbers,
            recipient_digest=assignment.recipient_digest,
            expires_at__gt=timezone.now(),
        )
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    from .services import mask_name  # the verdict's masking rule; services imports us

    return ParcelPage(
        **page,
        staff_name=mask_name(staff.full_name),
        employee_code=staff.employee_code,
        phones=numbers,
        call_announced_at=announced,
    )


def webhook_delivery_counts() -> dict[str, int]:
    """For the metrics (core.metrics): deliveries pending, retrying (pending after a failed
    attempt) and failed."""
    pending = Q(status=WebhookDelivery.Status.PENDING)
    return WebhookDelivery.objects.filter(
        status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.FAILED]
    ).aggregate(
        pending=Count("pk", filter=pending),
        retrying=Count("pk", filter=pending & Q(attempts__gt=0)),
        failed=Count("pk", filter=Q(status=WebhookDelivery.Status.FAILED)),
    )


def webhook_deliveries_overdue():
    """Ids of the pending deliveries whose attempt was due SWEEP_AFTER_SECONDS ago or more:
    by then their own task would have run, so it was lost. One waiting out its backoff is
    not due yet."""
    overdue = timezone.now() - timedelta(seconds=settings.SWEEP_AFTER_SECONDS)
    return (
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=overdue
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)
    )
