"""The beat jobs: each purges exactly what it should, and running it twice changes nothing."""

from datetime import timedelta

from django.utils import timezone

from registry import services as registry_services
from registry.models import DeliveryAssignment
from verification import services
from verification.models import CallIntent
from verification.tasks import expire_call_intents, purge_recipient_digests


def test_expired_call_intents_are_deleted_and_live_ones_kept(staff_a):
    for recipient in ["0901000001", "0901000002"]:
        services.call_intent_create(
            carrier=staff_a.carrier,
            employee_code="A001",
            phone="0912345678",
            recipient_phone=recipient,
        )
    expired = CallIntent.objects.order_by("pk").first()
    CallIntent.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert expire_call_intents.apply().get() == 1
    assert expire_call_intents.apply().get() == 0
    assert list(CallIntent.objects.values_list("pk", flat=True)) != [expired.pk]
    assert CallIntent.objects.count() == 1


def test_recipient_digests_are_purged_after_the_retention_period(staff_a, settings):
    settings.RETENTION_DAYS = 90
    for code in ["OLD", "NEW"]:
        registry_services.assignment_upsert(
            carrier=staff_a.carrier, tracking_code=code, staff=staff_a, recipient_phone="0901000999"
        )
    DeliveryAssignment.objects.filter(tracking_code="OLD").update(
        created_at=timezone.now() - timedelta(days=91)
    )
    assert purge_recipient_digests.apply().get() == 1
    assert purge_recipient_digests.apply().get() == 0
    digests = dict(DeliveryAssignment.objects.values_list("tracking_code", "recipient_digest"))
    assert digests["OLD"] == "" and len(digests["NEW"]) == 64
