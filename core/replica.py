"""Lookup reads from a streaming replica (DATABASE_REPLICA_URL), with the primary behind it.

The lookup path (verdict facts, the parcel-and-call check, the carrier directory) asks
`read(fn)` to run its query on the `replica` alias, or on `default` when there is no
replica, when it is down, or when it lags more than REPLICA_MAX_LAG_SECONDS behind. Every
write, and every read that must see its own write (carrier API, admin, imports), uses
`default`: the router below sends writes there whatever alias a row was read from, and
nothing but the lookup path ever names the replica.

The replica's state is probed at most every REPLICA_CHECK_SECONDS per process, so a lookup
pays no extra round trip. A lookup may therefore read data up to REPLICA_MAX_LAG_SECONDS +
REPLICA_CHECK_SECONDS old: settings.py shortens the cache lifetimes by that much, so that no
answer reflects a committed write's old state for more than 60 seconds.
"""

import logging
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import TypeVar

from django.conf import settings
from django.db import DatabaseError, connections

logger = logging.getLogger(__name__)

DEFAULT, REPLICA = "default", "replica"
T = TypeVar("T")

# Replayed everything it received: no lag, however long ago the last write was. Otherwise
# the age of the last transaction it replayed (the primary's commit time).
LAG_SQL = (
    "SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
    "ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END "
    "WHERE pg_is_in_recovery() "
    "UNION ALL SELECT 0 WHERE NOT pg_is_in_recovery()"
)


@dataclass(frozen=True)
class State:
    status: str  # "ok", "lagging" or "down"
    lag_seconds: float | None = None
    error: str = ""

    @property
    def usable(self) -> bool:
        return self.status == "ok"

    def as_json(self) -> dict:
        return {
            "status": self.status,
            "lag_seconds": None if self.lag_seconds is None else round(self.lag_seconds, 3),
            "max_lag_seconds": settings.REPLICA_MAX_LAG_SECONDS,
            "lookups_read_from": "replica" if self.usable else "primary",
            **({"error": self.error} if self.error else {}),
        }


_lock = threading.Lock()
_last: tuple[float, State] | None = None  # (monotonic time of the probe, its result)


def configured() -> bool:
    return REPLICA in settings.DATABASES


def _close_replica() -> None:
    with suppress(Exception):
        connections[REPLICA].close()


def probe() -> State:
    """Ask the replica now how far behind it is."""
    global _last
    try:
        with connections[REPLICA].cursor() as cursor:
            cursor.execute(LAG_SQL)
            (lag,) = cursor.fetchone()
    except DatabaseError as exc:
        _close_replica()
        state = State("down", error=type(exc).__name__)
    else:
        # NULL: it has replayed no transaction yet, so how far behind it is is unknown.
        if lag is None:
            state = State("lagging")
        else:
            lag = max(0.0, float(lag))
            state = State("ok" if lag <= settings.REPLICA_MAX_LAG_SECONDS else "lagging", lag)
    with _lock:
        _last = (time.monotonic(), state)
    if not state.usable:
        logger.warning("replica %s: lookups read from the primary", state.status)
    return state


def state() -> State:
    """The replica's state as probed at most REPLICA_CHECK_SECONDS ago."""
    last = _last
    if last is not None and time.monotonic() - last[0] < settings.REPLICA_CHECK_SECONDS:
        return last[1]
    return probe()


def lookup_alias() -> str:
    return REPLICA if configured() and state().usable else DEFAULT


def read(query: Callable[[str], T]) -> T:
    """`query(alias)` on the replica when it is usable, else on the primary; a replica that
    fails during the query is marked down and the query runs again on the primary."""
    alias = lookup_alias()
    if alias == DEFAULT:
        return query(DEFAULT)
    try:
        return query(alias)
    except DatabaseError as exc:
        global _last
        _close_replica()
        with _lock:
            _last = (time.monotonic(), State("down", error=type(exc).__name__))
        logger.warning("replica failed during a lookup (%s): read from the primary", exc)
        return query(DEFAULT)


def forget() -> None:
    """Probe again on the next lookup (tests; after a failover)."""
    global _last
    with _lock:
        _last = None


class PrimaryReplicaRouter:
    """Writes and migrations go to the primary, whatever alias a row was read from.

    Reads are left to Django's default (the primary, or the alias a related row came from):
    only the lookup path names the replica, through `read`."""

    def db_for_write(self, model, **hints) -> str:
        return DEFAULT

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True  # both aliases hold the same database

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool:
        return db == DEFAULT
