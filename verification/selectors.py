"""Reads behind the verdict. Cached where the services that write say what became stale
(registry.freshness)."""

from dataclasses import dataclass
from datetime import date
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
    Value,
)
from django.db.models.functions import Now
from django.utils import timezone

from config import cache, replica
from registry import phones
from registry.freshness import CARRIERS_KEY
from registry.models import Carrier, DeliveryAssignment, OfficialChannel, StaffPhone
from registry.selectors import phones_active_now

from .models import CallIntent, NumberClearance, ScamReport

DIRECTORY_SECONDS = 300


def carrier_directory() -> list[dict]:
    """Active carriers with their official channels, as the public sees them."""
    directory = cache.get(CARRIERS_KEY)
    if directory is None:
        directory = replica.read(_carrier_directory_from)
        # Writes drop the entry, but with a replica a read just after one may get the old
        # state: it then lives only as long as keeps every answer under a minute old.
        stale = settings.REPLICA_STALENESS_SECONDS
        cache.set(CARRIERS_KEY, directory, 60 - stale if stale else DIRECTORY_SECONDS)
    return directory


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


def carrier_in_directory(slug: str) -> dict | None:
    return next((entry for entry in carrier_directory() if entry["slug"] == slug), None)


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


@lru_cache(maxsize=2)
def _parcel_and_call_sql(today: date) -> tuple[str, tuple, dict[str, list[int]]]:
    """Is the parcel open and assigned to a staff member whose active phone is the number?
    Has that staff phone announced a call to this recipient, not yet expired? As one UNION,
    compiled once a day like _number_facts_sql."""
    staff_of_number = phones_active_now(today).filter(number=_NUMBER_PLACEHOLDER).values("staff_id")
    text = CharField()
    assigned = (
        DeliveryAssignment.objects.filter(
            tracking_code=_TRACKING_PLACEHOLDER,
            status__in=OPEN_ASSIGNMENT,
            staff_id__in=staff_of_number,
        )
        .order_by()
        .values_list(Value("assignment", text))
    )
    calling = (
        CallIntent.objects.filter(
            phone=_NUMBER_PLACEHOLDER,
            recipient_digest=_DIGEST_PLACEHOLDER,
            staff_id__in=staff_of_number,
            expires_at__gt=Now(),
        )
        .order_by()
        .values_list(Value("call", text))
    )
    sql, params = assigned.union(calling, all=True).query.sql_with_params()
    where = {
        placeholder: [i for i, value in enumerate(params) if value == placeholder]
        for placeholder in (_NUMBER_PLACEHOLDER, _TRACKING_PLACEHOLDER, _DIGEST_PLACEHOLDER)
    }
    return sql, params, where


def parcel_and_call(e164: str, *, tracking_code: str, digest: str) -> tuple[bool, bool]:
    """(the number is the parcel's assigned staff, the staff phone is calling this recipient
    now): one query. An empty tracking code or digest matches nothing."""
    sql, params, where = _parcel_and_call_sql(timezone.localdate())
    params = list(params)
    for placeholder, value in [
        (_NUMBER_PLACEHOLDER, e164),
        (_TRACKING_PLACEHOLDER, tracking_code),
        (_DIGEST_PLACEHOLDER, digest),
    ]:
        for index in where[placeholder]:
            params[index] = value
    kinds = {kind for (kind,) in replica.read(lambda alias: _fetchall(alias, sql, params))}
    return bool(tracking_code) and "assignment" in kinds, bool(digest) and "call" in kinds
