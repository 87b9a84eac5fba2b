"""Prometheus metrics for operators (docs/deploy.md lists the alerts worth setting).

Counted where things happen: request latency by view, server errors and rate-limit
refusals (429, from any limit) in MetricsMiddleware, verdicts and impersonation alerts in
verification.services, cache hits, misses and failures in core.resilient_cache. Read when
scraped: the Celery queue depth and the webhook deliveries pending or failed (the worker
that delivers them is another process, often on another host: the database knows, this
process does not).

Under gunicorn each worker counts in files under PROMETHEUS_MULTIPROC_DIR (scripts/serve
sets it, empty, at every start) and a scrape adds them up; without it, the counts are this
process's own (tests, runserver).

GET /metrics wants `Authorization: Bearer <METRICS_TOKEN>`: 404 while METRICS_TOKEN is
unset, 401 for a missing or wrong token."""

import os
import time

from django.conf import settings
from django.http import Http404, HttpResponse
from django.utils.crypto import constant_time_compare
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

REQUEST_SECONDS = Histogram(
    "registry_request_duration_seconds",
    "Time to answer a request, by view (its URL name) and method",
    ["view", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
SERVER_ERRORS = Counter(
    "registry_server_errors_total", "Answers with a 5xx status, by view", ["view"]
)
RATE_LIMITED = Counter(
    "registry_rate_limited_requests_total", "Requests refused with 429, by view", ["view"]
)
VERDICTS = Counter("registry_verdicts_total", "Answers of lookups, by status", ["status"])
CACHE_READS = Counter(
    "registry_cache_reads_total", "Cache reads of the request path, by result", ["result"]
)
CACHE_FAILURES = Counter(
    "registry_cache_failures_total", "Cache calls that failed (the request went on without it)"
)
IMPERSONATION_ALERTS = Counter(
    "registry_impersonation_alerts_total",
    "New impersonation alerts: 'alert' one by one, 'digest' counted past a source's cap",
    ["outcome"],
)


# Bound once: labels() looks its child up on every call, and every request counts a read.
_CACHE_HITS, _CACHE_MISSES = CACHE_READS.labels("hit"), CACHE_READS.labels("miss")


def cache_reads(hits: int, misses: int) -> None:
    if hits:
        _CACHE_HITS.inc(hits)
    if misses:
        _CACHE_MISSES.inc(misses)


class MetricsMiddleware:
    """Outermost, so that the time includes every other middleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        # URL names only: a path would give a series per number looked up.
        view = (match.view_name if match else "") or "unmatched"
        method = request.method if request.method in _METHODS else "other"
        REQUEST_SECONDS.labels(view, method).observe(time.perf_counter() - started)
        if response.status_code == 429:
            RATE_LIMITED.labels(view).inc()
        elif response.status_code >= 500:
            SERVER_ERRORS.labels(view).inc()
        return response


_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


class _StateCollector:
    """What a scrape reads from the broker and the database."""

    def collect(self):
        depth = GaugeMetricFamily(
            "registry_celery_queue_depth", "Tasks waiting in the broker's default queue"
        )
        depth.add_metric([], _queue_depth())
        yield depth
        deliveries = GaugeMetricFamily(
            "registry_webhook_deliveries",
            "Webhook deliveries: pending, retrying (pending after a failed attempt), failed "
            "(gave up; kept WEBHOOK_DELIVERY_RETENTION_DAYS)",
            labels=["status"],
        )
        for status, count in _webhook_deliveries().items():
            deliveries.add_metric([status], count)
        yield deliveries


def _queue_depth() -> float:
    """-1 when the broker does not answer; 0 without one (tasks run in-process)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return 0
    from config.celery import app

    try:
        with app.connection_for_write() as conn:  # the broker /readyz checks
            conn.ensure_connection(max_retries=1, timeout=1)
            queue = app.conf.task_default_queue
            try:
                return conn.default_channel.queue_declare(queue, passive=True).message_count
            except conn.channel_errors:
                return 0  # no such queue yet: nothing was ever queued
    except Exception:  # noqa: BLE001  a scrape reports the outage instead of failing
        return -1


def _webhook_deliveries() -> dict[str, int]:
    # The app that keeps the deliveries counts them (settings.WEBHOOK_DELIVERY_COUNTS):
    # core imports no app.
    return import_string(settings.WEBHOOK_DELIVERY_COUNTS)()


def _exposition() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)
    else:
        counted = REGISTRY
    state = CollectorRegistry()
    state.register(_StateCollector())
    return generate_latest(counted) + generate_latest(state)


@never_cache
def metrics(request):
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404
    given = request.headers.get("Authorization", "")
    if not constant_time_compare(given, f"Bearer {token}"):
        response = HttpResponse("bearer token required\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(_exposition(), content_type=CONTENT_TYPE_LATEST)
