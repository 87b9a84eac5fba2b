"""Settings come from the environment and refuse bad values loudly."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def receipt_key_pem() -> str:
    from joserfc.jwk import ECKey

    return ECKey.generate_key("P-256").as_pem(private=True).decode()


def manage(*args, **env):
    # A fresh process with no environment of the test run (browser tests set
    # DJANGO_ALLOW_ASYNC_UNSAFE, which --deploy rightly warns about).
    dropped = {"DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEBUG", "maybe"),
        ("API_RATE_LIMIT", "fast"),
        ("WEB_RATE_LIMIT", "0/min"),
        ("REPORT_THRESHOLD", "zero"),
        ("TRUSTED_PROXY_COUNT", "-1"),
    ],
)
def test_a_malformed_value_stops_the_process(name, value):
    result = manage("check", **{name: value})
    assert result.returncode != 0
    assert name in result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    result = manage("check", DEBUG="0", ALLOWED_HOSTS="registry.example")
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_the_deployment_checks_pass_with_debug_off():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="registry.example",
        RECEIPT_SIGNING_KEY=receipt_key_pem(),
    )
    assert result.returncode == 0, result.stderr


def test_a_plain_http_test_host_can_turn_the_secure_defaults_down():
    code = (
        "from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"
    )
    result = manage(
        "shell",
        "-v",
        "0",
        "-c",
        code,
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="h",
        RECEIPT_SIGNING_KEY=receipt_key_pem(),
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
    )
    assert result.stdout.split() == ["False", "False", "False"], result.stderr


REPLICA = "postgres://postgres@127.0.0.1:5432/registry_replica"


def test_with_a_replica_cached_verdicts_and_the_replicas_staleness_stay_within_a_minute():
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings; "
        "print(settings.VERDICT_CACHE_SECONDS + settings.REPLICA_STALENESS_SECONDS)",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/registry",
        DATABASE_REPLICA_URL=REPLICA,
        REPLICA_MAX_LAG_SECONDS="5",
        REPLICA_CHECK_SECONDS="1",
    )
    assert result.stdout.split()[-1] == "36", result.stderr  # 30 + 5 + 1


@pytest.mark.parametrize(
    ("name", "value"),
    [("VERDICT_CACHE_SECONDS", "60"), ("REPLICA_MAX_LAG_SECONDS", "60")],
)
def test_a_replica_setting_that_lets_answers_grow_older_than_a_minute_stops_the_process(
    name, value
):
    result = manage(
        "check",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/registry",
        DATABASE_REPLICA_URL=REPLICA,
        **{name: value},
    )
    assert result.returncode != 0 and name in result.stderr


def test_a_replica_of_another_kind_than_the_primary_stops_the_process():
    result = manage("check", DATABASE_REPLICA_URL=REPLICA)  # the primary is SQLite
    assert result.returncode != 0 and "DATABASE_REPLICA_URL" in result.stderr
