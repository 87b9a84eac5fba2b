import pytest
from django.db import IntegrityError, transaction

from registry import services
from registry.models import DeliveryAssignment, OfficialChannel, StaffMember, StaffPhone
from registry.pii import recipient_digest


def active_numbers(staff):
    return sorted(staff.phones.filter(status="active").values_list("number", flat=True))


class TestCarrierSave:
    def test_it_creates_a_carrier_with_hotlines_in_e164(self, db):
        carrier, created = services.carrier_save(slug="x", name="X", hotlines=["1900 1234"])
        assert created
        assert list(carrier.channels.values_list("kind", "value")) == [("hotline", "+8419001234")]

    def test_it_is_idempotent_and_only_adds_hotlines(self, db):
        services.carrier_save(slug="x", name="X", hotlines=["1900 1234"])
        carrier, created = services.carrier_save(
            slug="x", name="X2", hotlines=["19001234", "1900 5678"]
        )
        assert not created
        assert carrier.name == "X2"
        assert sorted(carrier.channels.values_list("value", flat=True)) == [
            "+8419001234",
            "+8419005678",
        ]

    def test_it_rejects_an_invalid_hotline_and_writes_nothing(self, db):
        with pytest.raises(services.RegistryError) as caught:
            services.carrier_save(slug="x", name="X", hotlines=["1900 1234", "abc"])
        assert caught.value.code == "invalid_number"
        assert not OfficialChannel.objects.exists()

    def test_it_rejects_a_bad_slug(self, db):
        with pytest.raises(services.RegistryError) as caught:
            services.carrier_save(slug="not a slug!", name="X")
        assert caught.value.code == "invalid"


class TestStaffUpsert:
    def test_it_creates_staff_with_phones(self, carrier_a):
        staff, created = services.staff_upsert(
            carrier=carrier_a,
            employee_code="A9",
            full_name="Lê Văn C",
            phone_numbers=["0912 000 111", "+84912000111", "0988000222"],
        )
        assert created
        assert active_numbers(staff) == ["+84912000111", "+84988000222"]

    def test_the_phone_list_is_the_whole_truth(self, staff_a):
        staff, created = services.staff_upsert(
            carrier=staff_a.carrier,
            employee_code="A001",
            full_name="Nguyễn Văn An",
            phone_numbers=["0988 111 222", "0977 000 333"],
        )
        assert not created
        assert active_numbers(staff) == ["+84977000333", "+84988111222"]
        revoked = StaffPhone.objects.get(number="+84912345678")
        assert revoked.status == "revoked" and revoked.revoked_at is not None

    def test_a_revoked_number_listed_again_comes_back(self, staff_a):
        services.staff_upsert(
            carrier=staff_a.carrier,
            employee_code="A001",
            full_name="x",
            phone_numbers=["0988 111 222"],
        )
        services.staff_upsert(
            carrier=staff_a.carrier,
            employee_code="A001",
            full_name="x",
            phone_numbers=["0988 111 222", "0912 345 678"],
        )
        assert active_numbers(staff_a) == ["+84912345678", "+84988111222"]
        assert staff_a.phones.count() == 2

    def test_one_invalid_phone_saves_nothing(self, staff_a):
        with pytest.raises(services.RegistryError) as caught:
            services.staff_upsert(
                carrier=staff_a.carrier,
                employee_code="A001",
                full_name="Changed",
                phone_numbers=["0977 000 333", "12"],
            )
        assert caught.value.code == "invalid_number"
        assert caught.value.details == {"number": "12", "reason": "too_short"}
        staff_a.refresh_from_db()
        assert staff_a.full_name == "Nguyễn Văn An"
        assert active_numbers(staff_a) == ["+84912345678", "+84988111222"]

    def test_a_number_active_for_another_staff_of_the_carrier_is_refused(self, staff_a):
        with pytest.raises(services.RegistryError) as caught:
            services.staff_upsert(
                carrier=staff_a.carrier,
                employee_code="A002",
                full_name="Other",
                phone_numbers=["0912345678"],
            )
        assert caught.value.code == "phone_in_use"
        assert not StaffMember.objects.filter(employee_code="A002").exists()

    def test_the_same_number_may_be_active_at_two_carriers(self, staff_a, carrier_b):
        staff, _ = services.staff_upsert(
            carrier=carrier_b, employee_code="B7", full_name="Shared", phone_numbers=["0912345678"]
        )
        assert active_numbers(staff) == ["+84912345678"]
        assert StaffPhone.objects.filter(number="+84912345678", status="active").count() == 2

    def test_terminating_revokes_every_phone(self, staff_a):
        services.staff_upsert(
            carrier=staff_a.carrier, employee_code="A001", full_name="x", status="terminated"
        )
        assert active_numbers(staff_a) == []

    def test_an_unknown_status_is_refused(self, carrier_a):
        with pytest.raises(services.RegistryError):
            services.staff_upsert(
                carrier=carrier_a, employee_code="A3", full_name="x", status="on_leave"
            )
        assert not StaffMember.objects.exists()

    def test_it_records_history(self, staff_a):
        services.staff_set_status(staff=staff_a, status="suspended")
        statuses = list(staff_a.history.order_by("history_date").values_list("status", flat=True))
        assert statuses == ["active", "suspended"]


class TestStaffStatus:
    def test_suspend_keeps_phones_and_reactivate_restores(self, staff_a):
        services.staff_set_status(staff=staff_a, status="suspended")
        assert len(active_numbers(staff_a)) == 2
        services.staff_reactivate(staff=staff_a)
        staff_a.refresh_from_db()
        assert staff_a.status == "active"

    def test_revoke_terminates_and_frees_the_numbers(self, staff_a):
        services.staff_revoke(staff=staff_a)
        staff_a.refresh_from_db()
        assert staff_a.status == "terminated"
        other, _ = services.staff_upsert(
            carrier=staff_a.carrier,
            employee_code="A002",
            full_name="New",
            phone_numbers=["0912345678"],
        )
        assert active_numbers(other) == ["+84912345678"]


class TestPhones:
    def test_phone_add_normalizes(self, staff_a):
        phone = services.phone_add(staff=staff_a, number="0977.000.333")
        assert phone.number == "+84977000333" and phone.carrier == staff_a.carrier

    def test_phone_add_refuses_an_active_duplicate(self, staff_a):
        with pytest.raises(services.RegistryError) as caught:
            services.phone_add(staff=staff_a, number="0912345678")
        assert caught.value.code == "phone_in_use"

    def test_phone_validity_must_be_ordered(self, staff_a):
        import datetime

        with pytest.raises(services.RegistryError):
            services.phone_add(
                staff=staff_a,
                number="0977000333",
                valid_from=datetime.date(2026, 5, 2),
                valid_until=datetime.date(2026, 5, 1),
            )

    def test_phone_revoke_is_recorded_in_history(self, staff_a):
        phone = staff_a.phones.first()
        services.phone_revoke(phone=phone)
        services.phone_revoke(phone=phone)
        assert list(phone.history.order_by("history_date").values_list("status", flat=True)) == [
            "active",
            "revoked",
        ]


class TestAssignments:
    def test_it_stores_only_the_recipient_digest(self, staff_a):
        assignment, created = services.assignment_upsert(
            carrier=staff_a.carrier,
            tracking_code="T1",
            staff=staff_a,
            recipient_phone="0901 000 999",
        )
        assert created
        assert assignment.recipient_digest == recipient_digest("+84901000999")
        assert "901000999" not in assignment.recipient_digest

    def test_it_updates_by_tracking_code(self, staff_a):
        services.assignment_upsert(carrier=staff_a.carrier, tracking_code="T1", staff=staff_a)
        _, created = services.assignment_upsert(
            carrier=staff_a.carrier, tracking_code="T1", staff=staff_a, status="delivered"
        )
        assert not created
        assert DeliveryAssignment.objects.get().status == "delivered"

    def test_it_stores_and_returns_the_tracking_code_without_surrounding_blanks(self, staff_a):
        assignment, created = services.assignment_upsert(
            carrier=staff_a.carrier, tracking_code=" T1 ", staff=staff_a
        )
        assert created and assignment.tracking_code == "T1"

    def test_it_refuses_staff_of_another_carrier(self, staff_a, carrier_b):
        with pytest.raises(services.RegistryError) as caught:
            services.assignment_upsert(carrier=carrier_b, tracking_code="T1", staff=staff_a)
        assert caught.value.code == "unknown_employee"

    def test_it_refuses_a_staff_member_who_is_not_active_as_the_api_does(self, staff_a):
        services.staff_revoke(staff=staff_a)
        with pytest.raises(services.RegistryError) as caught:
            services.assignment_upsert(carrier=staff_a.carrier, tracking_code="T1", staff=staff_a)
        assert caught.value.code == "staff_not_active"
        assert not DeliveryAssignment.objects.exists()

    def test_it_refuses_a_window_that_ends_before_it_starts(self, staff_a):
        from django.utils import timezone

        now = timezone.now()
        with pytest.raises(services.RegistryError) as caught:
            services.assignment_upsert(
                carrier=staff_a.carrier,
                tracking_code="T1",
                staff=staff_a,
                window_start=now,
                window_end=now.replace(year=2000),
            )
        assert caught.value.code == "invalid_window"


def test_operator_assign_makes_a_staff_user_of_one_carrier(alice, carrier_a):
    alice.refresh_from_db()
    assert alice.is_staff
    assert alice.carrier_operator.carrier == carrier_a
    assert alice.has_perm("registry.add_staffmember")
    assert not alice.has_perm("registry.add_carrier")


def test_api_key_create_stores_only_a_hash(carrier_a):
    api_key, raw = services.api_key_create(name="dispatch", carrier=carrier_a)
    assert raw.startswith(api_key.prefix + ".")
    assert raw not in api_key.hashed_key
    assert type(api_key).objects.is_valid(raw)


class TestDatabaseConstraints:
    """The database refuses duplicates even when the services are bypassed."""

    def test_employee_code_is_unique_per_carrier(self, staff_a, carrier_b):
        StaffMember.objects.create(carrier=carrier_b, employee_code="A001", full_name="ok")
        with pytest.raises(IntegrityError), transaction.atomic():
            StaffMember.objects.create(
                carrier=staff_a.carrier, employee_code="A001", full_name="dup"
            )

    def test_a_number_is_active_at_most_once_per_carrier(self, staff_a):
        StaffPhone.objects.create(
            staff=staff_a, carrier=staff_a.carrier, number="+84912345678", status="revoked"
        )
        with pytest.raises(IntegrityError), transaction.atomic():
            StaffPhone.objects.create(staff=staff_a, carrier=staff_a.carrier, number="+84912345678")

    def test_phone_numbers_must_be_e164(self, staff_a):
        with pytest.raises(IntegrityError), transaction.atomic():
            StaffPhone.objects.create(staff=staff_a, carrier=staff_a.carrier, number="0912345678")

    def test_tracking_code_is_unique_per_carrier(self, staff_a):
        DeliveryAssignment.objects.create(carrier=staff_a.carrier, tracking_code="T", staff=staff_a)
        with pytest.raises(IntegrityError), transaction.atomic():
            DeliveryAssignment.objects.create(
                carrier=staff_a.carrier, tracking_code="T", staff=staff_a
            )

    def test_a_recipient_number_cannot_be_stored_as_the_digest(self, staff_a):
        with pytest.raises(IntegrityError), transaction.atomic():
            DeliveryAssignment.objects.create(
                carrier=staff_a.carrier,
                tracking_code="T",
                staff=staff_a,
                recipient_digest="+84901000999",
            )

    def test_staff_status_is_checked(self, carrier_a):
        with pytest.raises(IntegrityError), transaction.atomic():
            StaffMember.objects.create(
                carrier=carrier_a, employee_code="Z", full_name="z", status="x"
            )
