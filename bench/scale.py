"""What the national design rests on, measured on a database `run.py` seeded:

- the day partitions: how many, their rows, and each index's size per partition (to scale
  linearly to 10 M rows a day);
- the retention purge of one day: today's row purge (the UPDATE of the old service, on an
  unpartitioned copy of the same rows with the same indexes) against the detach-and-drop of
  that day's partition (registry.services.assignments_purge_expired);
- the database time of one cold lookup's queries (number facts, and parcel-and-call), one
  client, no web tier: what a replica's cores spend per lookup.

    .venv/bin/python bench/scale.py postgres://postgres@127.0.0.1:5432/registry_bench_0_05

With `--national-day`, then a national day's partition: the seed's assignments again (10 M
at full scale) as made on one day older than the others, its size, and the time the
retention service takes to drop it.

The purge drops the oldest day: the seed is marked stale, and the next `run.py` re-seeds.
Writes bench/results/scale-<database>.json.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH_DIR.parent), str(BENCH_DIR)]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def partition_sizes(cursor) -> dict:
    cursor.execute(
        """SELECT c.relname, c.reltuples::bigint, pg_relation_size(c.oid),
                  (SELECT json_object_agg(
                       regexp_replace(ic.relname, '^registry_deliveryassignment_p\\d+_', ''),
                       pg_relation_size(ic.oid))
                   FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                   WHERE i.indrelid = c.oid)
           FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid
           WHERE h.inhparent = 'registry_deliveryassignment'::regclass
           ORDER BY c.relname"""
    )
    rows = [r for r in cursor.fetchall() if r[1] > 0]
    total_rows = sum(r[1] for r in rows)
    index_bytes: dict[str, int] = {}
    for _name, _tuples, _heap, indexes in rows:
        for index, size in indexes.items():
            index_bytes[index] = index_bytes.get(index, 0) + size
    heap = sum(r[2] for r in rows)
    cursor.execute(
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'registry_deliveryassignment'::regclass"
    )
    (partitions,) = cursor.fetchone()
    return {
        "partitions": partitions,
        "partitions_with_rows": len(rows),
        "rows": total_rows,
        "heap_bytes_per_row": round(heap / total_rows, 1),
        "index_bytes_per_row": {k: round(v / total_rows, 1) for k, v in index_bytes.items()},
        "at_10M_rows_a_day_MB": {
            "heap": round(heap / total_rows * 10_000_000 / 2**20),
            **{k: round(v / total_rows * 10_000_000 / 2**20) for k, v in index_bytes.items()},
        },
    }


def row_purge_seconds(cursor, first_kept) -> tuple[float, int]:
    """The old retention service's UPDATE over one day's rows, on an unpartitioned copy."""
    cursor.execute("DROP TABLE IF EXISTS bench_unpartitioned")
    cursor.execute("CREATE TABLE bench_unpartitioned AS SELECT * FROM registry_deliveryassignment")
    cursor.execute("ALTER TABLE bench_unpartitioned ADD PRIMARY KEY (id)")
    cursor.execute("CREATE UNIQUE INDEX ON bench_unpartitioned (carrier_id, tracking_code)")
    cursor.execute("CREATE INDEX ON bench_unpartitioned (carrier_id)")
    cursor.execute("CREATE INDEX ON bench_unpartitioned (staff_id)")
    cursor.execute("VACUUM ANALYZE bench_unpartitioned")
    started = time.perf_counter()
    cursor.execute(
        "UPDATE bench_unpartitioned SET recipient_digest = '' "
        "WHERE created_at < %s AND recipient_digest <> ''",
        [first_kept],
    )
    seconds = time.perf_counter() - started
    rows = cursor.rowcount
    cursor.execute("DROP TABLE bench_unpartitioned")
    return seconds, rows


def lookup_ms(rounds: int, phones: int, assignments: int) -> dict:
    from registry.pii import recipient_digest
    from verification import selectors

    def sample(fn):
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            fn()
            times.append((time.perf_counter() - started) * 1000)
        return {
            "median": round(statistics.median(times), 3),
            "p99": round(sorted(times)[int(len(times) * 0.99)], 3),
        }

    digest = recipient_digest("+84901234567")
    return {
        # Half registered, half not, as the cold case of run.py.
        "number_facts": sample(
            lambda: selectors.number_facts(f"+8491{random.randrange(2 * phones):07d}")  # noqa: S311
        ),
        "parcel_and_call": sample(
            lambda: selectors.parcel_and_call(
                f"+8491{random.randrange(phones):07d}",  # noqa: S311
                tracking_code=f"BN{random.randrange(assignments):010d}",  # noqa: S311
                digest=digest,
            )
        ),
    }


def national_day(cursor, keep_days: int) -> dict:
    """A national day's partition: every seeded assignment again (10 M at full scale) as
    made on one day, the day before the oldest kept one; then dropped by the retention
    service as every night. Built as a plain table, indexed, then attached: inserting into
    an indexed partition row by row would take as long as the seed."""
    from django.db import transaction
    from django.utils import timezone

    from registry import partitions, services

    day = timezone.localdate() - timedelta(days=keep_days + 1)
    name, parent = partitions.name_for(day), partitions.PARENT
    cursor.execute(
        "SELECT string_agg(CASE attname WHEN 'created_at' THEN %s ELSE quote_ident(attname) "
        "END, ', ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = %s::regclass "
        "AND attnum > 0 AND NOT attisdropped",
        [f"'{partitions.day_start(day) + timedelta(hours=12)}'::timestamptz", parent],
    )
    (columns,) = cursor.fetchone()
    started = time.perf_counter()
    with transaction.atomic():  # a failure leaves no half-made day behind
        cursor.execute(f'DROP TABLE IF EXISTS "{name}"')  # the empty partition of that day
        cursor.execute(
            f'CREATE TABLE "{name}" (LIKE "{parent}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)'
        )
        cursor.execute(f'INSERT INTO "{name}" SELECT {columns} FROM "{parent}"')
        cursor.execute(f'CREATE UNIQUE INDEX "{name}_code" ON "{name}" (carrier_id, tracking_code)')
        low, high = partitions.day_start(day), partitions.day_start(day + timedelta(days=1))
        cursor.execute(
            f'ALTER TABLE "{parent}" ATTACH PARTITION "{name}" '
            f"FOR VALUES FROM ('{low.isoformat()}') TO ('{high.isoformat()}')"
        )
    build_seconds = time.perf_counter() - started
    cursor.execute(
        "SELECT count(*), pg_relation_size(%s::regclass), (SELECT json_object_agg("
        "i.indexrelid::regclass, pg_relation_size(i.indexrelid)) FROM pg_index i "
        f'WHERE i.indrelid = %s::regclass) FROM "{name}"',
        [name, name],
    )
    rows, heap, indexes = cursor.fetchone()
    started = time.perf_counter()
    dropped = services.assignments_purge_expired(keep_days=keep_days)
    return {
        "rows": rows,
        "build_seconds": round(build_seconds),
        "heap_MB": round(heap / 2**20),
        "index_MB": {
            key.removeprefix(name + "_"): round(size / 2**20) for key, size in indexes.items()
        },
        "partition_drop_seconds": round(time.perf_counter() - started, 3),
        "days_dropped": [d.isoformat() for d in dropped],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("database_url")
    parser.add_argument("--national-day", action="store_true")
    args = parser.parse_args()
    database_url = args.database_url
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from registry import partitions, services

    report = {"database": database_url.rsplit("/", 1)[1]}
    with connection.cursor() as cursor:
        cursor.execute("SELECT phones, assignments FROM bench_meta")
        phones, assignments = cursor.fetchone()
        report |= {"phones": phones, "assignments": assignments}
        report["layout"] = partition_sizes(cursor)
    log(f"layout: {json.dumps(report['layout'])}")

    lookup_ms(200, phones, assignments)  # warm the prepared statements and the cache
    report["lookup_db_ms"] = lookup_ms(2000, phones, assignments)
    log(f"lookup: {json.dumps(report['lookup_db_ms'])}")

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (min(created_at) AT TIME ZONE %s)::date FROM registry_deliveryassignment",
            [settings.TIME_ZONE],
        )
        (oldest,) = cursor.fetchone()
    # Everything but the oldest day that has rows (and any empty day before it).
    keep_days = (timezone.localdate() - oldest).days - 1
    first_kept = partitions.day_start(oldest + timedelta(days=1))
    with connection.cursor() as cursor:
        update_seconds, updated = row_purge_seconds(cursor, first_kept)
        cursor.execute("DELETE FROM bench_meta")  # one day gone below: re-seed next time
    started = time.perf_counter()
    dropped = services.assignments_purge_expired(keep_days=keep_days)
    drop_seconds = time.perf_counter() - started
    report["purge_one_day"] = {
        "rows": updated,
        "row_update_seconds": round(update_seconds, 3),
        "partition_drop_seconds": round(drop_seconds, 3),
        "days_dropped": [day.isoformat() for day in dropped],
        "retention_days": settings.RETENTION_DAYS,
    }
    log(f"purge: {json.dumps(report['purge_one_day'])}")
    if args.national_day:
        with connection.cursor() as cursor:
            report["national_day"] = national_day(cursor, keep_days)
        log(f"national day: {json.dumps(report['national_day'])}")
    path = BENCH_DIR / "results" / f"scale-{report['database']}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
