"""A bad day in the data centre, for real: Redis stops, the database is unreachable, the
broker is down. The registry degrades; it does not fail or hang."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import transaction

from registry import services as registry_services
from tests.api_client import call, make_key
from tests.integration.conftest import broker_unreachable, wait_for
from tests.test_settings import receipt_key_pem
from tests.webhook_server import WebhookReceiver
from verification.models import WebhookDelivery

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A redis-server of this test's own, so that stopping it harms nobody else."""

    def __init__(self, tmp_path):
        self.port, self.dir, self.process = free_port(), tmp_path, None

    def start(self):
        self.process = subprocess.Popen(  # noqa: S603
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",  # noqa: S607
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: _answers(self.port), timeout=10)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"


def _answers(port):
    """redis to accept connections"""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.fixture
def redis_server(tmp_path, settings):
    server = PrivateRedis(tmp_path)
    server.start()
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": server.url,
            "KEY_PREFIX": "faults",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    yield server
    if server.process.poll() is None:
        server.stop()


@pytest.mark.django_db(transaction=True)
def test_lookups_answer_from_the_database_while_redis_is_down_and_recover(
    client, redis_server, staff_a
):
    key = make_key(None, "partner")
    assert call(client, "GET", "/api/v1/numbers/0912345678/", key).json()["status"] == "verified"

    redis_server.stop()
    started = time.monotonic()
    body = call(client, "GET", "/api/v1/numbers/0912345678/", key).json()
    assert body["status"] == "verified"
    assert call(client, "GET", "/api/v1/numbers/0901111222/", key).json()["status"] == "unknown"
    assert time.monotonic() - started < 5  # degraded, not hanging
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["cache"].startswith("down")
    # A revocation made while the cache is down shows at once: the database answers.
    registry_services.staff_revoke(staff=staff_a)
    assert call(client, "GET", "/api/v1/numbers/0912345678/", key).json()["status"] == "revoked"

    redis_server.start()
    assert client.get("/readyz").status_code == 200
    assert call(client, "GET", "/api/v1/numbers/0912345678/", key).json()["status"] == "revoked"


@pytest.mark.django_db(transaction=True)
def test_rate_limits_fall_back_to_this_process_while_redis_is_down(client, redis_server, staff_a):
    key = make_key(None, "walker", rate_limit="5/min")
    redis_server.stop()
    statuses = [
        call(client, "GET", f"/api/v1/numbers/09011112{i:02d}/", key).status_code for i in range(8)
    ]
    assert statuses == [200] * 5 + [429] * 3


def _serve(env_overrides: dict):
    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "s" * 60,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "ACCESS_LOG": "0",
        "RECEIPT_SIGNING_KEY": receipt_key_pem(),
        **env_overrides,
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "config.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: _answers(port), timeout=30)
    return process, f"http://127.0.0.1:{port}"


def _get(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_an_unreachable_database_answers_503_quickly_in_the_error_shape(tmp_path):
    process, base = _serve({"DATABASE_URL": "postgres://postgres@127.0.0.1:1/nowhere"})
    try:
        lookup = (
            f"{base}/api/v1/numbers/0912345678/",
            {"Authorization": "Api-Key abcdefgh.0123456789abcdef0123456789abcdef"},
        )
        assert _get(*lookup)[0] == 503  # the first request also loads the API's code: not timed
        started = time.monotonic()
        status, body = _get(*lookup)
        elapsed = time.monotonic() - started
        assert status == 503, body
        error = json.loads(body)["error"]
        assert error["code"] == "service_unavailable" and "Traceback" not in body.decode()
        assert elapsed < 5
        status, body = _get(f"{base}/readyz")
        assert status == 503 and json.loads(body)["checks"]["database"].startswith("down")
        assert _get(f"{base}/healthz")[0] == 200
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.mark.django_db(transaction=True)
def test_a_report_made_while_the_broker_is_down_succeeds_and_its_alert_is_delivered_later(
    client, carrier_a, celery_worker_process
):
    from datetime import timedelta

    from django.utils import timezone

    from verification.tasks import sweep_pending_webhooks

    with WebhookReceiver() as receiver:
        carrier_a.webhook_url, carrier_a.webhook_secret = receiver.url, "secret"
        carrier_a.save(update_fields=["webhook_url", "webhook_secret"])
        with broker_unreachable():
            response = call(
                client,
                "POST",
                "/api/v1/reports/",
                None,
                {"number": "0901 111 222", "claimed_carrier": "alpha-post"},
            )
        assert response.status_code == 201
        delivery = WebhookDelivery.objects.get()
        assert delivery.status == "pending"
        WebhookDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=5))
        with transaction.atomic():
            sweep_pending_webhooks.apply()
        wait_for(lambda: WebhookDelivery.objects.get().status == "delivered")
    assert len(receiver.received) == 1
