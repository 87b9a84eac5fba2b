"""Issue 14's row, replayed on PostgreSQL, Redis and a real Celery worker: 200 lookups with
`claimed_carrier` for 200 numbers from one key, eight at a time, used to make 200 alerts and
as many webhook POSTs to the carrier. Now: the cap's worth, and one digest after the hour."""

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from registry import services as registry_services
from tests.api_client import call, make_key
from tests.integration.conftest import wait_for
from tests.webhook_server import WebhookReceiver
from verification import services
from verification.models import ImpersonationAlert, WebhookDelivery

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

LOOKUPS = 200


def lookup(key: str, number: str) -> int:
    try:
        response = call(
            Client(), "GET", f"/api/v1/numbers/{number}/?claimed_carrier=demo-post", key
        )
        return response.status_code
    finally:
        connection.close()  # this thread's own connection


def distinct_events(receiver) -> dict[str, dict]:
    """By event id, as a receiver de-duplicates: on this loaded machine a POST may outlast the
    worker's timeout while the receiver, a thread of this busy process, answers, and then
    the same event is POSTed again."""
    return {
        item["headers"]["X-Registry-Event-Id"]: json.loads(item["body"])
        for item in receiver.received
    }


def all_settled():
    """every delivery to be delivered"""
    deliveries = WebhookDelivery.objects.all()
    return deliveries.exists() and not deliveries.exclude(status="delivered").exists()


def test_200_lookups_from_one_key_are_the_cap_s_worth_of_webhooks_and_one_digest(
    celery_worker_process,
):
    cap = settings.IMPERSONATION_ALERTS_PER_SOURCE_HOUR
    carrier, _ = registry_services.carrier_save(slug="demo-post", name="Demo Post")
    key = make_key(None, "flooding-app")
    numbers = [f"+8490{6000000 + i}" for i in range(LOOKUPS)]
    with WebhookReceiver() as receiver:
        carrier.webhook_url, carrier.webhook_secret = receiver.url, "demo-secret"
        carrier.save(update_fields=["webhook_url", "webhook_secret"])
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(lambda number: lookup(key, number), numbers))
        assert statuses == [200] * LOOKUPS
        wait_for(all_settled)
        during_the_hour = distinct_events(receiver)
        # The beat job, once the hour is over.
        assert services.alert_digests_send(now=timezone.now() + timedelta(hours=1, minutes=2)) == 1
        wait_for(lambda: len(distinct_events(receiver)) == cap + 1 or None)
    events = list(distinct_events(receiver).values())
    assert len(during_the_hour) == cap
    assert [event["type"] for event in events] == ["impersonation.detected"] * cap + [
        "impersonation_digest"
    ]
    assert (events[-1]["count"], events[-1]["source"]) == (
        LOOKUPS - cap,
        f"key {key.split('.')[0]}",
    )
    kinds = ImpersonationAlert.objects.values_list("kind", flat=True)
    assert sorted(kinds) == ["impersonation"] * cap + ["impersonation_digest"]
