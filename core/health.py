"""Liveness and readiness for the load balancer and the orchestrator."""

import threading
import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection, connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from core import replica, resilient_cache

CHECK_SECONDS = 2
READY_DEADLINE_SECONDS = 2.5


@never_cache
def healthz(request):
    """The process is alive and serving; touches nothing else."""
    return JsonResponse({"status": "ok"})


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _cache() -> None:
    # Asked for real even while requests leave the cache alone after a failure; an answer
    # ends that pause early.
    cache.set("readyz", "1", 10)
    if cache.get("readyz") != "1":
        raise RuntimeError("read back nothing")
    resilient_cache.resume()


def _broker() -> None:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return  # embedded default: tasks run in-process, there is no broker
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=CHECK_SECONDS)


def _run(check, results: dict, name: str) -> None:
    try:
        check()
        results[name] = "ok"
    except Exception as exc:  # noqa: BLE001  any failure means "not ready"
        results[name] = f"down: {type(exc).__name__}"
    finally:
        connections.close_all()  # this thread's own database connection, if it opened one


@never_cache
def readyz(request):
    """Database, cache and broker, checked at once, each in a thread of its own: the answer
    comes within READY_DEADLINE_SECONDS whatever hangs (a frozen Redis used to hold this
    view for 30 s). A check still running then is reported down; its thread ends when its
    own timeout does. 503 naming what is down."""
    results: dict[str, str] = {}
    checks = [("database", _database), ("cache", _cache), ("broker", _broker)]
    threads = [
        threading.Thread(target=_run, args=(check, results, name), daemon=True)
        for name, check in checks
    ]
    deadline = time.monotonic() + READY_DEADLINE_SECONDS
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    checks_out = {name: results.get(name, "down: timeout") for name, _check in checks}
    ready = all(value == "ok" for value in checks_out.values())
    body = {"status": "ready" if ready else "unavailable", "checks": checks_out}
    if replica.configured():
        # Reported, not required: lookups fall back to the primary while it is down or lags.
        body["replica"] = replica.probe().as_json()
    return JsonResponse(body, status=200 if ready else 503)
