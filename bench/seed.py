"""Seeds PostgreSQL at scale with set-based SQL (generate_series): millions of rows in
minutes, no Python loop per row. Staff k has the phone +8491<k, 7 digits>, works for carrier
k % 20 and holds the parcels BN<i> with i % staff = k, all out for delivery (so each is an
open parcel too). Parcel i was assigned i % DAYS days ago: the assignments fill one day
partition each of the retention period, as in production (run.py creates those partitions
before seeding)."""

import psycopg

CARRIERS = 20
FULL_PHONES = 1_000_000
FULL_ASSIGNMENTS = 10_000_000
DAYS = 90  # RETENTION_DAYS


def sizes(scale: float) -> tuple[int, int]:
    phones = max(CARRIERS * 10, int(FULL_PHONES * scale))
    assignments = max(phones, int(FULL_ASSIGNMENTS * scale))
    return phones, assignments


def seeded(conn, phones: int, assignments: int) -> bool:
    conn.execute("CREATE TABLE IF NOT EXISTS bench_meta (phones int, assignments int)")
    row = conn.execute("SELECT phones, assignments FROM bench_meta").fetchone()
    return row == (phones, assignments)


def seed(database_url: str, phones: int, assignments: int, log=print) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        if seeded(conn, phones, assignments):
            log(f"seed: already {phones:,} phones and {assignments:,} assignments")
            return
        log(
            f"seed: {phones:,} staff phones across {CARRIERS} carriers, {assignments:,} assignments"
        )
        conn.execute(
            "TRUNCATE registry_deliveryassignment, registry_staffphone, registry_staffmember, "
            "registry_officialchannel, registry_clientapikey, registry_carrier, "
            "verification_callintent, verification_scamreport, bench_meta CASCADE"
        )
        conn.execute(
            """INSERT INTO registry_carrier (slug, name, is_active, webhook_url, webhook_secret,
                                             created_at)
               SELECT 'bench-' || lpad(c::text, 2, '0'), 'Bench Carrier ' || c, true, '', '', now()
               FROM generate_series(0, %s - 1) c""",
            (CARRIERS,),
        )
        conn.execute(
            """INSERT INTO registry_officialchannel (carrier_id, kind, value, label)
               SELECT id, 'hotline', '+841900' || lpad((id % 10000)::text, 4, '0'), ''
               FROM registry_carrier"""
        )
        conn.execute(
            """WITH c AS (SELECT array_agg(id ORDER BY slug) AS ids FROM registry_carrier)
               INSERT INTO registry_staffmember (carrier_id, employee_code, full_name, status,
                                                 region, created_at, updated_at)
               SELECT c.ids[1 + k %% %s], 'E' || k, 'Nguyễn Văn Bench ' || k, 'active', '',
                      now(), now()
               FROM generate_series(0, %s - 1) k, c""",
            (CARRIERS, phones),
        )
        conn.execute(
            """INSERT INTO registry_staffphone (staff_id, carrier_id, number, status, created_at)
               SELECT id, carrier_id, '+8491' || lpad(substr(employee_code, 2), 7, '0'),
                      'active', now()
               FROM registry_staffmember"""
        )
        first_staff = conn.execute("SELECT min(id) FROM registry_staffmember").fetchone()[0]
        conn.execute(
            """WITH c AS (SELECT array_agg(id ORDER BY slug) AS ids FROM registry_carrier)
               INSERT INTO registry_deliveryassignment
                   (carrier_id, tracking_code, staff_id, recipient_digest, status,
                    created_at, updated_at, parcel_token)
               SELECT c.ids[1 + (i %% %s) %% %s], 'BN' || lpad(i::text, 10, '0'),
                      %s + (i %% %s), md5(i::text) || md5((i + 1)::text), 'out_for_delivery',
                      now() - (i %% %s) * interval '1 day', now(), md5('parcel' || i::text)
               FROM generate_series(0, %s - 1) i, c""",
            (phones, CARRIERS, first_staff, phones, DAYS, assignments),
        )
        conn.execute(
            """INSERT INTO registry_openparcel (carrier_id, tracking_code, staff_id)
               SELECT carrier_id, tracking_code, staff_id FROM registry_deliveryassignment"""
        )
        conn.execute("ANALYZE")
        conn.execute("INSERT INTO bench_meta VALUES (%s, %s)", (phones, assignments))


def prewarm(database_url: str, log=print) -> None:
    """Read what the lookups touch into shared_buffers, as a replica that has served them
    for a while holds it (or pg_prewarm's autoprewarm after a restart): every table and
    index of the registry, and of the assignments the indexes a lookup searches, (carrier,
    tracking code) and staff; not their heap, of which a lookup reads the one row it found."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        rows = conn.execute(
            r"""SELECT count(*), coalesce(sum(pg_prewarm(c.oid)), 0) FROM pg_class c
               WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'i')
                 AND (c.relname NOT LIKE 'registry\_deliveryassignment%'
                      OR c.relname ~ '_p\d{8}_(code|staff_id_idx)$')"""
        ).fetchone()
    log(f"prewarm: {rows[0]} relations, {rows[1] * 8 // 1024} MB")
