"""Webhook deliveries against a real HTTP server on 127.0.0.1; the task runs in-process here
(tests/integration has the same with a real Celery worker)."""

import hashlib
import hmac
import json

import pytest

from registry import services as registry_services
from tests.webhook_server import WebhookReceiver
from verification import services
from verification.models import WebhookDelivery
from verification.tasks import deliver_webhook, sweep_pending_webhooks

SECRET = "s3cret-of-alpha"


def check_signature(received: dict) -> dict:
    header = received["headers"]["X-Registry-Signature"]
    parts = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(
        SECRET.encode(), f"{parts['t']}.".encode() + received["body"], hashlib.sha256
    )
    assert hmac.compare_digest(parts["v1"], expected.hexdigest())
    return json.loads(received["body"])


@pytest.fixture
def alpha_with_webhook(carrier_a):
    def configure(url):
        carrier_a.webhook_url, carrier_a.webhook_secret = url, SECRET
        carrier_a.save(update_fields=["webhook_url", "webhook_secret"])
        return carrier_a

    return configure


def alert(carrier, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        services.alert_record(carrier=carrier, number="+84901111222", source="report")
    return WebhookDelivery.objects.get(), callbacks


@pytest.fixture(autouse=True)
def _in_process_tasks(settings, in_process_tasks):
    """Retries run at once, in this process, whatever the broker."""
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0


class TestDelivery:
    def test_a_signed_event_is_delivered_once_the_transaction_commits(
        self, alpha_with_webhook, django_capture_on_commit_callbacks
    ):
        with WebhookReceiver() as receiver:
            carrier = alpha_with_webhook(receiver.url)
            delivery, callbacks = alert(carrier, django_capture_on_commit_callbacks)
            assert receiver.received == [] and len(callbacks) == 1  # nothing before commit
            deliver_webhook.apply(args=[delivery.pk])
        event = check_signature(receiver.received[0])
        assert event == {
            **event,
            "id": str(delivery.event_id),
            "type": "impersonation.detected",
            "carrier": "alpha-post",
            "number": "+84901111222",
            "first_source": "report",
        }
        assert receiver.received[0]["headers"]["X-Registry-Event-Id"] == str(delivery.event_id)
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.last_error) == ("delivered", 1, "")

    def test_a_failing_endpoint_is_retried_then_marked_failed(
        self, alpha_with_webhook, django_capture_on_commit_callbacks, settings
    ):
        settings.WEBHOOK_MAX_ATTEMPTS = 3
        with WebhookReceiver(always_fail=True) as receiver:
            delivery, _ = alert(
                alpha_with_webhook(receiver.url), django_capture_on_commit_callbacks
            )
            deliver_webhook.apply(args=[delivery.pk])
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.last_error) == (
            "failed",
            3,
            "HTTP 500",
        )
        assert len(receiver.received) == 3
        assert len({r["headers"]["X-Registry-Event-Id"] for r in receiver.received}) == 1

    def test_a_flaky_endpoint_gets_it_on_a_retry_with_the_same_event_id(
        self, alpha_with_webhook, django_capture_on_commit_callbacks
    ):
        with WebhookReceiver(fail_first=2) as receiver:
            delivery, _ = alert(
                alpha_with_webhook(receiver.url), django_capture_on_commit_callbacks
            )
            deliver_webhook.apply(args=[delivery.pk])
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("delivered", 3)
        ids = {check_signature(r)["id"] for r in receiver.received}
        assert ids == {str(delivery.event_id)}

    def test_an_unreachable_endpoint_records_the_error(
        self, alpha_with_webhook, settings, django_capture_on_commit_callbacks
    ):
        settings.WEBHOOK_MAX_ATTEMPTS = 1
        delivery, _ = alert(
            alpha_with_webhook("http://127.0.0.1:9/nothing"), django_capture_on_commit_callbacks
        )
        deliver_webhook.apply(args=[delivery.pk])
        delivery.refresh_from_db()
        assert delivery.status == "failed" and "ConnectionRefused" in delivery.last_error

    def test_a_delivered_event_is_not_sent_again(
        self, alpha_with_webhook, django_capture_on_commit_callbacks
    ):
        with WebhookReceiver() as receiver:
            delivery, _ = alert(
                alpha_with_webhook(receiver.url), django_capture_on_commit_callbacks
            )
            deliver_webhook.apply(args=[delivery.pk])
            deliver_webhook.apply(args=[delivery.pk])
        assert len(receiver.received) == 1

    def test_sightings_of_the_same_number_that_day_make_one_delivery(
        self, alpha_with_webhook, django_capture_on_commit_callbacks
    ):
        carrier = alpha_with_webhook("http://127.0.0.1:9/x")
        for source in ["report", "lookup", "lookup"]:
            services.alert_record(carrier=carrier, number="+84901111222", source=source)
        assert WebhookDelivery.objects.count() == 1
        services.alert_record(carrier=carrier, number="+84901111333", source="lookup")
        assert WebhookDelivery.objects.count() == 2

    def test_the_sweep_re_enqueues_overdue_deliveries_only(
        self, alpha_with_webhook, settings, django_capture_on_commit_callbacks
    ):
        settings.SWEEP_AFTER_SECONDS = 60
        from datetime import timedelta

        from django.utils import timezone

        carrier = alpha_with_webhook("http://127.0.0.1:9/x")
        services.alert_record(carrier=carrier, number="+84901111222", source="report")
        services.alert_record(carrier=carrier, number="+84901111333", source="report")
        old = WebhookDelivery.objects.order_by("pk").first()
        WebhookDelivery.objects.filter(pk=old.pk).update(
            next_attempt_at=timezone.now() - timedelta(minutes=5)
        )
        assert sweep_pending_webhooks.apply().get() == 1

    def test_the_sweep_leaves_a_delivery_waiting_out_its_backoff(
        self, alpha_with_webhook, settings, django_capture_on_commit_callbacks
    ):
        from datetime import timedelta

        from django.utils import timezone

        settings.SWEEP_AFTER_SECONDS, settings.WEBHOOK_RETRY_BASE_SECONDS = 120, 80
        delivery, _ = alert(
            alpha_with_webhook("http://127.0.0.1:9/x"), django_capture_on_commit_callbacks
        )
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            created_at=timezone.now() - timedelta(minutes=5)
        )
        for _attempt in range(2):  # refused twice: the next try is 160 s away
            services.webhook_attempt(delivery_id=delivery.pk)
        assert sweep_pending_webhooks.apply().get() == 0
        # Its task lost (a broker outage): once it is overdue, the sweep takes it.
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            next_attempt_at=timezone.now() - timedelta(minutes=3)
        )
        assert sweep_pending_webhooks.apply().get() == 1


def test_a_failed_delivery_can_be_sent_again_from_the_admin(
    client, root, alpha_with_webhook, django_capture_on_commit_callbacks
):
    with WebhookReceiver() as receiver:
        carrier = alpha_with_webhook(receiver.url)
        delivery, _ = alert(carrier, django_capture_on_commit_callbacks)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=6)
        client.force_login(root)
        with django_capture_on_commit_callbacks() as callbacks:
            client.post(
                "/admin/verification/webhookdelivery/",
                {"action": "send_again", "_selected_action": [delivery.pk]},
            )
        assert len(callbacks) == 1
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("pending", 0)
        deliver_webhook.apply(args=[delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and len(receiver.received) == 1
    registry_services.carrier_save(slug="alpha-post", name="Alpha Post")


def test_a_superuser_configures_the_webhook_in_the_admin_and_operators_never_see_the_secret(
    client, root, alice, carrier_a
):
    client.force_login(root)
    response = client.post(
        f"/admin/registry/carrier/{carrier_a.pk}/change/",
        {
            "name": "Alpha Post",
            "is_active": "on",
            "webhook_url": "https://93.184.215.14/hooks",
            "webhook_secret": "top-secret-value",
            "channels-TOTAL_FORMS": "0",
            "channels-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    carrier_a.refresh_from_db()
    assert (carrier_a.webhook_url, carrier_a.webhook_secret) == (
        "https://93.184.215.14/hooks",
        "top-secret-value",
    )
    client.force_login(alice)
    page = client.get(f"/admin/registry/carrier/{carrier_a.pk}/change/").content.decode()
    assert "top-secret-value" not in page and "93.184.215.14/hooks" in page


class TestUnsafeUrls:
    """A webhook URL is a request the server makes on a carrier's say-so: it must not reach
    Redis on 127.0.0.1:6379, the metadata service or anything else private."""

    @pytest.fixture(autouse=True)
    def _no_private_networks(self, settings):
        settings.WEBHOOK_ALLOWED_NETWORKS = []

    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1:6379/",
            "https://127.0.0.1:6379/",
            "https://169.254.169.254/latest/meta-data/",
            "https://10.1.2.3/hook",
            "https://192.168.0.10/hook",
            "https://[::1]/hook",
            "https://[::ffff:127.0.0.1]/hook",
            "https://224.0.0.1/hook",
            "https://0.0.0.0/hook",
            "https://localhost/hook",
            "ftp://93.184.215.14/hook",
            "https://user:pw@93.184.215.14/hook",
            "https://no-such-host.invalid/hook",
        ],
    )
    def test_an_unsafe_url_is_refused_when_saved(self, carrier_a, url):
        with pytest.raises(registry_services.RegistryError) as refused:
            registry_services.carrier_save(
                slug=carrier_a.slug, name=carrier_a.name, webhook=(url, SECRET)
            )
        assert refused.value.code == "invalid_webhook_url"
        carrier_a.refresh_from_db()
        assert carrier_a.webhook_url == ""

    def test_plain_http_is_refused_outside_debug(self, carrier_a, settings):
        settings.WEBHOOK_ALLOW_HTTP = False
        with pytest.raises(registry_services.RegistryError) as refused:
            registry_services.carrier_save(
                slug=carrier_a.slug, name=carrier_a.name, webhook=("http://93.184.215.14/", "s")
            )
        assert refused.value.code == "invalid_webhook_url"

    def test_a_public_https_url_is_taken(self, carrier_a):
        carrier, _ = registry_services.carrier_save(
            slug=carrier_a.slug, name=carrier_a.name, webhook=("https://93.184.215.14/h", "s")
        )
        assert carrier.webhook_url == "https://93.184.215.14/h"

    def test_the_admin_shows_the_refusal_on_the_form(self, client, root, carrier_a):
        client.force_login(root)
        response = client.post(
            f"/admin/registry/carrier/{carrier_a.pk}/change/",
            {
                "name": "Alpha Post",
                "is_active": "on",
                "webhook_url": "https://169.254.169.254/latest/",
                "webhook_secret": "top-secret-value",
                "channels-TOTAL_FORMS": "0",
                "channels-INITIAL_FORMS": "0",
            },
        )
        assert response.status_code == 200
        errors = response.context["adminform"].form.errors.as_data()["__all__"]
        assert [error.code for error in errors] == ["invalid_webhook_url"]
        carrier_a.refresh_from_db()
        assert carrier_a.webhook_url == ""

    def test_an_address_that_turned_private_after_it_was_saved_gets_nothing(
        self, alpha_with_webhook, django_capture_on_commit_callbacks
    ):
        with WebhookReceiver() as receiver:
            # As if the carrier's name now resolved to the registry's own network.
            delivery, callbacks = alert(
                alpha_with_webhook(receiver.url), django_capture_on_commit_callbacks
            )
            for callback in callbacks:
                callback()
            delivery.refresh_from_db()
            assert receiver.received == []
            assert delivery.status != WebhookDelivery.Status.DELIVERED
            assert delivery.last_error.startswith("refused")

    def test_a_redirect_is_not_followed(
        self, alpha_with_webhook, django_capture_on_commit_callbacks, settings
    ):
        settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
        with (
            WebhookReceiver() as target,
            WebhookReceiver(redirect_to=target.url) as redirector,
        ):
            delivery, callbacks = alert(
                alpha_with_webhook(redirector.url), django_capture_on_commit_callbacks
            )
            for callback in callbacks:
                callback()
            delivery.refresh_from_db()
            assert len(redirector.received) >= 1 and target.received == []
            assert delivery.status != WebhookDelivery.Status.DELIVERED
            assert delivery.last_error == "HTTP 307"
