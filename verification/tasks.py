"""Celery tasks: thin wrappers that take a row's id and call a service. Enqueued only after
the transaction that wrote the row commits; the sweep re-enqueues what is still pending."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import services, stats
from .models import WebhookDelivery


@shared_task(acks_late=True)
def deliver_webhook(delivery_id: int) -> str:
    delivery = services.webhook_attempt(delivery_id=delivery_id)
    if delivery is not None and delivery.status == WebhookDelivery.Status.PENDING:
        # Exponential backoff as a new message rather than Celery's retry, so that it works
        # the same when tasks run eagerly; WEBHOOK_MAX_ATTEMPTS in the service ends it.
        backoff = settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (delivery.attempts - 1)
        deliver_webhook.apply_async((delivery_id,), countdown=backoff)
    return delivery.status if delivery else "missing"


@shared_task(acks_late=True)
def sweep_pending_webhooks() -> int:
    """Re-enqueue deliveries still pending a while after they were written: their task was
    lost (broker down at enqueue time, worker killed). Delivering twice is harmless: the
    task re-reads the row and the receiver de-duplicates by event id."""
    stale = timezone.now() - timedelta(seconds=settings.SWEEP_AFTER_SECONDS)
    pending = list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, created_at__lt=stale
        ).values_list("pk", flat=True)[:1000]
    )
    for delivery_id in pending:
        deliver_webhook.delay(delivery_id)
    return len(pending)


@shared_task(acks_late=True)
def send_alert_digests() -> int:
    return services.alert_digests_send()


@shared_task(acks_late=True)
def rollup_lookup_stats() -> int:
    return services.stats_rollup(days=stats.recent_days())


@shared_task(acks_late=True)
def expire_call_intents() -> int:
    return services.call_intents_expire()


@shared_task(acks_late=True)
def purge_expired_records() -> dict[str, int]:
    return services.records_purge()
