"""Assignments partitioned by day on PostgreSQL (registry/partitions.py); one plain table on
SQLite. Retention forgets whole days on both; (carrier, tracking code) stays unique."""

import threading
from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, connections, models, transaction
from django.utils import timezone

from registry import partitions, services
from registry.models import DeliveryAssignment
from registry.tasks import ensure_assignment_partitions, purge_expired_assignments

postgres_only = pytest.mark.integration  # needs PostgreSQL (scripts/test's second pass)


def _assign(staff, code, recipient="0901000999"):
    assignment, _created = services.assignment_upsert(
        carrier=staff.carrier, tracking_code=code, staff=staff, recipient_phone=recipient
    )
    return assignment


def _move_to_day(code, day):
    """Backdate an assignment into `day` (its partition made first, as it would have been)."""
    partitions.ensure([day])
    DeliveryAssignment.objects.filter(tracking_code=code).update(
        created_at=partitions.day_start(day) + timedelta(hours=10)
    )


def test_retention_forgets_whole_days_older_than_the_retention_period(staff_a, settings):
    settings.RETENTION_DAYS = 90
    today = timezone.localdate()
    for code in ["OLD", "LAST-KEPT", "NEW"]:
        _assign(staff_a, code)
    _move_to_day("OLD", today - timedelta(days=91))
    _move_to_day("LAST-KEPT", today - timedelta(days=90))

    assert purge_expired_assignments.apply().get() == [(today - timedelta(days=91)).isoformat()]
    assert purge_expired_assignments.apply().get() == []
    assert set(DeliveryAssignment.objects.values_list("tracking_code", flat=True)) == {
        "LAST-KEPT",
        "NEW",
    }


@postgres_only
def test_a_fresh_migrate_makes_a_table_partitioned_by_day_with_partitions_ahead(db):
    today = timezone.localdate()
    assert partitions.is_partitioned()
    days = partitions.existing()
    assert {today + timedelta(days=n) for n in range(partitions.DAYS_AHEAD + 1)} <= set(days)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s", [partitions.name_for(today)]
        )
        indexes = [definition for (definition,) in cursor.fetchall()]
    assert any("UNIQUE" in i and "(carrier_id, tracking_code)" in i for i in indexes)
    assert any("(staff_id)" in i for i in indexes)  # the parent's indexes reach each day


@postgres_only
def test_the_beat_job_creates_missing_partitions_ahead_and_only_those(db):
    ahead = timezone.localdate() + timedelta(days=partitions.DAYS_AHEAD)
    with connection.cursor() as cursor:
        cursor.execute(f'DROP TABLE "{partitions.name_for(ahead)}"')
    assert ensure_assignment_partitions.apply().get() == [partitions.name_for(ahead)]
    assert ensure_assignment_partitions.apply().get() == []
    assert ahead in partitions.existing()


@postgres_only
def test_retention_drops_the_partition_itself(staff_a, settings):
    settings.RETENTION_DAYS = 30
    old_day = timezone.localdate() - timedelta(days=40)
    _assign(staff_a, "OLD")
    _move_to_day("OLD", old_day)
    assert old_day in partitions.existing()
    services.assignments_purge_expired(keep_days=30)
    assert old_day not in partitions.existing()
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [partitions.name_for(old_day)])
        assert cursor.fetchone() == (None,)


@postgres_only
def test_a_code_known_on_an_earlier_day_is_updated_in_place_not_created_again(staff_a):
    earlier = timezone.localdate() - timedelta(days=3)
    first = _assign(staff_a, "VN-KNOWN")
    _move_to_day("VN-KNOWN", earlier)
    result = services.assignments_bulk_upsert(
        carrier=staff_a.carrier,
        items=[
            {"tracking_code": "VN-KNOWN", "employee_code": "A001", "status": "delivered"},
            {"tracking_code": "VN-NEW", "employee_code": "A001"},
        ],
    )
    assert (result.created, result.updated, result.errors) == (1, 1, [])
    known = DeliveryAssignment.objects.get(tracking_code="VN-KNOWN")
    assert (known.pk, known.status) == (first.pk, "delivered")
    assert timezone.localdate(known.created_at) == earlier  # still in its own day
    assert len(known.recipient_digest) == 64  # kept: the item had no recipient_phone
    _assign(staff_a, "VN-KNOWN", recipient="0901000111")
    assert DeliveryAssignment.objects.filter(tracking_code="VN-KNOWN").count() == 1


@postgres_only
def test_the_database_refuses_a_duplicate_code_written_around_the_services(staff_a):
    _assign(staff_a, "VN-DUP")
    with pytest.raises(IntegrityError), transaction.atomic():
        DeliveryAssignment.objects.create(
            carrier=staff_a.carrier, tracking_code="VN-DUP", staff=staff_a
        )


@postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("margin", [timedelta(0), timedelta(days=1)], ids=["day", "midnight"])
def test_two_writers_of_the_same_new_code_make_one_assignment(staff_a, monkeypatch, margin):
    """The second writer waits for the first (for the day's unique index, or near midnight
    for its lock), then finds the code and updates it."""
    monkeypatch.setattr(partitions, "DAY_BOUNDARY_MARGIN", margin)
    items = [{"tracking_code": "VN-RACE", "employee_code": "A001"}]
    waited, second = _two_writers(staff_a, items, items)
    assert waited and (second.created, second.updated) == (0, 1)
    assert DeliveryAssignment.objects.filter(tracking_code="VN-RACE").count() == 1


def _two_writers(staff, first_items, second_items):
    """The first writer's transaction stays open a second while the second writes: whether
    the second was still waiting then, and the second's result."""
    outcome = {}

    def second_writer():
        try:
            outcome["result"] = services.assignments_bulk_upsert(
                carrier=staff.carrier, items=second_items
            )
        finally:
            connections.close_all()

    with transaction.atomic():
        services.assignments_bulk_upsert(carrier=staff.carrier, items=first_items)
        thread = threading.Thread(target=second_writer)
        thread.start()
        thread.join(timeout=1)
        waited = thread.is_alive()
    thread.join(timeout=10)
    return waited, outcome["result"]


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_writers_of_different_codes_of_one_carrier_do_not_wait_for_each_other(staff_a, monkeypatch):
    monkeypatch.setattr(partitions, "DAY_BOUNDARY_MARGIN", timedelta(0))
    waited, second = _two_writers(
        staff_a,
        [{"tracking_code": "VN-ONE", "employee_code": "A001"}],
        [{"tracking_code": "VN-TWO", "employee_code": "A001"}],
    )
    assert not waited and (second.created, second.updated) == (1, 0)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_near_local_midnight_writers_of_one_carrier_take_turns(staff_a, monkeypatch):
    """Near midnight their rows may go to two days' partitions, where no index sees both."""
    monkeypatch.setattr(partitions, "DAY_BOUNDARY_MARGIN", timedelta(days=1))  # always near
    waited, second = _two_writers(
        staff_a,
        [{"tracking_code": "VN-ONE", "employee_code": "A001"}],
        [{"tracking_code": "VN-TWO", "employee_code": "A001"}],
    )
    assert waited and (second.created, second.updated) == (1, 0)


def test_only_moments_within_the_margin_of_local_midnight_are_near_a_day_boundary():
    midnight = partitions.day_start(date(2026, 12, 2))
    margin = partitions.DAY_BOUNDARY_MARGIN
    assert partitions.near_day_boundary(midnight - margin / 2)
    assert partitions.near_day_boundary(midnight + margin / 2)
    assert not partitions.near_day_boundary(midnight - margin * 2)
    assert not partitions.near_day_boundary(midnight + timedelta(hours=12))


@postgres_only
def test_a_later_migration_may_add_a_field_with_a_plain_index(db):
    field = models.CharField(max_length=43, db_index=True, null=True)
    field.set_attributes_from_name("parcel_token_probe")
    with connection.schema_editor(atomic=True) as editor:  # rolled back with the test
        editor.add_field(DeliveryAssignment, field)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s",
            [partitions.name_for(timezone.localdate())],
        )
        assert any("parcel_token_probe" in i for (i,) in cursor.fetchall())


@postgres_only
def test_the_command_covers_past_days_before_older_assignments_are_loaded(db):
    call_command("assignment_partitions", "--back", "3", stdout=StringIO())
    today = timezone.localdate()
    assert {today - timedelta(days=n) for n in range(4)} <= set(partitions.existing())


@postgres_only
def test_each_day_has_one_index_on_the_parcel_token_not_a_like_index_too(db):
    """The parcel page looks its token up by equality: Django's db_index on a CharField adds a
    varchar_pattern_ops twin for LIKE, as large as the index itself in every partition."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexdef LIKE %s",
            [partitions.name_for(timezone.localdate()), "%parcel_token%"],
        )
        definitions = [row[0] for row in cursor.fetchall()]
    assert len(definitions) == 1, definitions
    assert "varchar_pattern_ops" not in definitions[0]
