"""Printing labels keeps nothing of the recipient but the assignment's digest: after labels
through the API (PDF and ZPL), a refused one and the admin's form, the recipient's name,
number and address are in no table, cache entry, log record (DEBUG, SQL included) or
logging stream."""

import pytest

from registry import services
from registry.models import DeliveryAssignment
from registry.pii import recipient_digest
from tests import test_privacy_audit
from tests.api_client import call, make_key
from tests.test_privacy_audit import occurrences

audit = test_privacy_audit.audit  # the privacy audit's fixture, used here as it is there

NAME = "Đặng Thị Mỹ Duyên"
ADDRESS = ["Số 99 ngõ Quỳnh, phố Bạch Mai", "Phường Thanh Nhàn, Hai Bà Trưng"]
# The number is the audit's own (0901 234 567), which it finds however it is written.


def traces(text: str) -> list[str]:
    found = occurrences(text)
    found += [part for part in [NAME, *NAME.split()[1:], *ADDRESS] if part in text]
    return found


@pytest.fixture
def parcels(staff_a):
    for code, phone in [("TRK-L-1", "0901 234 567"), ("TRK-L-2", None)]:
        services.assignment_upsert(
            carrier=staff_a.carrier, tracking_code=code, staff=staff_a, recipient_phone=phone
        )


def test_no_trace_of_the_recipient_after_printing_labels(client, audit, staff_a, alice, parcels):
    key = make_key(staff_a.carrier, "alpha-dispatch")
    body = {
        "tracking_code": "TRK-L-1",
        "recipient_name": NAME,
        "recipient_phone": "0901 234 567",
        "address_lines": ADDRESS,
        "cod_amount": 99000,
    }
    pdf = call(client, "POST", "/api/v1/carrier/labels/", key, body)
    zpl = call(client, "POST", "/api/v1/carrier/labels/", key, {**body, "format": "zpl"})
    taken = call(
        client, "POST", "/api/v1/carrier/labels/", key, {**body, "tracking_code": "TRK-L-2"}
    )
    refused = call(
        client, "POST", "/api/v1/carrier/labels/", key, {**body, "recipient_phone": "0901234999"}
    )
    client.force_login(alice)
    parcel = DeliveryAssignment.objects.get(tracking_code="TRK-L-2")
    admin = client.post(
        f"/admin/registry/deliveryassignment/{parcel.pk}/label/",
        {
            "recipient_name": NAME,
            "recipient_phone": "+84 901 234 567",
            "address": "\n".join(ADDRESS),
            "format": "pdf",
        },
    )

    # The labels were really printed, with the recipient's data in them.
    assert [pdf.status_code, zpl.status_code, taken.status_code] == [200, 200, 200]
    assert refused.status_code == 400 and admin["Content-Type"] == "application/pdf"
    assert ADDRESS[0] in zpl.content.decode()
    digests = set(DeliveryAssignment.objects.values_list("recipient_digest", flat=True))
    assert digests == {recipient_digest("+84901234567")}

    # ...and nothing of the recipient is kept or said anywhere.
    sources = {
        **audit.database(),
        "sessions": audit.sessions(),
        "cache": audit.cache(),
        "log records": audit.logs(),
        "stdout/stderr and log streams": audit.output(),
    }
    leaks = {name: found for name, text in sources.items() if (found := traces(text))}
    assert leaks == {}


def test_the_search_would_find_a_name_or_an_address_left_behind(db):
    assert traces(f"note: {NAME}") and traces(f"ship to {ADDRESS[1]}")
    assert traces("Thị Mỹ Duyên") and not traces("Đ. T. M. D. **** *** 567")
