"""The lookup path reads from a real streaming replica, and from the primary when the replica
is down or lags more than REPLICA_MAX_LAG_SECONDS (core/replica.py)."""

import time

import pytest

from tests.replica.conftest import MAX_LAG_SECONDS

pytestmark = pytest.mark.replica

# Beyond the bound, a lookup sees the primary within one probe interval (1 s); the rest is
# room for a busy machine.
FALLBACK_WITHIN = MAX_LAG_SECONDS + 1 + 5


def _enrol(app, code: str, number: str) -> None:
    status, body = app.call(
        "PUT",
        f"/api/v1/carrier/staff/{code}/",
        {"full_name": "Lê Thị Hoa", "phones": [number], "status": "active"},
        key=app.carrier_key,
    )
    assert status in (200, 201), body


def _status(app, number: str) -> str:
    status, body = app.call("GET", f"/api/v1/numbers/{number}/", key=app.partner_key)
    assert status == 200, body
    return body["status"]


def _eventually(check, timeout: float) -> float:
    """Seconds until check() holds; fails after timeout."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, "never happened"
        time.sleep(0.1)
    return time.monotonic() - started


def _readyz(app) -> dict:
    status, body = app.call("GET", "/readyz")
    assert status == 200, body  # the replica is reported, never required
    return body["replica"]


def test_a_write_on_the_primary_is_seen_by_lookups_after_replication(replicated_app):
    app = replicated_app
    _enrol(app, "R001", "0912 160 001")
    _eventually(lambda: _status(app, "0912160001") == "verified", timeout=10)

    status, body = app.call(
        "POST",
        "/api/v1/carrier/assignments/",
        {"assignments": [{"tracking_code": "RP0001VN", "employee_code": "R001"}]},
        key=app.carrier_key,
    )
    assert (status, body["created"]) == (200, 1), body

    def matches():
        status, body = app.call(
            "POST",
            "/api/v1/verifications/",
            {"number": "0912160001", "tracking_code": "RP0001VN"},
            key=app.partner_key,
        )
        assert status == 200, body
        return body["assignment"]["matches"]

    _eventually(matches, timeout=10)
    replica = _readyz(app)
    assert (replica["status"], replica["lookups_read_from"]) == ("ok", "replica")


def test_lookups_read_the_replica_until_it_lags_beyond_the_bound(replicated_app, pg_pair):
    app, (_primary, standby) = replicated_app, pg_pair
    # A fresh write replayed just before the pause: the replica's lag is counted from it.
    _enrol(app, "R002", "0912 160 002")
    _eventually(lambda: _status(app, "0912160002") == "verified", timeout=10)
    standby.sql("SELECT pg_wal_replay_pause()")
    try:
        _enrol(app, "R003", "0912 160 003")  # committed on the primary, not replayed
        # Read from the replica, which has not replayed it: not yet registered.
        assert _status(app, "0912160003") == "unknown"
        # Once the lag passes the bound, lookups read the primary, which has it.
        _eventually(lambda: _status(app, "0912160003") == "verified", timeout=FALLBACK_WITHIN)
        replica = _readyz(app)
        assert (replica["status"], replica["lookups_read_from"]) == ("lagging", "primary")
        assert replica["lag_seconds"] > MAX_LAG_SECONDS
    finally:
        standby.sql("SELECT pg_wal_replay_resume()")
    _eventually(lambda: _readyz(app)["status"] == "ok", timeout=10)


def test_lookups_fall_back_to_the_primary_when_the_standby_stops(replicated_app, pg_pair):
    app, (_primary, standby) = replicated_app, pg_pair
    standby.stop()
    try:
        _enrol(app, "R004", "0912 160 004")
        assert _status(app, "0912160004") == "verified"  # from the primary, at once
        replica = _readyz(app)
        assert (replica["status"], replica["lookups_read_from"]) == ("down", "primary")
    finally:
        standby.start(*standby.settings)
    _eventually(lambda: _readyz(app)["status"] == "ok", timeout=20)
    assert _status(app, "0912160004") == "verified"  # the standby caught up
