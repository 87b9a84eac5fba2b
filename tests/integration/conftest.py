"""A real Celery worker process on the real Redis broker, against the test database.

The worker is a subprocess with the tests' environment, pointed at the database that
pytest-django created (test_<name>). Tests that hand it work must commit it: they use
`transactional_db`."""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def _worker_env() -> dict:
    database = settings.DATABASES["default"]
    env = dict(os.environ)
    env["DATABASE_URL"] = (
        f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    )
    env["WEBHOOK_RETRY_BASE_SECONDS"] = "0"
    env["WEBHOOK_TIMEOUT_SECONDS"] = "2"
    env["WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.0/8"  # the tests' receivers (tests/conftest.py)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _celery(*args, env, **kwargs):
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "celery", "-A", "config", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        **kwargs,
    )


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """Starts once per session, after the test database exists; stopped at the end."""
    env = _worker_env()
    # Tasks that unit tests enqueued for rows they rolled back: not this worker's business.
    _celery("purge", "-f", env=env, check=True)
    log = tmp_path_factory.mktemp("celery") / "worker.log"
    with open(log, "w") as out:
        process = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "--concurrency=1",
                "-l",
                "info",
                "-n",
                f"test-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the Celery worker exited: {log.read_text()[-2000:]}")
        ping = _celery(
            "inspect",
            "ping",
            "-d",
            f"test-{os.getpid()}@{os.uname().nodename}",
            "--timeout",
            "2",
            env=env,
        )
        if ping.returncode == 0 and "pong" in ping.stdout:
            break
    else:
        process.kill()
        pytest.fail(f"the Celery worker did not answer a ping: {log.read_text()[-2000:]}")
    yield process
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_for(condition, timeout: float = 30, interval: float = 0.2):
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {condition.__doc__ or condition}")


@contextmanager
def broker_unreachable():
    """This process's producer points at a closed port: publishing fails as it does when
    Redis is down, while the worker keeps its own connection to the real broker."""
    from config.celery import app

    # Celery reads the CELERY_BROKER_URL environment variable before its own setting.
    closed = "redis://127.0.0.1:1/0"
    real = os.environ.get("CELERY_BROKER_URL"), app.conf.broker_url
    os.environ["CELERY_BROKER_URL"] = app.conf.broker_url = closed
    app._after_fork()  # drop the pooled connections to the real broker
    try:
        yield
    finally:
        real_environment, app.conf.broker_url = real
        if real_environment is None:
            del os.environ["CELERY_BROKER_URL"]
        else:
            os.environ["CELERY_BROKER_URL"] = real_environment
        app._after_fork()
