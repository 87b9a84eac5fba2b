"""Celery tasks: thin wrappers that take a row's id and call a service. Enqueued only after
the transaction that wrote the row commits; the sweep re-enqueues what is still pending."""

from celery import shared_task
from django.utils import timezone

from . import selectors, services, stats
from .models import WebhookDelivery


@shared_task(acks_late=True)
def deliver_webhook(delivery_id: int) -> str:
    delivery = services.webhook_attempt(delivery_id=delivery_id)
    if delivery is not None and delivery.status == WebhookDelivery.Status.PENDING:
        # The next try as a new message at the time the service set, rather than Celery's
        # retry, so that it works the same when tasks run eagerly.
        wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
        deliver_webhook.apply_async((delivery_id,), countdown=max(0.0, wait))
    return delivery.status if delivery else "missing"


@shared_task(acks_late=True)
def sweep_pending_webhooks() -> int:
    """Re-enqueue deliveries whose attempt is overdue: their task was lost (broker down at
    enqueue time, worker killed). Delivering twice is harmless: the task re-reads the row
    and the receiver de-duplicates by event id."""
    overdue = list(selectors.webhook_deliveries_overdue()[:1000])
    for delivery_id in overdue:
        deliver_webhook.delay(delivery_id)
    return len(overdue)


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
