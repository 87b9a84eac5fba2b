"""The open parcels (registry.models.OpenParcel): one row per assignment still to be
delivered, beside the day-partitioned assignments, so that a verification finds a staff
member's parcels with one index probe. Whatever the services write or purge, it holds
exactly the open assignments, each with the staff member it is assigned to now."""

import random
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from registry import partitions, services
from registry.models import DeliveryAssignment, OpenParcel
from verification import selectors
from verification.services import Lookup, verify

CODES = [f"OP{n}" for n in range(8)]
STATUSES = list(DeliveryAssignment.Status.values)


def open_parcels() -> set[tuple]:
    return set(OpenParcel.objects.values_list("carrier_id", "tracking_code", "staff_id"))


def open_assignments() -> set[tuple]:
    return set(
        DeliveryAssignment.objects.filter(status__in=DeliveryAssignment.OPEN_STATUSES).values_list(
            "carrier_id", "tracking_code", "staff_id"
        )
    )


@pytest.fixture
def shippers(staff_a, staff_b, carrier_a):
    """Two shippers of carrier A (a parcel moves between them) and one of carrier B (who
    may hold the same tracking codes: codes are unique per carrier only)."""
    other, _ = services.staff_upsert(
        carrier=carrier_a, employee_code="A2", full_name="Lê Văn Cường", phone_numbers=[]
    )
    return [staff_a, other, staff_b]


def _backdate(code: str, carrier_id: int, days: int) -> None:
    """Move an assignment to a day `days` ago (its partition made first, as it would have
    been)."""
    day = timezone.localdate() - timedelta(days=days)
    partitions.ensure([day])
    DeliveryAssignment.objects.filter(carrier_id=carrier_id, tracking_code=code).update(
        created_at=partitions.day_start(day) + timedelta(hours=10)
    )


@pytest.mark.parametrize("seed", range(4))
def test_the_open_parcels_are_the_open_assignments_after_any_writes_and_purges(shippers, seed):
    """Random batches of assignments (new, reassigned, closed, reopened; on two carriers)
    and retention purges: after each, the open parcels are exactly the open assignments."""
    rng = random.Random(seed)
    for _step in range(40):
        if rng.random() < 0.15 and DeliveryAssignment.objects.exists():
            victim = rng.choice(list(DeliveryAssignment.objects.values("tracking_code", "carrier")))
            _backdate(victim["tracking_code"], victim["carrier"], days=100)
            services.assignments_purge_expired(keep_days=90)
        else:
            staff = rng.choice(shippers)
            items = [
                {
                    "tracking_code": code,
                    "employee_code": staff.employee_code,
                    "status": rng.choice(STATUSES),
                }
                for code in rng.sample(CODES, rng.randint(1, 4))
            ]
            result = services.assignments_bulk_upsert(carrier=staff.carrier, items=items)
            assert result.errors == []
        assert open_parcels() == open_assignments()
    assert open_parcels(), "the walk should leave some parcel open"


def test_a_purged_parcel_no_longer_proves_its_shipper_even_when_cached(
    staff_a, django_capture_on_commit_callbacks
):
    services.assignment_upsert(
        carrier=staff_a.carrier, tracking_code="OLD1", staff=staff_a, status="out_for_delivery"
    )
    asked = Lookup(tracking_code="OLD1")
    assert verify("0912345678", asked, with_details=True)["assignment"]["matches"] is True
    _backdate("OLD1", staff_a.carrier_id, days=100)

    with django_capture_on_commit_callbacks(execute=True):
        services.assignments_purge_expired(keep_days=90)

    assert not OpenParcel.objects.exists()
    assert verify("0912345678", asked, with_details=True)["assignment"]["matches"] is False


@pytest.mark.integration
def test_the_proofs_query_never_reads_the_day_partitions(staff_a):
    """What the open parcels are for: a verification's proofs query probes one index, not
    one per day partition of the assignments."""
    services.assignment_upsert(
        carrier=staff_a.carrier, tracking_code="P1", staff=staff_a, status="pending"
    )
    for one_question in (False, True):
        sql, params, where = selectors._proofs_sql(timezone.localdate(), one_question=one_question)
        params = list(params) if one_question else [*params, selectors.PROOFS_KEPT_AT_MOST + 1]
        for index in where[selectors._NUMBER_PLACEHOLDER]:
            params[index] = "+84912345678"
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "registry_openparcel" in plan
        assert "registry_deliveryassignment" not in plan
