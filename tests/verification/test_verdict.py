"""The verdict rules of DESIGN.md, through verification.services.verify."""

import datetime

import pytest
from django.test import override_settings
from django.utils import timezone

from core.exceptions import ApplicationError
from registry import services as registry_services
from registry.models import StaffPhone
from verification import services
from verification.models import CallIntent
from verification.services import Lookup, VerificationError, mask_name, verify


@pytest.mark.parametrize(
    ("full_name", "masked"),
    [
        ("Nguyễn Văn An", "N. V. An"),
        ("Trần Thị Bình", "T. T. Bình"),
        ("An", "An"),
        ("  Lê   Văn  Cường ", "L. V. Cường"),
        ("Đặng Thị Ánh Ngọc", "Đ. T. Á. Ngọc"),
    ],
)
def test_masking_keeps_only_initials_but_the_last_part(full_name, masked):
    assert mask_name(full_name) == masked


class TestStatuses:
    def test_an_active_staff_phone_is_verified_with_masked_name(self, staff_a):
        answer = verify("0912 345 678")
        assert answer["status"] == "verified"
        assert answer["number"] == "+84912345678"
        assert answer["carriers"] == [{"slug": "alpha-post", "name": "Alpha Post"}]
        assert answer["staff"] == [
            {"carrier": "alpha-post", "display_name": "N. V. An", "employee_code": "A001"}
        ]
        assert "Nguyễn Văn An" not in str(answer)

    def test_a_hotline_is_official_first(self, staff_a, carrier_a):
        # Even a hotline also registered as a staff phone (a row from before the services
        # refused it: manage.py audit_trust reports it) answers official.
        StaffPhone.objects.create(staff=staff_a, carrier=carrier_a, number="+8419001111")
        answer = verify("19001111")
        assert answer["status"] == "official"
        assert answer["carriers"] == [{"slug": "alpha-post", "name": "Alpha Post"}]
        assert answer["staff"] == []

    def test_a_hotline_of_an_inactive_carrier_is_not_official(self, carrier_a):
        registry_services.carrier_save(slug="alpha-post", name="Alpha Post", is_active=False)
        assert verify("1900 1111")["status"] == "unknown"

    def test_one_shipper_at_two_carriers_shows_both(self, shared_shipper):
        answer = verify(shared_shipper)
        assert answer["status"] == "verified"
        assert {c["slug"] for c in answer["carriers"]} == {"alpha-post", "beta-express"}
        assert {(s["carrier"], s["employee_code"]) for s in answer["staff"]} == {
            ("alpha-post", "A002"),
            ("beta-express", "B002"),
        }

    def test_verified_lists_only_the_carriers_where_the_number_is_active_now(self, shared_shipper):
        from registry.models import StaffMember

        registry_services.staff_revoke(staff=StaffMember.objects.get(employee_code="B002"))
        answer = verify(shared_shipper)
        assert answer["status"] == "verified"
        assert answer["carriers"] == [{"slug": "alpha-post", "name": "Alpha Post"}]

    @pytest.mark.parametrize(
        "how", ["terminated", "suspended", "phone_revoked", "carrier_inactive"]
    )
    def test_a_number_whose_every_registration_ended_is_revoked(self, staff_a, how):
        if how == "phone_revoked":
            registry_services.phone_revoke(phone=staff_a.phones.get(number="+84912345678"))
        elif how == "carrier_inactive":
            registry_services.carrier_save(slug="alpha-post", name="Alpha Post", is_active=False)
        else:
            registry_services.staff_set_status(staff=staff_a, status=how)
        answer = verify("0912345678")
        assert answer["status"] == "revoked"
        assert answer["carriers"] == [{"slug": "alpha-post", "name": "Alpha Post"}]
        assert answer["staff"] == []

    def test_a_phone_outside_its_validity_dates_is_not_verified(self, staff_a):
        phone = staff_a.phones.get(number="+84912345678")
        yesterday = timezone.localdate() - datetime.timedelta(days=1)
        registry_services.phone_update(phone=phone, valid_from=None, valid_until=yesterday)
        assert verify("0912345678")["status"] == "revoked"

    def test_reports_from_enough_distinct_reporters_make_an_unknown_number_reported(
        self, db, report
    ):
        for reporter in ["r1", "r2"]:
            report("+84901111222", reporter)
        assert verify("0901111222")["status"] == "unknown"
        report("+84901111222", "r3")
        answer = verify("0901111222")
        assert (answer["status"], answer["report_count"]) == ("reported", 3)

    def test_one_reporter_counts_once(self, db, report):
        for _ in range(5):
            report("+84901111222", "same")
        answer = verify("0901111222")
        assert (answer["status"], answer["report_count"]) == ("unknown", 1)

    def test_reports_rejected_as_spam_do_not_count(self, db, report):
        for reporter in ["r1", "r2", "r3"]:
            report("+84901111222", reporter, status="rejected")
        assert verify("0901111222")["report_count"] == 0

    @override_settings(REPORT_THRESHOLD=1)
    def test_the_threshold_comes_from_the_setting(self, db, report):
        report("+84901111222", "r1")
        assert verify("0901111222")["status"] == "reported"

    def test_reports_never_turn_a_registered_number_reported_but_are_counted(self, staff_a, report):
        for reporter in ["r1", "r2", "r3", "r4"]:
            report("+84912345678", reporter)
        answer = verify("0912345678")
        assert (answer["status"], answer["report_count"]) == ("verified", 4)

    def test_an_unknown_number_has_empty_lists(self, db):
        answer = verify("+84 901 111 222")
        assert answer["status"] == "unknown"
        assert (answer["carriers"], answer["staff"], answer["report_count"]) == ([], [], 0)

    @pytest.mark.parametrize("raw", ["abc", "12", "x" * 100, "+999 1234"])
    def test_an_invalid_number_is_refused(self, db, raw):
        with pytest.raises(ApplicationError) as caught:
            verify(raw)
        assert caught.value.code == "invalid_number"


class TestClaimedCarrier:
    def test_a_true_claim_matches_and_gives_the_hotline(self, staff_a):
        claimed = verify("0912345678", Lookup(claimed_carrier="alpha-post"))["claimed_carrier"]
        assert claimed == {
            "slug": "alpha-post",
            "name": "Alpha Post",
            "matches": True,
            "hotlines": [{"number": "+8419001111", "display": "1900 1111"}],
        }

    def test_a_false_claim_does_not_match_and_gives_the_claimed_hotline(self, staff_a, carrier_b):
        claimed = verify("0912345678", Lookup(claimed_carrier="beta-express"))["claimed_carrier"]
        assert claimed["matches"] is False
        assert claimed["hotlines"] == [{"number": "+8419002222", "display": "1900 2222"}]

    def test_a_revoked_number_never_matches_its_old_carrier(self, staff_a):
        registry_services.staff_revoke(staff=staff_a)
        claimed = verify("0912345678", Lookup(claimed_carrier="alpha-post"))["claimed_carrier"]
        assert claimed["matches"] is False

    def test_an_unknown_carrier_is_refused(self, staff_a):
        with pytest.raises(VerificationError) as caught:
            verify("0912345678", Lookup(claimed_carrier="nope"))
        assert caught.value.code == "unknown_carrier"


class TestAssignmentAndCallingNow:
    @pytest.fixture
    def parcel(self, staff_a):
        registry_services.assignment_upsert(
            carrier=staff_a.carrier,
            tracking_code="VN123",
            staff=staff_a,
            recipient_phone="0901 000 999",
            status="out_for_delivery",
        )
        return "VN123"

    def test_the_assigned_staff_phone_matches_the_parcel(self, parcel):
        answer = verify("0988 111 222", Lookup(tracking_code=parcel), with_details=True)
        assert answer["assignment"] == {
            "tracking_code": "VN123",
            "matches": True,
            "carrier": "alpha-post",
        }

    def test_another_staff_phone_does_not_match(self, parcel, carrier_a):
        registry_services.staff_upsert(
            carrier=carrier_a, employee_code="A2", full_name="Other", phone_numbers=["0977 000 111"]
        )
        answer = verify("0977000111", Lookup(tracking_code=parcel), with_details=True)
        assert answer["assignment"]["matches"] is False

    def test_an_unknown_tracking_code_answers_false_not_not_found(self, staff_a):
        answer = verify("0912345678", Lookup(tracking_code="NOPE"), with_details=True)
        assert answer["assignment"] == {"tracking_code": "NOPE", "matches": False, "carrier": None}

    def test_a_delivered_parcel_no_longer_matches(self, parcel, staff_a):
        registry_services.assignment_upsert(
            carrier=staff_a.carrier, tracking_code=parcel, staff=staff_a, status="delivered"
        )
        answer = verify("0912345678", Lookup(tracking_code=parcel), with_details=True)
        assert answer["assignment"]["matches"] is False

    def test_without_options_assignment_and_calling_now_are_null(self, staff_a):
        answer = verify("0912345678", with_details=True)
        assert answer["assignment"] is None and answer["calling_now"] is None

    def test_calling_now_needs_an_announced_call_to_this_recipient(self, staff_a):
        services.call_intent_create(
            carrier=staff_a.carrier,
            employee_code="A001",
            phone="0912345678",
            recipient_phone="0901 000 999",
        )
        assert (
            verify("0912345678", Lookup(recipient_phone="0901000999"), with_details=True)[
                "calling_now"
            ]
            is True
        )
        assert (
            verify("0912345678", Lookup(recipient_phone="0901000888"), with_details=True)[
                "calling_now"
            ]
            is False
        )
        assert (
            verify("0988111222", Lookup(recipient_phone="0901000999"), with_details=True)[
                "calling_now"
            ]
            is False
        )

    def test_an_expired_call_intent_is_not_calling_now(self, staff_a):
        services.call_intent_create(
            carrier=staff_a.carrier,
            employee_code="A001",
            phone="0912345678",
            recipient_phone="0901000999",
        )
        CallIntent.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
        assert (
            verify("0912345678", Lookup(recipient_phone="0901000999"), with_details=True)[
                "calling_now"
            ]
            is False
        )

    def test_a_call_intent_of_staff_revoked_since_is_not_calling_now(self, staff_a):
        services.call_intent_create(
            carrier=staff_a.carrier,
            employee_code="A001",
            phone="0912345678",
            recipient_phone="0901000999",
        )
        registry_services.staff_revoke(staff=staff_a)
        assert (
            verify("0912345678", Lookup(recipient_phone="0901000999"), with_details=True)[
                "calling_now"
            ]
            is False
        )

    def test_an_invalid_recipient_phone_is_refused_naming_the_field(self, staff_a):
        with pytest.raises(ApplicationError) as caught:
            verify("0912345678", Lookup(recipient_phone="abc"), with_details=True)
        assert caught.value.code == "invalid_number"
        assert caught.value.details["field"] == "recipient_phone"


class TestFreshness:
    """Verdicts are cached, but every write shows on the very next lookup."""

    def _warm(self, number):
        verify(number)
        verify(number)  # second one from the cache

    @pytest.mark.parametrize("number", ["0912345678", "19001111", "0901111222"])
    def test_a_cache_miss_costs_one_query(self, staff_a, report, number, django_assert_num_queries):
        report("+84912345678", "r1")
        with django_assert_num_queries(1):
            assert verify(number)["status"] in {"verified", "official", "unknown"}

    def test_a_cached_verdict_costs_no_query(self, staff_a, django_assert_num_queries):
        verify("0912345678")
        with django_assert_num_queries(0):
            assert verify("0912345678")["status"] == "verified"

    @pytest.mark.parametrize(
        "change",
        [
            lambda staff: registry_services.staff_revoke(staff=staff),
            lambda staff: registry_services.staff_set_status(staff=staff, status="suspended"),
            lambda staff: registry_services.phone_revoke(
                phone=staff.phones.get(number="+84912345678")
            ),
            lambda staff: registry_services.staff_upsert(
                carrier=staff.carrier,
                employee_code="A001",
                full_name="x",
                phone_numbers=["0988111222"],
            ),
            lambda staff: registry_services.carrier_save(
                slug="alpha-post", name="A", is_active=False
            ),
        ],
        ids=["terminated", "suspended", "phone_revoked", "dropped_from_put", "carrier_deactivated"],
    )
    def test_a_write_that_ends_a_registration_shows_on_the_next_lookup(
        self, staff_a, change, django_capture_on_commit_callbacks
    ):
        self._warm("0912345678")
        with django_capture_on_commit_callbacks(execute=True):
            change(staff_a)
        assert verify("0912345678")["status"] == "revoked"

    def test_a_new_phone_shows_on_the_next_lookup(
        self, staff_a, django_capture_on_commit_callbacks
    ):
        self._warm("0977000333")
        with django_capture_on_commit_callbacks(execute=True):
            registry_services.phone_add(staff=staff_a, number="0977000333")
        assert verify("0977000333")["status"] == "verified"

    def test_a_new_hotline_shows_on_the_next_lookup(
        self, carrier_a, django_capture_on_commit_callbacks
    ):
        self._warm("19003333")
        with django_capture_on_commit_callbacks(execute=True):
            registry_services.channel_save(carrier=carrier_a, kind="hotline", value="1900 3333")
        assert verify("19003333")["status"] == "official"
        assert (
            verify("0912345678", Lookup(claimed_carrier="alpha-post"))["claimed_carrier"][
                "hotlines"
            ][-1]["number"]
            == "+8419003333"
        )
