"""One throwaway primary and hot standby per session, and the app served against them.

The app runs as its own process (gunicorn, one worker) with DATABASE_URL on the primary and
DATABASE_REPLICA_URL on the standby, migrated by `manage.py migrate` like a real deployment:
the tests drive it over HTTP, write through the carrier API and look up through the partner
API, as a deployment with a replica would be used."""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.replica import cluster as pg

ROOT = Path(__file__).resolve().parents[2]
# Lookups fall back to the primary beyond this lag; short, so the tests wait little.
MAX_LAG_SECONDS = 3


@pytest.fixture(scope="session")
def pg_workspace():
    workspace = pg.Workspace()
    yield workspace
    workspace.close()


@pytest.fixture(scope="session")
def pg_pair(pg_workspace):
    """(primary, standby): streaming replication, the standby open for reads."""
    primary = pg_workspace.cluster("primary").initdb().start("wal_level=replica")
    standby = pg_workspace.cluster("standby").basebackup_of(primary, "-R", "-X", "stream")
    standby.start("hot_standby=on")
    standby.wait_until("SELECT pg_is_in_recovery()", True)
    return primary, standby


KEYS_SCRIPT = """
from io import StringIO
from django.core.management import call_command
call_command("create_carrier", "replica-post", "--name", "Replica Post", stdout=StringIO())
for args in (["dispatch", "--carrier", "replica-post"], ["partner"]):
    out = StringIO()
    call_command("create_api_key", *args, stdout=out)
    print(out.getvalue().split()[-1])
"""


def _manage(env: dict, *args: str) -> str:
    done = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


class App:
    def __init__(self, base: str, carrier_key: str, partner_key: str):
        self.base, self.carrier_key, self.partner_key = base, carrier_key, partner_key

    def call(self, method: str, path: str, body=None, key: str | None = None):
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}
            | ({"Authorization": f"Api-Key {key}"} if key else {}),
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")


@pytest.fixture(scope="session")
def replicated_app(pg_pair, tmp_path_factory):
    primary, standby = pg_pair
    primary.sql("CREATE DATABASE registry16")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_URL", "CELERY_BROKER_URL", "DATABASE_URL"}
    }
    env.update(
        DATABASE_URL=primary.url("registry16"),
        DATABASE_REPLICA_URL=standby.url("registry16"),
        REPLICA_MAX_LAG_SECONDS=str(MAX_LAG_SECONDS),
        REPLICA_CHECK_SECONDS="1",
        # No verdict cache: every lookup below reads the database, so what it answers says
        # which database it read.
        VERDICT_CACHE_SECONDS="0",
        CONN_MAX_AGE="0",
        PYTHONUNBUFFERED="1",
    )
    _manage(env, "migrate", "--noinput")
    # The carrier and both keys in one process: each start of Django costs seconds here.
    carrier_key, partner_key = _manage(env, "shell", "-c", KEYS_SCRIPT).split()[-2:]
    port = pg.free_port()
    log = tmp_path_factory.mktemp("replicated-app") / "gunicorn.log"
    with open(log, "w") as out:
        server = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "config.wsgi"],
            cwd=ROOT,
            env=env | {"BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1", "ACCESS_LOG": "0"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    app = App(f"http://127.0.0.1:{port}", carrier_key, partner_key)
    deadline = time.monotonic() + 30
    while True:
        try:
            if app.call("GET", "/healthz")[0] == 200:
                break
        except OSError:
            pass
        assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)
    yield app
    server.terminate()
    server.wait(timeout=20)
