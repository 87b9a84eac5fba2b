import re

import pytest
from django.test import override_settings

from registry import services as registry_services
from tests.api_client import assert_error, call, make_key
from verification import services
from verification.models import ImpersonationAlert, ScamReport
from verification.services import verify

REPORTS_URL = "/api/v1/reports/"
SCAMMER = "0901 111 222"


def send(client, key=None, ip="203.0.113.7", **body):
    payload = {"number": SCAMMER, "channel": "call", **body}
    return call(client, "POST", REPORTS_URL, key, payload, REMOTE_ADDR=ip)


class TestReportsApi:
    def test_an_anonymous_report_is_201(self, client, db):
        response = send(client, description="Asked for a 30k shipping fee by QR")
        assert response.status_code == 201
        body = response.json()
        assert (body["number"], body["channel"], body["claimed_carrier"]) == (
            "+84901111222",
            "call",
            None,
        )
        report = ScamReport.objects.get()
        assert report.description == "Asked for a 30k shipping fee by QR"
        assert "203.0.113.7" not in report.reporter  # a digest, not the address

    def test_phone_numbers_in_the_description_are_stored_masked(self, client, db):
        description = (
            "Gọi từ 0912 345 678, bảo chuyển khoản cho +84 987.654.321 hoặc 01681234567; "
            "mã đơn SPX2026, phí 30.000đ, ngày 01/12/2026"
        )
        assert send(client, description=description).status_code == 201
        stored = ScamReport.objects.get().description
        assert stored == (
            "Gọi từ **** *** 678, bảo chuyển khoản cho +** ***.***.321 hoặc ********567; "
            "mã đơn SPX2026, phí 30.000đ, ngày 01/12/2026"
        )

    @pytest.mark.django_db(transaction=True)  # the cached verdict is dropped on commit
    def test_distinct_reporters_make_a_number_reported_at_the_threshold(self, client):
        for ip in ["203.0.113.1", "203.0.113.2"]:
            assert send(client, ip=ip).status_code == 201
        assert verify(SCAMMER)["status"] == "unknown"
        send(client, key=make_key(None, "partner"))
        answer = verify(SCAMMER)
        assert (answer["status"], answer["report_count"]) == ("reported", 3)

    @override_settings(REPORT_RATE_LIMIT="100/hour")
    def test_one_reporter_repeating_itself_counts_once(self, client, db):
        for _ in range(5):
            assert send(client, ip="203.0.113.1").status_code == 201
        assert verify(SCAMMER)["report_count"] == 1
        assert verify(SCAMMER)["status"] == "unknown"

    @override_settings(REPORT_RATE_LIMIT="2/hour")
    def test_each_reporter_has_a_limit(self, client, db):
        statuses = [send(client, ip="203.0.113.1").status_code for _ in range(3)]
        assert statuses == [201, 201, 429]
        response = send(client, ip="203.0.113.1")
        assert_error(response, 429, "rate_limited")
        assert int(response["Retry-After"]) > 0
        assert send(client, ip="203.0.113.2").status_code == 201

    def test_a_verified_number_is_never_reported(self, client, staff_a):
        for index in range(4):
            send(client, ip=f"203.0.113.{index}", number="0912345678")
        answer = verify("0912345678")
        assert (answer["status"], answer["report_count"]) == ("verified", 4)

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ({"number": "abc"}, "invalid_number"),
            ({"channel": "fax"}, "invalid"),
            ({"description": "x" * 1001}, "invalid"),
            ({"claimed_carrier": "nope"}, "unknown_carrier"),
        ],
    )
    def test_bad_reports_are_a_clean_400_and_save_nothing(self, client, db, body, code):
        assert_error(send(client, **body), 400, code)
        assert not ScamReport.objects.exists()


class TestImpersonation:
    def test_a_report_claiming_a_carrier_the_number_is_not_of_alerts_that_carrier(
        self, client, carrier_a
    ):
        send(client, claimed_carrier="alpha-post")
        alert = ImpersonationAlert.objects.get()
        assert (alert.carrier, alert.number, alert.reports, alert.first_source) == (
            carrier_a,
            "+84901111222",
            1,
            "report",
        )

    def test_a_lookup_with_a_false_claim_alerts_and_repeats_are_grouped(
        self, carrier_a, carrier_b, staff_b
    ):
        for _ in range(3):
            verify("0933 444 555", services.Lookup(claimed_carrier="alpha-post"))
        alert = ImpersonationAlert.objects.get()
        assert (alert.carrier, alert.number, alert.lookups) == (carrier_a, "+84933444555", 3)

    def test_a_true_claim_raises_no_alert(self, client, staff_a):
        verify("0912345678", services.Lookup(claimed_carrier="alpha-post"))
        send(client, number="0912345678", claimed_carrier="alpha-post")
        assert not ImpersonationAlert.objects.exists()


class TestModeration:
    def test_a_rejected_report_stops_counting(self, report, django_capture_on_commit_callbacks):
        reports = [report("+84901111222", reporter) for reporter in ["r1", "r2", "r3"]]
        assert verify(SCAMMER)["status"] == "reported"
        with django_capture_on_commit_callbacks(execute=True):
            services.report_reject(report=reports[0])
        assert verify(SCAMMER)["status"] == "unknown"

    def test_a_cleared_number_counts_only_reports_after_the_clearance(
        self, report, root, django_capture_on_commit_callbacks
    ):
        for reporter in ["r1", "r2", "r3"]:
            report("+84901111222", reporter)
        with django_capture_on_commit_callbacks(execute=True):
            clearance = services.number_clear(
                number=SCAMMER, reason="Our own new hotline", user=root
            )
        assert clearance.reason == "Our own new hotline" and clearance.cleared_by == root
        answer = verify(SCAMMER)
        assert (answer["status"], answer["report_count"]) == ("unknown", 0)
        report("+84901111222", "r4")
        assert verify(SCAMMER)["report_count"] == 1

    def test_a_clearance_needs_a_reason(self, root):
        with pytest.raises(services.VerificationError):
            services.number_clear(number=SCAMMER, reason="  ", user=root)

    def test_the_carrier_marks_a_possible_spoofing_case_reviewed(self, report, staff_a):
        spoofed = report("+84912345678", "r1")
        services.report_mark_reviewed(report=spoofed)
        spoofed.refresh_from_db()
        assert spoofed.reviewed_at is not None
        assert verify("0912345678")["status"] == "verified"


class TestModerationInTheAdmin:
    CHANGELIST = "/admin/verification/scamreport/"

    def test_an_operator_sees_reports_about_their_staff_and_naming_them_only(
        self, client, alice, bob, report, staff_a, carrier_b
    ):
        spoof = report("+84912345678", "r1")  # alice's staff number
        named_b = services.report_submit(
            number="0901 222 333", reporter="x" * 64, claimed_carrier=carrier_b
        )
        client.force_login(alice)
        page = client.get(self.CHANGELIST).content.decode()
        assert "+84912345678" in page and "+84901222333" not in page
        assert client.get(f"{self.CHANGELIST}{named_b.pk}/change/").status_code == 404
        client.force_login(bob)
        page = client.get(self.CHANGELIST).content.decode()
        assert "+84901222333" in page and "+84912345678" not in page
        assert client.get(f"{self.CHANGELIST}{spoof.pk}/change/").status_code == 404

    def test_only_a_superuser_rejects_and_an_operator_marks_reviewed(
        self, client, alice, root, report, staff_a
    ):
        spoof = report("+84912345678", "r1")
        client.force_login(alice)
        response = client.post(
            self.CHANGELIST, {"action": "reject_as_spam", "_selected_action": [spoof.pk]}
        )
        spoof.refresh_from_db()
        assert spoof.status == "open"
        client.post(self.CHANGELIST, {"action": "mark_reviewed", "_selected_action": [spoof.pk]})
        spoof.refresh_from_db()
        assert spoof.reviewed_at is not None
        client.force_login(root)
        response = client.post(
            self.CHANGELIST, {"action": "reject_as_spam", "_selected_action": [spoof.pk]}
        )
        assert response.status_code == 302
        spoof.refresh_from_db()
        assert spoof.status == "rejected"

    def test_a_description_with_html_is_shown_inert(self, client, root, db):
        services.report_submit(
            number=SCAMMER, reporter="y" * 64, description='<script>alert("x")</script><b>bold</b>'
        )
        client.force_login(root)
        page = client.get(self.CHANGELIST).content.decode()
        assert '<script>alert("x")</script>' not in page
        assert "&lt;script&gt;" in page

    def test_a_superuser_clears_a_number_with_a_reason_in_the_admin(self, client, root, report):
        for reporter in ["r1", "r2", "r3"]:
            report("+84901111222", reporter)
        client.force_login(root)
        response = client.post(
            "/admin/verification/numberclearance/add/",
            {"number": SCAMMER, "reason": "Reassigned to a new owner"},
        )
        assert response.status_code == 302
        from verification.models import NumberClearance

        assert NumberClearance.objects.get().number == "+84901111222"
        assert verify(SCAMMER)["report_count"] == 0


class TestWebReportForm:
    def test_the_form_files_a_report_per_ip(self, client, carrier_a):
        page = client.get("/report/")
        assert page.status_code == 200 and 'name="number"' in page.content.decode()
        response = client.post(
            "/report/",
            {
                "number": SCAMMER,
                "claimed_carrier": "alpha-post",
                "channel": "sms",
                "description": "fake hotline",
            },
            REMOTE_ADDR="198.51.100.4",
        )
        assert response.status_code == 200
        report = ScamReport.objects.get()
        assert (report.channel, report.claimed_carrier) == ("sms", carrier_a)
        assert report.reporter == services.reporter_digest("ip", "198.51.100.4")

    def test_an_invalid_number_re_renders_the_form_with_400(self, client, db):
        response = client.post("/report/", {"number": "abc", "channel": "call"})
        assert response.status_code == 400
        assert not ScamReport.objects.exists()

    @pytest.mark.parametrize("number", ["+", "12", "0912 ooo oo1"])
    def test_the_error_names_no_field_of_the_api(self, client, db, number):
        response = client.post("/report/", {"number": number, "channel": "call"})
        assert response.status_code == 400
        page = response.content.decode()
        [error] = re.findall(r'<p class="error" id="id_number_error"[^>]*>(.*?)</p>', page)
        assert error.strip() and "number:" not in error

    def test_a_pre_2018_number_is_reported_as_its_new_number(self, client, db):
        client.post("/report/", {"number": "0168 123 4567", "channel": "call"})
        assert ScamReport.objects.get().number == "+84381234567"

    @override_settings(REPORT_RATE_LIMIT="1/hour")
    def test_the_form_is_limited_per_reporter(self, client, db):
        client.post("/report/", {"number": SCAMMER, "channel": "call"})
        response = client.post("/report/", {"number": SCAMMER, "channel": "call"})
        assert response.status_code == 429 and int(response["Retry-After"]) > 0
        assert ScamReport.objects.count() == 1


def test_the_warnings_page_is_seeded_in_both_languages(client, db):
    vietnamese = client.get("/warnings/").content.decode()
    assert "OTP" in vietnamese and "mã QR" in vietnamese
    english = client.get("/warnings/?lang=en").content.decode()
    assert "shipping fee" in english and "fake hotline" in english.lower()


def test_registry_writes_keep_working_for_alerts(carrier_a):
    # A carrier created through the service can receive alerts (no webhook: no delivery).
    alert = services.alert_record(carrier=carrier_a, number="+84901111222", source="lookup")
    assert alert.deliveries.count() == 0
    registry_services.carrier_save(slug="alpha-post", name="Alpha Post")
