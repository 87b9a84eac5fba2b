"""Nothing lost when a disk dies: continuous WAL archiving and a base backup restore the
database to a point in time, tried for real on a throwaway cluster (docs/deploy.md, "Backups
and point-in-time recovery", gives the same steps and the times this drill measured).

The timings are written to tests/artifacts/pitr.json (ignored by git)."""

import json
import time
from pathlib import Path

import pytest

from tests.replica import cluster as pg

pytestmark = pytest.mark.replica

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ROWS = 50_000


def test_a_dead_primary_is_restored_to_the_moment_before_the_damage(pg_workspace):
    archive = pg_workspace.root / "wal-archive"
    pg.run("mkdir", "-p", archive)
    timings = {}

    origin = pg_workspace.cluster("origin").initdb()
    origin.start(
        "wal_level=replica",
        "archive_mode=on",
        f"archive_command='test ! -f {archive}/%f && cp %p {archive}/%f'",
    )
    started = time.monotonic()
    base = pg_workspace.cluster("base").basebackup_of(origin, "-X", "stream")
    timings["base_backup_seconds"] = round(time.monotonic() - started, 2)

    # Written after the base backup: only the archived WAL can bring these back.
    origin.sql(
        "CREATE TABLE parcels AS SELECT i AS id, 'BN' || i AS code "
        f"FROM generate_series(1, {ROWS}) i"
    )
    (target,) = origin.sql("SELECT clock_timestamp()")[0]
    time.sleep(1)  # the damage comes strictly after the target
    origin.sql("DELETE FROM parcels WHERE id % 2 = 0")  # the mistake, or the attack
    (segment,) = origin.sql("SELECT pg_walfile_name(pg_switch_wal())")[0]
    origin.wait_until("SELECT last_archived_wal FROM pg_stat_archiver", segment)

    origin.stop()  # the disk dies: the data directory is gone
    pg.run("rm", "-rf", origin.data)

    started = time.monotonic()
    restored = pg_workspace.cluster("restored")
    pg.run("cp", "-a", base.data, restored.data)
    pg.run("touch", restored.data / "recovery.signal")
    restored.start(
        f"restore_command='cp {archive}/%f %p'",
        f"recovery_target_time='{target.isoformat()}'",
        "recovery_target_action=promote",
    )
    restored.wait_until("SELECT pg_is_in_recovery()", False, timeout=120)
    timings["restore_seconds"] = round(time.monotonic() - started, 2)

    assert restored.sql("SELECT count(*) FROM parcels") == [(ROWS,)]
    restored.sql("INSERT INTO parcels VALUES (0, 'BN0')")  # promoted: writable again
    (archived,) = restored.sql(
        f"SELECT count(*) FROM pg_ls_dir('{archive}') f WHERE f ~ '^[0-9A-F]{{24}}$'"
    )[0]
    timings |= {"rows": ROWS, "wal_segments_archived": archived}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "pitr.json").write_text(json.dumps(timings, indent=2) + "\n")
