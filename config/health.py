"""Liveness and readiness for the load balancer and the orchestrator."""

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from config import replica

CHECK_SECONDS = 2


@never_cache
def healthz(request):
    """The process is alive and serving; touches nothing else."""
    return JsonResponse({"status": "ok"})


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _cache() -> None:
    cache.set("readyz", "1", 10)
    if cache.get("readyz") != "1":
        raise RuntimeError("read back nothing")


def _broker() -> None:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return  # embedded default: tasks run in-process, there is no broker
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=CHECK_SECONDS)


@never_cache
def readyz(request):
    """Database, cache and broker, each with a short timeout. 503 naming what is down."""
    checks = {}
    for name, check in [("database", _database), ("cache", _cache), ("broker", _broker)]:
        try:
            check()
            checks[name] = "ok"
        except Exception as exc:  # noqa: BLE001  any failure means "not ready"
            checks[name] = f"down: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values())
    body = {"status": "ready" if ready else "unavailable", "checks": checks}
    if replica.configured():
        # Reported, not required: lookups fall back to the primary while it is down or lags.
        body["replica"] = replica.probe().as_json()
    return JsonResponse(body, status=200 if ready else 503)
