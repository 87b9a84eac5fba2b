"""GET /metrics (core.metrics): refused without its bearer token, and each series moves when
what it counts happens (issue 14, item 11)."""

import pytest
from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families

from tests.api_client import call
from tests.webhook_server import WebhookReceiver
from verification import services

TOKEN = "metrics-token-for-tests"
LOOKUP = "/api/v1/numbers/0912345678/"
UNREACHABLE_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # a closed port
    }
}


@pytest.fixture(autouse=True)
def _token(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(client) -> dict[tuple, float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, *sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def moved(before: dict, after: dict, name: str, **labels) -> float:
    key = (name, *sorted(labels.items()))
    return after.get(key, 0) - before.get(key, 0)


class TestAccess:
    def test_it_is_not_found_while_no_token_is_set(self, client, settings):
        settings.METRICS_TOKEN = ""
        assert client.get("/metrics").status_code == 404
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404

    @pytest.mark.parametrize(
        "header", [None, "Bearer wrong", f"Bearer {TOKEN}x", TOKEN, f"Basic {TOKEN}"]
    )
    def test_it_refuses_a_missing_or_wrong_token(self, client, header):
        extra = {"HTTP_AUTHORIZATION": header} if header else {}
        response = client.get("/metrics", **extra)
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert b"registry_" not in response.content

    def test_it_answers_with_the_token_and_is_never_cached(self, client, db):
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        assert "no-cache" in response["Cache-Control"]
        assert b"registry_celery_queue_depth" in response.content


@pytest.mark.django_db
class TestSeries:
    def test_a_lookup_moves_its_view_s_latency_its_verdict_and_the_cache(
        self, client, partner_key, staff_a
    ):
        before = scrape(client)
        for _ in range(2):  # a miss, then the cached verdict
            assert call(client, "GET", LOOKUP, partner_key).status_code == 200
        after = scrape(client)
        latency = "registry_request_duration_seconds_count"
        assert moved(before, after, latency, view="api-number", method="GET") == 2
        assert moved(before, after, "registry_verdicts_total", status="verified") == 2
        assert moved(before, after, "registry_cache_reads_total", result="hit") >= 1
        assert moved(before, after, "registry_cache_reads_total", result="miss") >= 1

    def test_a_refusal_moves_the_rate_limit_series_of_its_view(
        self, client, partner_key, settings, staff_a
    ):
        settings.API_RATE_LIMIT = "2/min"
        before = scrape(client)
        statuses = [call(client, "GET", LOOKUP, partner_key).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        after = scrape(client)
        assert moved(before, after, "registry_rate_limited_requests_total", view="api-number") == 1

    def test_an_unknown_path_is_one_series_not_one_per_path(self, client):
        before = scrape(client)
        client.get("/no-such-page-0912345678/")
        after = scrape(client)
        latency = "registry_request_duration_seconds_count"
        assert moved(before, after, latency, view="unmatched", method="GET") == 1
        assert not any("0912345678" in str(key) for key in after)

    def test_a_cache_failure_is_counted(self, client, partner_key, staff_a):
        before = scrape(client)
        with override_settings(CACHES=UNREACHABLE_CACHE):
            assert call(client, "GET", LOOKUP, partner_key).status_code == 200
        after = scrape(client)
        assert moved(before, after, "registry_cache_failures_total") >= 1

    def test_a_5xx_answer_moves_the_server_errors_of_its_view(self, client):
        before = scrape(client)
        with override_settings(CACHES=UNREACHABLE_CACHE):
            assert client.get("/readyz").status_code == 503
        after = scrape(client)
        assert moved(before, after, "registry_server_errors_total", view="readyz") == 1

    def test_impersonation_alerts_past_the_cap_move_the_digest_series(
        self, client, carrier_a, settings
    ):
        settings.IMPERSONATION_ALERTS_PER_SOURCE_HOUR = 1
        source = services.AlertSource.address("203.0.113.9")
        before = scrape(client)
        for number in ["+84905000001", "+84905000002", "+84905000003"]:
            services.alert_record(carrier=carrier_a, number=number, source="lookup", origin=source)
        after = scrape(client)
        alerts = "registry_impersonation_alerts_total"
        assert moved(before, after, alerts, outcome="alert") == 1
        assert moved(before, after, alerts, outcome="digest") == 2


@pytest.mark.django_db(transaction=True)
def test_a_webhook_that_fails_moves_the_failed_deliveries(
    client, carrier_a, settings, in_process_tasks
):
    settings.WEBHOOK_RETRY_BASE_SECONDS, settings.WEBHOOK_MAX_ATTEMPTS = 0, 2
    with WebhookReceiver(always_fail=True) as receiver:
        carrier_a.webhook_url, carrier_a.webhook_secret = receiver.url, "s"
        carrier_a.save(update_fields=["webhook_url", "webhook_secret"])
        before = scrape(client)
        services.alert_record(carrier=carrier_a, number="+84905000009", source="report")
        after = scrape(client)
    assert len(receiver.received) == 2
    assert moved(before, after, "registry_webhook_deliveries", status="failed") == 1
