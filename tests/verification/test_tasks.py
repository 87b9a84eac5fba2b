"""The beat jobs: each purges exactly what it should, and running it twice changes nothing."""

from datetime import timedelta

from django.utils import timezone

from registry import services as registry_services
from registry.models import StaffMember
from registry.tasks import purge_old_history
from verification import services
from verification.models import CallIntent, ImpersonationAlert, ScamReport, WebhookDelivery
from verification.tasks import expire_call_intents, purge_expired_records


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


def test_reports_alerts_and_deliveries_are_purged_after_their_retention(staff_a, settings):
    settings.REPORT_RETENTION_DAYS, settings.ALERT_RETENTION_DAYS = 365, 180
    settings.WEBHOOK_DELIVERY_RETENTION_DAYS = 30
    carrier, _created = registry_services.carrier_save(
        slug="alpha-post", name="Alpha Post", webhook=("https://93.184.216.34/a", "s3cret")
    )
    for number in ["0901000001", "0901000002"]:
        services.report_submit(
            number=number, reporter="r" * 64, claimed_carrier=carrier, description="x"
        )
    old, now = "+84901000001", timezone.now()
    ScamReport.objects.filter(number=old).update(created_at=now - timedelta(days=366))
    ImpersonationAlert.objects.filter(number=old).update(last_seen=now - timedelta(days=181))
    WebhookDelivery.objects.update(
        status=WebhookDelivery.Status.DELIVERED, created_at=now - timedelta(days=31)
    )
    pending_old = WebhookDelivery.objects.create(
        alert=ImpersonationAlert.objects.exclude(number=old).get(), url="https://h", payload={}
    )
    WebhookDelivery.objects.filter(pk=pending_old.pk).update(created_at=now - timedelta(days=31))

    assert purge_expired_records.apply().get() == {"reports": 1, "alerts": 1, "deliveries": 2}
    assert purge_expired_records.apply().get() == {"reports": 0, "alerts": 0, "deliveries": 0}
    assert list(ScamReport.objects.values_list("number", flat=True)) == ["+84901000002"]
    assert list(ImpersonationAlert.objects.values_list("number", flat=True)) == ["+84901000002"]
    # A delivery still being tried is kept whatever its age: the sweep needs it.
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [pending_old.pk]


def test_change_history_is_purged_after_its_retention(staff_a, settings):
    settings.HISTORY_RETENTION_DAYS = 730
    registry_services.staff_set_status(staff=staff_a, status="suspended")
    first = staff_a.history.earliest("history_date")
    StaffMember.history.filter(pk=first.pk).update(
        history_date=timezone.now() - timedelta(days=731)
    )
    kept = StaffMember.history.count() - 1
    assert purge_old_history.apply().get() == 1
    assert purge_old_history.apply().get() == 0
    assert StaffMember.history.count() == kept
    assert not StaffMember.history.filter(pk=first.pk).exists()
