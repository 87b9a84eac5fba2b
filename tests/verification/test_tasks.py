"""The beat jobs: each purges exactly what it should, and running it twice changes nothing."""

from datetime import timedelta

from django.utils import timezone

from verification import services
from verification.models import CallIntent
from verification.tasks import expire_call_intents


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
