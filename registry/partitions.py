"""DeliveryAssignment partitioned by creation day in PostgreSQL (declarative partitioning).

At national scale the table holds ~900 million rows (10 M parcels a day kept 90 days). One
partition per local day (Asia/Ho_Chi_Minh, TIME_ZONE) makes the retention purge a
`DETACH … CONCURRENTLY` + `DROP TABLE` of whole days instead of an UPDATE over hundreds of
millions of rows, and keeps each day's indexes small enough to stay in memory.

Plain SQL rather than django-postgres-extra: that library needs its own database backend
(ENGINE) and model base class for every model, and its partitioning manager would own this
table's DDL; here a dozen statements do the job, the model stays an ordinary Django model,
SQLite (the embedded default) keeps one plain table, and later migrations (AddField with a
plain index, say) apply to the partitioned parent as to any table: PostgreSQL propagates
columns and non-unique indexes to every partition, present and future.

Uniqueness of (carrier, tracking code): PostgreSQL refuses a unique index on a partitioned
table unless it includes the partition key, so each partition has its own unique index on
(carrier_id, tracking_code) — the database itself refuses a duplicate within a day. New
rows go to the partition of the moment they are written, so two writers can put one code
on two days only when a local midnight falls between them: within DAY_BOUNDARY_MARGIN of
midnight the services that write assignments (registry.services) hold a per-carrier
advisory lock while they look the codes up across every partition and then insert or
update, and at any other time a writer refused by the day's unique index takes that lock
and looks again: no two writers can create the same code on two days. Every retained
parcel (the last RETENTION_DAYS days, which includes every parcel still open) therefore has
one row per (carrier, tracking code).
Once its day is dropped a code is free again, as a carrier's codes are recycled anyway.
"""

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection as default_connection
from django.db import transaction
from django.utils import timezone

PARENT = "registry_deliveryassignment"
_NAME = re.compile(rf"^{PARENT}_p(\d{{8}})$")
# New partitions exist this many days ahead: a beat job that stops for a week still leaves
# ingest working.
DAYS_AHEAD = 14
# Creating a partition briefly locks the parent: never queue lookups behind a long query.
LOCK_TIMEOUT = "2s"


def is_partitioned(connection=default_connection) -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [PARENT])
        row = cursor.fetchone()
    return row is not None and row[0] == "p"


def name_for(day: date) -> str:
    return f"{PARENT}_p{day:%Y%m%d}"


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(settings.TIME_ZONE))


def _day_tables(connection) -> dict[date, tuple[str, str | None]]:
    """Every day table, attached or left over from an interrupted purge:
    day -> (name, None if detached, else whether a concurrent detach is pending)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, i.inhdetachpending FROM pg_class c "
            "LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND i.inhparent = to_regclass(%s) "
            "WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace "
            "AND c.relname LIKE %s",
            [PARENT, PARENT + "\\_p%"],
        )
        rows = cursor.fetchall()
    tables = {}
    for name, pending in rows:
        match = _NAME.match(name)
        if match:
            day = datetime.strptime(match.group(1), "%Y%m%d").date()  # noqa: DTZ007
            tables[day] = (name, pending)
    return tables


def existing(connection=default_connection) -> dict[date, str]:
    """The day partitions attached to the parent, by day."""
    return {
        day: name for day, (name, pending) in _day_tables(connection).items() if pending is not None
    }


def create(day: date, connection=default_connection) -> str:
    """The partition of `day` with its own unique (carrier, tracking code) index; the
    parent's other indexes, the primary key and the checks come with PARTITION OF."""
    name = name_for(day)
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        # DDL takes no bound parameters (server-side binding is on): the bounds are made
        # here from a date, never from input.
        low, high = day_start(day).isoformat(), day_start(day + timedelta(days=1)).isoformat()
        cursor.execute(
            f'CREATE TABLE IF NOT EXISTS "{name}" PARTITION OF "{PARENT}" '
            f"FOR VALUES FROM ('{low}') TO ('{high}')"
        )
        cursor.execute(
            f'CREATE UNIQUE INDEX IF NOT EXISTS "{name}_code" ON "{name}" '
            "(carrier_id, tracking_code)"
        )
    return name


def ensure(days, connection=default_connection) -> list[str]:
    """Create the partitions of `days` that are missing; the names created."""
    if not is_partitioned(connection):
        return []
    have = existing(connection)
    created = []
    for day in sorted(set(days) - set(have)):
        # One transaction per partition: SET LOCAL holds only inside one, and a lock timeout
        # on one day leaves the others made.
        with transaction.atomic(using=connection.alias):
            created.append(create(day, connection))
    return created


def ensure_ahead(connection=default_connection, today: date | None = None) -> list[str]:
    """Today's partition and the next DAYS_AHEAD days' (migrate and a beat job call it)."""
    today = today or timezone.localdate()
    return ensure([today + timedelta(days=n) for n in range(DAYS_AHEAD + 1)], connection)


def drop_before(day: date, connection=default_connection) -> list[date]:
    """Detach and drop every day partition older than `day`; the days dropped.

    Outside a transaction the detach is CONCURRENTLY: lookups and ingest on the other days
    never wait for it. A detach interrupted half-way is finished on the next run."""
    concurrently = not connection.in_atomic_block
    if not concurrently:
        with connection.cursor() as cursor:
            # Deferred foreign-key checks of rows written earlier in this transaction would
            # otherwise forbid the DROP: run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    dropped = []
    for partition_day, (name, pending) in sorted(_day_tables(connection).items()):
        if partition_day >= day:
            continue
        with connection.cursor() as cursor:
            if pending is not None:
                how = "FINALIZE" if pending else ("CONCURRENTLY" if concurrently else "")
                cursor.execute(f'ALTER TABLE "{PARENT}" DETACH PARTITION "{name}" {how}')
            cursor.execute(f'DROP TABLE "{name}"')
        dropped.append(partition_day)
    return dropped


# How close to local midnight the writers of assignments take turns (registry.services):
# far more than one call lasts (the web tier's timeout is 30 s), so that no call that began
# on one day without the lock is still writing when another's rows go to the next day.
DAY_BOUNDARY_MARGIN = timedelta(minutes=10)


def near_day_boundary(moment: datetime) -> bool:
    """Whether a local midnight (a partition boundary) lies within DAY_BOUNDARY_MARGIN of
    `moment`."""
    zone, margin = ZoneInfo(settings.TIME_ZONE), DAY_BOUNDARY_MARGIN
    return (moment - margin).astimezone(zone).date() != (moment + margin).astimezone(zone).date()
