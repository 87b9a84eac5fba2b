"""The production web tier as `scripts/serve` starts it (nginx in front of gunicorn), tried
with what broke it: slow clients, chunked bodies, forged forwarding headers, a frozen Redis
and an unreachable database. Figures are printed (`-s`) for the closing notes."""

import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from core import resilient_cache
from registry.freshness import CARRIERS_KEY
from tests.api_client import make_key
from tests.integration.conftest import _worker_env, wait_for
from tests.integration.test_faults import PrivateRedis, free_port
from tests.test_settings import receipt_key_pem
from verification import selectors as verification_selectors

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
LOOKUP = "/api/v1/numbers/0912345678/"


class Tier:
    """scripts/serve in a process group of its own, so that stopping it stops nginx and
    gunicorn too."""

    def __init__(self, **env_overrides):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **_worker_env(),
            "DEBUG": "0",
            "SECRET_KEY": "s" * 60,
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "RECEIPT_SIGNING_KEY": receipt_key_pem(),
            "PORT": str(self.port),
            "WEB_CONCURRENCY": "2",
            "ACCESS_LOG": "0",
            "LOG_LEVEL": "ERROR",
            **env_overrides,
        }
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        self.process = subprocess.Popen(  # noqa: S603
            [str(ROOT / "scripts" / "serve")],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(self._healthy, timeout=60)

    def _healthy(self):
        """scripts/serve to answer /healthz"""
        if self.process.poll() is not None:
            pytest.fail("scripts/serve exited")
        try:
            return get(f"{self.base}/healthz", timeout=2)[0] == 200
        except OSError:
            return False

    def stop(self):
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def serve():
    tiers = []

    def start(**env):
        tiers.append(Tier(**env))
        return tiers[-1]

    yield start
    for tier in tiers:
        tier.stop()


def get(url, headers=None, timeout=15, data=None, method=None):
    request = urllib.request.Request(url, headers=headers or {}, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def post(port: int, path: str, headers: dict, body, source="127.0.0.1") -> tuple[int, bytes]:
    """POST from `source` (any 127.0.0.0/8 address is this host); a `body` that is not bytes
    (an iterator of pieces) is sent chunked, without Content-Length."""
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=15, source_address=(source, 0)
    )
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def pieces(body: bytes, size: int = 4096):
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.django_db(transaction=True)
def test_two_hundred_slow_clients_do_not_delay_healthz(serve):
    tier = serve()
    slow = []
    for i in range(200):
        sock = socket.create_connection(("127.0.0.1", tier.port), timeout=5)
        if i % 2:  # headers that never end
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        else:  # a body that never ends
            sock.sendall(
                b"POST /api/v1/reports/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
            )
        slow.append(sock)
    stop = threading.Event()

    def drip():
        while not stop.wait(1):
            for sock in slow:
                try:
                    sock.sendall(b"a")
                except OSError:
                    pass

    dripper = threading.Thread(target=drip, daemon=True)
    dripper.start()
    latencies = []
    try:
        for _ in range(12):
            (status, _body, _headers), elapsed = timed(
                lambda: get(f"{tier.base}/healthz", timeout=5)
            )
            assert status == 200
            latencies.append(elapsed)
            time.sleep(0.5)
        # Still holding them all: none was dropped or answered early.
        held = sum(1 for sock in slow if _still_open(sock))
    finally:
        stop.set()
        dripper.join(5)
        for sock in slow:
            sock.close()
    print(
        f"\nslow clients held: {held}/200; /healthz max {max(latencies):.3f}s, "
        f"median {sorted(latencies)[len(latencies) // 2]:.3f}s"
    )
    assert held == 200
    assert max(latencies) < 1.0


def _still_open(sock) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True  # nothing to read: open and waiting
    except OSError:
        return False
    finally:
        sock.setblocking(True)


@pytest.mark.django_db(transaction=True)
def test_chunked_bodies_are_read_and_over_a_megabyte_is_413(serve, staff_a):
    key = make_key(None, "partner")
    tier = serve()
    body = json.dumps({"number": "0912 345 678"}).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Api-Key {key}"}
    status, answer = post(tier.port, "/api/v1/verifications/", headers, pieces(body, 7))
    assert status == 200, answer
    assert json.loads(answer)["status"] == "verified"

    # Exactly the limit is taken, as a whole body or chunked.
    room = 1_048_576 - len(json.dumps({"number": "0912345678", "pad": ""}))
    exact = json.dumps({"number": "0912345678", "pad": "x" * room}).encode()
    assert len(exact) == 1_048_576
    assert post(tier.port, "/api/v1/verifications/", headers, exact)[0] == 200
    assert post(tier.port, "/api/v1/verifications/", headers, pieces(exact))[0] == 200

    big = json.dumps({"number": "0912345678", "pad": "x" * 1_100_000}).encode()
    status, answer = post(tier.port, "/api/v1/verifications/", headers, pieces(big))
    assert status == 413
    assert json.loads(answer)["error"]["code"] == "body_too_large"


def test_chunked_bodies_reach_django_through_gunicorn_alone_too(tmp_path):
    """The WSGI wrapper (core/bodies.py): for gunicorn reached without the nginx in front."""
    port = free_port()
    env = {
        **_worker_env(),
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "ACCESS_LOG": "0",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/nowhere",
    }
    process = subprocess.Popen(  # noqa: S603
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", "gunicorn.conf.py", "config.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: _port_open(port), timeout=30)
        headers = {"Content-Type": "application/json"}
        # Read: not JSON, so the parser says so (an unread body said "number required").
        status, answer = post(port, "/api/v1/reports/", headers, pieces(b'{"number": ', 3))
        assert status == 400 and json.loads(answer)["error"]["code"] == "malformed_body"
        huge = pieces(b"[" + b" " * 1_100_000 + b"]")
        status, answer = post(port, "/api/v1/reports/", headers, huge)
        assert status == 413 and json.loads(answer)["error"]["code"] == "body_too_large"
    finally:
        process.terminate()
        process.wait(timeout=20)


def _port_open(port):
    """the port to accept connections"""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.mark.django_db(transaction=True)
def test_forwarded_headers_are_not_believed_without_a_trusted_proxy(serve, carrier_a):
    tier = serve(SECURE_HSTS_SECONDS="3600", API_RATE_LIMIT="3/min")
    status, _body, headers = get(f"{tier.base}/healthz", {"X-Forwarded-Proto": "https"})
    assert status == 200 and "Strict-Transport-Security" not in headers

    def directory(forwarded_for, source="127.0.0.1"):
        connection = http.client.HTTPConnection(
            "127.0.0.1", tier.port, timeout=15, source_address=(source, 0)
        )
        try:
            connection.request(
                "GET", "/api/v1/carriers/", headers={"X-Forwarded-For": forwarded_for}
            )
            return connection.getresponse().status
        finally:
            connection.close()

    # A rotated X-Forwarded-For does not reset the per-address limit: the address nginx saw
    # counts...
    statuses = [directory(f"198.51.100.{i}") for i in range(5)]
    assert statuses == [200] * 3 + [429] * 2
    # ...and it is the real one: another client address has its own limit.
    assert directory("198.51.100.77", source="127.0.0.2") == 200


@pytest.mark.django_db(transaction=True)
def test_a_frozen_redis_costs_a_request_at_most_a_second_and_readyz_says_so_within_three(
    serve, staff_a, tmp_path
):
    redis = PrivateRedis(tmp_path)
    redis.start()
    try:
        key = make_key(None, "partner")
        carrier_key = make_key(staff_a.carrier, "dispatch")
        tier = serve(REDIS_URL=redis.url, CELERY_BROKER_URL=redis.url, WEB_CONCURRENCY="1")
        auth = {"Authorization": f"Api-Key {key}"}
        assert get(f"{tier.base}{LOOKUP}", auth)[0] == 200
        os.kill(redis.process.pid, signal.SIGSTOP)
        try:
            lookups = []
            for _ in range(5):
                (status, body, _h), elapsed = timed(lambda: get(f"{tier.base}{LOOKUP}", auth))
                assert status == 200 and json.loads(body)["status"] == "verified"
                lookups.append(elapsed)
            (status, body, _h), ready_time = timed(lambda: get(f"{tier.base}/readyz"))
            assert status == 503 and json.loads(body)["checks"]["cache"].startswith("down")
            (status, _b, _h), write_time = timed(
                lambda: get(
                    f"{tier.base}/api/v1/carrier/staff/A001/",
                    {"Authorization": f"Api-Key {carrier_key}"},
                    method="DELETE",
                )
            )
            assert status == 204
        finally:
            os.kill(redis.process.pid, signal.SIGCONT)
        print(
            f"\nfrozen Redis: lookups {', '.join(f'{t:.2f}' for t in lookups)} s; "
            f"/readyz {ready_time:.2f} s; a write {write_time:.2f} s"
        )
        assert max(lookups) < 1.5  # one second of cache timeout, then the database
        assert sum(lookups) < 3  # only the first pays it; the next go straight on
        assert ready_time < 3
        assert write_time < 1.5
    finally:
        redis.stop()


@pytest.mark.django_db(transaction=True)
def test_with_the_database_down_public_pages_answer_a_short_503_with_the_hotlines(serve, carrier_a):
    verification_selectors.carrier_directory()  # the last known directory, in the cache...
    # ...but not the fresh one: the pages need the database.
    resilient_cache.delete_many([CARRIERS_KEY])
    tier = serve(DATABASE_URL="postgres://postgres@127.0.0.1:1/nowhere")
    for path in ["/", "/carriers/", "/warnings/"]:
        status, body, headers = get(f"{tier.base}{path}", {"Accept-Language": "en"})
        page = body.decode()
        assert status == 503, (path, page[:300])
        assert headers["Content-Type"].startswith("text/html")
        assert "1900 1111" in page  # Alpha Post's hotline, from the cache
        assert "OTP" in page  # the rule that stops the scam
        assert "Server Error" not in page
        assert headers["Retry-After"]
    status, body, _headers = get(
        f"{tier.base}{LOOKUP}", {"Authorization": "Api-Key abcdefgh.0123456789abcdef"}
    )
    assert status == 503 and json.loads(body)["error"]["code"] == "service_unavailable"


def test_metrics_add_up_every_worker_and_need_the_token(serve):
    """Two gunicorn workers, each counting in its own files (PROMETHEUS_MULTIPROC_DIR, which
    scripts/serve sets up): a scrape adds them up, whichever worker answers it."""
    from prometheus_client.parser import text_string_to_metric_families

    tier = serve(METRICS_TOKEN="scrape-token")
    for _ in range(40):
        assert get(f"{tier.base}/healthz")[0] == 200
    assert get(f"{tier.base}/metrics")[0] == 401
    status, body, _headers = get(f"{tier.base}/metrics", {"Authorization": "Bearer scrape-token"})
    assert status == 200
    samples = {
        (sample.name, sample.labels.get("view"), sample.labels.get("method")): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }
    # The start-up check's /healthz polls count too: at least the 40 made here.
    assert samples[("registry_request_duration_seconds_count", "healthz", "GET")] >= 40
    assert ("registry_celery_queue_depth", None, None) in samples
