"""Numbers as people write them, everywhere a number comes in: a pre-2018 11-digit mobile is
the number it became in 2018, and letters are `invalid_number`, never keypad digits. The
table itself is pinned in tests/registry/test_phones.py; here, each way in."""

import pytest

from registry.models import StaffMember
from tests.api_client import assert_error, call, make_key

from .test_admin import active_numbers, enrol, login
from .test_admin_import import confirm, csv_upload, preview

OLD, NEW = "0168 123 4567", "+84381234567"


@pytest.fixture
def partner(db):
    return make_key(None, "partner-app")


def test_the_lookup_api_answers_for_the_new_number(client, staff_a, partner):
    body = call(client, "get", "/api/v1/numbers/01681234567/", partner).json()
    assert body["number"] == NEW


def test_a_verification_reads_an_old_recipient_number_too(client, staff_a, partner):
    response = call(
        client,
        "post",
        "/api/v1/verifications/",
        partner,
        {"number": "0912 345 678", "recipient_phone": "0168 123 4567"},
    )
    assert response.status_code == 200


@pytest.mark.parametrize("number", ["0912 ooo oo1", "0912345678x", "1900-SHIP"])
def test_the_api_refuses_letters_as_invalid_number(client, staff_a, partner, number):
    assert_error(
        call(client, "post", "/api/v1/verifications/", partner, {"number": number}),
        400,
        "invalid_number",
    )


def test_the_carrier_api_enrols_an_old_number_as_its_new_number(client, carrier_a):
    key = make_key(carrier_a, "dispatch")
    response = call(
        client,
        "put",
        "/api/v1/carrier/staff/A050/",
        key,
        {"full_name": "Phạm Thị Hoa", "phones": [OLD], "status": "active"},
    )
    assert response.status_code == 201
    assert [phone["number"] for phone in response.json()["phones"]] == [NEW]


def test_the_carrier_api_refuses_letters_naming_the_phone(client, carrier_a):
    key = make_key(carrier_a, "dispatch")
    response = call(
        client,
        "put",
        "/api/v1/carrier/staff/A050/",
        key,
        {"full_name": "Phạm Thị Hoa", "phones": ["0912 ooo oo1"], "status": "active"},
    )
    assert_error(response, 400, "invalid_number")
    assert not StaffMember.objects.filter(employee_code="A050").exists()


def test_the_admin_enrols_an_old_number_as_its_new_number(client, carrier_a, alice):
    enrol(login(client, alice), employee_code="A051", full_name="Đỗ Minh", phones=[OLD])
    assert active_numbers(StaffMember.objects.get(employee_code="A051")) == [NEW]


def test_the_admin_refuses_letters(client, carrier_a, alice):
    response = enrol(
        login(client, alice), employee_code="A052", full_name="Đỗ Minh", phones=["0912 ooo oo1"]
    )
    assert response.status_code == 200
    assert not StaffMember.objects.filter(employee_code="A052").exists()


def test_an_import_enrols_an_old_number_as_its_new_number(client, alice, carrier_a):
    login(client, alice)
    rows = [["A053", "Lê Văn Minh", "", "", f"{OLD}; 0199 765 4321"]]
    assert confirm(client, preview(client, csv_upload(rows), carrier_a)).status_code == 302
    assert active_numbers(StaffMember.objects.get(employee_code="A053")) == [
        NEW,
        "+84597654321",
    ]
