"""Impersonation alerts delivered by a real Celery worker through the real Redis broker."""

import json

import pytest
from django.db import transaction

from registry import services as registry_services
from tests.integration.conftest import wait_for
from tests.webhook_server import WebhookReceiver
from verification import services
from verification.models import WebhookDelivery

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def carrier(celery_worker_process):
    carrier, _ = registry_services.carrier_save(slug="gamma-post", name="Gamma Post")
    return carrier


def with_webhook(carrier, url):
    carrier.webhook_url, carrier.webhook_secret = url, "gamma-secret"
    carrier.save(update_fields=["webhook_url", "webhook_secret"])


def delivery_settled(delivery_id):
    def settled():
        """the delivery to be delivered or failed"""
        delivery = WebhookDelivery.objects.get(pk=delivery_id)
        return delivery if delivery.status != "pending" else None

    return settled


def test_an_alert_reaches_the_carrier_webhook_through_the_worker(carrier):
    with WebhookReceiver() as receiver:
        with_webhook(carrier, receiver.url)
        with transaction.atomic():
            services.alert_record(carrier=carrier, number="+84901111222", source="report")
            delivery_id = WebhookDelivery.objects.get().pk
        delivery = wait_for(delivery_settled(delivery_id))
    assert delivery.status == "delivered"
    event = json.loads(receiver.received[0]["body"])
    assert (event["id"], event["number"]) == (str(delivery.event_id), "+84901111222")
    assert receiver.received[0]["headers"]["X-Registry-Signature"].startswith("t=")


def test_a_shared_number_reaches_the_first_carrier_through_the_worker(carrier):
    """Another carrier enrols gamma's shipper number through the carrier API's service."""
    registry_services.staff_upsert(
        carrier=carrier, employee_code="G1", full_name="Lý Văn Hai", phone_numbers=["0977 1234 56"]
    )
    other, _ = registry_services.carrier_save(slug="delta-express", name="Delta Express")
    with WebhookReceiver() as receiver:
        with_webhook(carrier, receiver.url)
        registry_services.staff_upsert(
            carrier=other, employee_code="D1", full_name="Lý Văn Hai", phone_numbers=["0977123456"]
        )
        delivery = wait_for(delivery_settled(WebhookDelivery.objects.get().pk))
    assert delivery.status == "delivered"
    event = json.loads(receiver.received[0]["body"])
    assert (event["type"], event["carrier"], event["number"], event["shared_with"]) == (
        "shared_number",
        "gamma-post",
        "+84977123456",
        "delta-express",
    )


def test_a_rolled_back_alert_is_never_delivered(carrier):
    with WebhookReceiver() as receiver:
        with_webhook(carrier, receiver.url)
        with pytest.raises(RuntimeError), transaction.atomic():
            services.alert_record(carrier=carrier, number="+84901111333", source="report")
            raise RuntimeError("the request failed after the alert")
        # A committed one afterwards is delivered; the rolled-back one never was.
        with transaction.atomic():
            services.alert_record(carrier=carrier, number="+84901111444", source="report")
        wait_for(delivery_settled(WebhookDelivery.objects.get().pk))
    numbers = [json.loads(r["body"])["number"] for r in receiver.received]
    assert numbers == ["+84901111444"]


def test_a_failing_endpoint_is_retried_with_the_same_event_id_then_failed(carrier):
    with WebhookReceiver(always_fail=True) as receiver:
        with_webhook(carrier, receiver.url)
        with transaction.atomic():
            services.alert_record(carrier=carrier, number="+84901111555", source="lookup")
        delivery = wait_for(delivery_settled(WebhookDelivery.objects.get().pk), timeout=60)
    assert (delivery.status, delivery.last_error) == ("failed", "HTTP 500")
    assert delivery.attempts == len(receiver.received) == 6
    assert {r["headers"]["X-Registry-Event-Id"] for r in receiver.received} == {
        str(delivery.event_id)
    }


def test_work_enqueued_while_the_broker_is_down_is_delivered_by_the_sweep(carrier):
    from datetime import timedelta

    from django.utils import timezone

    from tests.integration.conftest import broker_unreachable
    from verification.tasks import sweep_pending_webhooks

    with WebhookReceiver() as receiver:
        with_webhook(carrier, receiver.url)
        with broker_unreachable(), transaction.atomic():
            # The write commits although the task cannot be sent.
            services.alert_record(carrier=carrier, number="+84901111666", source="report")
        delivery = WebhookDelivery.objects.get()
        assert delivery.status == "pending" and receiver.received == []
        # Later, with the broker back, the periodic sweep finds the pending row.
        WebhookDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=5))
        assert sweep_pending_webhooks.apply().get() == 1
        delivery = wait_for(delivery_settled(delivery.pk))
    assert delivery.status == "delivered"
    assert len(receiver.received) == 1
