"""Reads behind the verdict. Cached where the services that write say what became stale
(registry.freshness)."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.db import connections
from django.db.models import (
    BooleanField,
    CharField,
    Count,
    DateTimeField,
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
from registry.models import Carrier, DeliveryAssignment, OfficialChannel, OpenParcel, StaffPhone
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


@dataclass(frozen=True)
class Proof:
    """A record that proves something about a staff number: an assignment of a parcel to
    the staff member, or a call the carrier announced. It counts for its own carrier only."""

    kind: str  # "assignment" or "call"
    carrier_slug: str
    carrier_name: str
    employee_code: str


# A number whose staff have more open parcels than this is asked about one parcel at a time
# (parcel_and_call): its whole set would be too much to cache and to read back on every
# verification of it. A shipper has a few dozen; the benchmark's seed 10 over 90 days.
PROOFS_KEPT_AT_MOST = 500


@dataclass(frozen=True)
class NumberProofs:
    """Every proof a verification of the number can find, read in one query and cached per
    number beside its verdict (registry.freshness drops both): the open assignments of the
    staff whose active phone it is, by tracking code, and that staff phone's unexpired
    announced calls, by recipient digest, each made by the staff member's own carrier.
    `complete` is False for a number with more than PROOFS_KEPT_AT_MOST of them: its
    verifications ask the database about their own parcel and call instead."""

    assignments: dict[str, tuple[Proof, ...]]
    calls: tuple[tuple[str, datetime, Proof], ...]  # (recipient digest, expires at, proof)
    complete: bool = True

    def about(self, *, tracking_code: str, digest: str, now: datetime) -> list[Proof]:
        """What parcel_and_call would answer for this parcel and recipient at `now`."""
        found = list(self.assignments.get(tracking_code, ())) if tracking_code else []
        if digest:
            found += [
                proof
                for call_digest, expires_at, proof in self.calls
                if call_digest == digest and expires_at > now
            ]
        return sorted(found, key=_by_carrier_name)


def _by_carrier_name(proof: Proof) -> tuple[str, str]:
    return proof.carrier_name, proof.employee_code


@lru_cache(maxsize=4)
def _proofs_sql(today: date, *, one_question: bool) -> tuple[str, tuple, dict[str, list[int]]]:
    """The open parcels (OpenParcel) of a staff member whose active phone is the number,
    and that staff phone's unexpired announced calls, each made by the staff member's own
    carrier: as one UNION (kind, tracking code or recipient digest, expiry, carrier,
    employee code), compiled once a day like _number_facts_sql. `one_question`: only those
    of one parcel and one recipient; otherwise all of them, up to one more than
    PROOFS_KEPT_AT_MOST."""
    staff_of_number = phones_active_now(today).filter(number=_NUMBER_PLACEHOLDER).values("staff_id")
    text, moment = CharField(), DateTimeField()
    columns = [F("carrier__slug"), F("carrier__name"), F("staff__employee_code")]
    assigned = OpenParcel.objects.filter(
        staff_id__in=staff_of_number, carrier_id=F("staff__carrier_id")
    )
    calling = CallIntent.objects.filter(
        phone=_NUMBER_PLACEHOLDER,
        staff_id__in=staff_of_number,
        carrier_id=F("staff__carrier_id"),
        expires_at__gt=Now(),
    )
    if one_question:
        assigned = assigned.filter(tracking_code=_TRACKING_PLACEHOLDER)
        calling = calling.filter(recipient_digest=_DIGEST_PLACEHOLDER)
    assigned = assigned.order_by().values_list(
        Value("assignment", text), F("tracking_code"), Value(None, moment), *columns
    )
    calling = calling.order_by().values_list(
        Value("call", text), F("recipient_digest"), F("expires_at"), *columns
    )
    sql, params = assigned.union(calling, all=True).query.sql_with_params()
    if not one_question:
        # Django's own compiled SQL, wrapped: the values stay parameters (the limit is the
        # last one, _proof_rows gives it).
        sql = f"SELECT * FROM ({sql}) AS proofs LIMIT %s"  # noqa: S608
    where = {
        placeholder: [i for i, value in enumerate(params) if value == placeholder]
        for placeholder in (_NUMBER_PLACEHOLDER, _TRACKING_PLACEHOLDER, _DIGEST_PLACEHOLDER)
    }
    return sql, params, where


def _proof_rows(values: dict[str, str], *, one_question: bool) -> list[tuple]:
    sql, params, where = _proofs_sql(timezone.localdate(), one_question=one_question)
    params = list(params) if one_question else [*params, PROOFS_KEPT_AT_MOST + 1]
    for placeholder, value in values.items():
        for index in where[placeholder]:
            params[index] = value
    return replica.read(lambda alias: _fetchall(alias, sql, params))


def number_proofs(e164: str) -> NumberProofs:
    """Every proof about the number, in one query (NumberProofs)."""
    rows = _proof_rows({_NUMBER_PLACEHOLDER: e164}, one_question=False)
    if len(rows) > PROOFS_KEPT_AT_MOST:
        return NumberProofs({}, (), complete=False)
    assignments, calls = {}, []
    for kind, key, expires_at, *proof in rows:
        if kind == "assignment":
            assignments.setdefault(key, []).append(Proof(kind, *proof))
        else:
            calls.append((key, _aware(expires_at), Proof(kind, *proof)))
    return NumberProofs(
        {code: tuple(found) for code, found in assignments.items()},
        tuple(calls),
    )


def _aware(moment: datetime | str) -> datetime:
    """A time as a raw query gives it: aware on PostgreSQL; on SQLite, which keeps UTC
    without a zone, naive or as text."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, UTC)


def parcel_and_call(e164: str, *, tracking_code: str, digest: str) -> list[Proof]:
    """Every proof about the number for this parcel and this recipient, in one query, sorted
    by carrier name. An empty tracking code or digest matches nothing."""
    rows = _proof_rows(
        {
            _NUMBER_PLACEHOLDER: e164,
            _TRACKING_PLACEHOLDER: tracking_code,
            _DIGEST_PLACEHOLDER: digest,
        },
        one_question=True,
    )
    asked = {"assignment": bool(tracking_code), "call": bool(digest)}
    return sorted(
        (Proof(kind, *proof) for kind, _key, _expires_at, *proof in rows if asked[kind]),
        key=_by_carrier_name,
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
        assignment.status not in DeliveryAssignment.OPEN_STATUSES
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
