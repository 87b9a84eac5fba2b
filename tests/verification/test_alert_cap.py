"""The cap on impersonation alerts per carrier, hour and source (issue 14, item 4): past it,
a source's new alerts are counted into one digest, sent to the carrier's webhook once the
hour is over. Deliveries go to a real HTTP server on 127.0.0.1; tasks run in-process here
(tests/integration/test_alert_flood.py replays the issue's row with a real worker)."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.api_client import call, make_key
from tests.webhook_server import WebhookReceiver
from verification import services
from verification.models import ImpersonationAlert

CAP = 3


@pytest.fixture(autouse=True)
def _small_cap_and_in_process_tasks(settings, in_process_tasks):
    settings.IMPERSONATION_ALERTS_PER_SOURCE_HOUR = CAP
    settings.API_RATE_LIMIT = settings.WEB_RATE_LIMIT = "1000/min"
    settings.WEB_ADDRESS_RATE_LIMIT = "1000/min"


@pytest.fixture
def receiver(carrier_a):
    with WebhookReceiver() as receiver:
        carrier_a.webhook_url, carrier_a.webhook_secret = receiver.url, "alpha-secret"
        carrier_a.save(update_fields=["webhook_url", "webhook_secret"])
        yield receiver


@pytest.fixture
def later(monkeypatch):
    """Moves the clock forward by `hours` for everything that asks Django the time."""
    real_now = timezone.now

    def move(hours: float):
        moment = real_now() + timedelta(hours=hours)
        monkeypatch.setattr(timezone, "now", lambda: moment)
        return moment

    return move


def numbers(count: int, start: int = 0) -> list[str]:
    return [f"+8490{5000000 + start + i}" for i in range(count)]


def api_lookups(client, key, count, start=0):
    for number in numbers(count, start):
        response = call(client, "GET", f"/api/v1/numbers/{number}/?claimed_carrier=alpha-post", key)
        assert response.status_code == 200, response.content


def events(receiver) -> list[dict]:
    return [json.loads(item["body"]) for item in receiver.received]


def alerts(kind=ImpersonationAlert.Kind.IMPERSONATION):
    return ImpersonationAlert.objects.filter(kind=kind)


def send_digests(after_hours: float = 1.1) -> int:
    """The beat job, run when this hour is over."""
    return services.alert_digests_send(now=timezone.now() + timedelta(hours=after_hours))


@pytest.mark.django_db(transaction=True)
class TestOneSource:
    def test_past_the_cap_alerts_are_counted_into_one_digest_sent_after_the_hour(
        self, client, carrier_a, partner_key, receiver
    ):
        api_lookups(client, partner_key, 20)
        assert [event["type"] for event in events(receiver)] == ["impersonation.detected"] * CAP
        assert alerts().count() == CAP
        digest = alerts(ImpersonationAlert.Kind.DIGEST).get()
        assert (digest.lookups, digest.reports, digest.number) == (20 - CAP, 0, "")
        # Nothing more until the hour is over, then one digest, once.
        assert services.alert_digests_send() == 0
        assert send_digests() == 1
        assert send_digests() == 0
        sent = events(receiver)
        assert len(sent) == CAP + 1
        event = sent[-1]
        prefix = partner_key.split(".")[0]
        assert event["type"] == "impersonation_digest"
        assert (event["carrier"], event["count"], event["lookups"], event["cap"]) == (
            "alpha-post",
            20 - CAP,
            20 - CAP,
            CAP,
        )
        assert event["source"] == f"key {prefix}"
        assert event["hour"] == timezone.localtime(digest.hour).isoformat()
        assert "number" not in event and "+8490" not in receiver.received[-1]["body"].decode()

    def test_a_number_already_alerted_today_only_counts_and_uses_no_cap(
        self, client, carrier_a, partner_key, receiver
    ):
        for _ in range(10):
            api_lookups(client, partner_key, 1)
        assert alerts().get().lookups == 10
        assert len(receiver.received) == 1
        api_lookups(client, partner_key, CAP - 1, start=1)
        assert len(receiver.received) == CAP
        assert not alerts(ImpersonationAlert.Kind.DIGEST).exists()

    def test_the_next_hour_starts_fresh(self, client, carrier_a, partner_key, receiver, later):
        api_lookups(client, partner_key, CAP + 2)
        later(1)
        api_lookups(client, partner_key, CAP + 1, start=100)
        assert alerts().count() == 2 * CAP
        digests = alerts(ImpersonationAlert.Kind.DIGEST).order_by("hour")
        assert [d.lookups for d in digests] == [2, 1]
        # Only the hour that is over is sent. Asked once the grace after the first hour is
        # surely past, whatever minute of the hour the test started in.
        assert services.alert_digests_send(now=timezone.now() + services.DIGEST_GRACE) == 1
        assert events(receiver)[-1]["count"] == 2

    def test_a_carrier_without_a_webhook_still_sees_the_count_in_the_admin(
        self, client, carrier_a, partner_key, root
    ):
        api_lookups(client, partner_key, CAP + 4)
        assert send_digests() == 0  # nothing to send to
        client.force_login(root)
        page = client.get("/admin/verification/impersonationalert/?kind=impersonation_digest")
        assert page.status_code == 200
        assert f"key {partner_key.split('.')[0]}" in page.content.decode()
        assert alerts(ImpersonationAlert.Kind.DIGEST).get().lookups == 4


@pytest.mark.django_db(transaction=True)
class TestSources:
    def test_two_keys_each_get_their_own_cap(self, client, carrier_a, partner_key, receiver):
        other = make_key(None, "other-app")
        api_lookups(client, partner_key, CAP + 2)
        api_lookups(client, other, CAP + 5, start=100)
        assert alerts().count() == 2 * CAP
        counts = sorted(d.lookups for d in alerts(ImpersonationAlert.Kind.DIGEST))
        assert counts == [2, 5]
        assert send_digests() == 2
        assert sorted(e["count"] for e in events(receiver)[-2:]) == [2, 5]

    def test_the_web_page_is_capped_per_client_address(self, client, carrier_a, receiver):
        client.get("/")
        for number in numbers(CAP + 3):
            response = client.post("/", {"number": number, "claimed_carrier": "alpha-post"})
            assert response.status_code == 200
        other = type(client)(REMOTE_ADDR="198.51.100.7")
        other.get("/")
        for number in numbers(2, start=100):
            other.post("/", {"number": number, "claimed_carrier": "alpha-post"})
        assert alerts().count() == CAP + 2
        digest = alerts(ImpersonationAlert.Kind.DIGEST).get()
        assert digest.lookups == 3
        assert digest.source_label.startswith("address #")
        assert "127.0.0.1" not in digest.source_label

    def test_reports_count_against_the_same_cap_as_lookups(
        self, client, carrier_a, partner_key, receiver, settings
    ):
        settings.REPORT_RATE_LIMIT = "100/hour"
        api_lookups(client, partner_key, CAP)
        response = call(
            client,
            "POST",
            "/api/v1/reports/",
            partner_key,
            {"number": numbers(1, start=500)[0], "claimed_carrier": "alpha-post"},
        )
        assert response.status_code == 201
        digest = alerts(ImpersonationAlert.Kind.DIGEST).get()
        assert (digest.lookups, digest.reports) == (0, 1)
        assert len(receiver.received) == CAP
