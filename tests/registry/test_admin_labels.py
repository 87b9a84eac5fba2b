"""An operator prints a privacy label of one of their parcels from the admin: the recipient's
data goes into a form that is drawn into the label and saved nowhere."""

import io

import pypdf
import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from registry import services
from registry.models import DeliveryAssignment
from registry.pii import recipient_digest

FORM = {
    "recipient_name": "Trần Văn Bảo",
    "recipient_phone": "0901 234 567",
    "address": "Số 7 phố Tràng Tiền\r\nHoàn Kiếm, Hà Nội\r\n",
    "cod_amount": "250000",
    "format": "pdf",
}


@pytest.fixture
def parcel_a(staff_a):
    assignment, _ = services.assignment_upsert(
        carrier=staff_a.carrier, tracking_code="TRK-A-1", staff=staff_a
    )
    return assignment


def label_url(assignment_pk) -> str:
    return reverse("admin:registry_deliveryassignment_label", args=[assignment_pk])


def test_alice_s_parcel_page_shows_the_link_and_the_print_form(client, alice, parcel_a):
    client.force_login(alice)
    change = client.get(reverse("admin:registry_deliveryassignment_change", args=[parcel_a.pk]))
    assert f"/p/{parcel_a.parcel_token}/" in change.content.decode()

    page = client.get(label_url(parcel_a.pk))

    assert page.status_code == 200
    html = page.content.decode()
    assert f"http://testserver/p/{parcel_a.parcel_token}/" in html
    assert 'id="label_form"' in html


def test_alice_prints_a_label_and_nothing_of_the_recipient_is_saved(client, alice, parcel_a):
    client.force_login(alice)
    entries = LogEntry.objects.count()

    response = client.post(label_url(parcel_a.pk), FORM)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = pypdf.PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert "T. V. B." in text and "**** *** 567" in text
    assert "Số 7 phố Tràng Tiền" in text and "250.000 ₫" in text
    assert "Trần" not in text
    assert response["X-Parcel-Url"] == f"http://testserver/p/{parcel_a.parcel_token}/"
    # The assignment had no recipient: it took the number's digest, and nothing else.
    parcel_a.refresh_from_db()
    assert parcel_a.recipient_digest == recipient_digest("+84901234567")
    assert LogEntry.objects.count() == entries


def test_zpl_may_be_chosen(client, alice, parcel_a):
    client.force_login(alice)
    response = client.post(label_url(parcel_a.pk), {**FORM, "format": "zpl"})
    assert response["Content-Type"] == "application/x-zpl"
    assert response.content.startswith(b"^XA")


def test_another_recipient_s_number_is_a_form_error(client, alice, parcel_a):
    services.assignment_upsert(
        carrier=parcel_a.carrier,
        tracking_code="TRK-A-1",
        staff=parcel_a.staff,
        recipient_phone="0907 000 000",
    )
    client.force_login(alice)

    response = client.post(label_url(parcel_a.pk), FORM)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert response.context["form"].errors["recipient_phone"]


def test_too_many_address_lines_are_a_form_error(client, alice, parcel_a):
    client.force_login(alice)
    response = client.post(label_url(parcel_a.pk), {**FORM, "address": "a\nb\nc\nd\ne"})
    assert response.context["form"].errors["address"]
    assert DeliveryAssignment.objects.get(pk=parcel_a.pk).recipient_digest == ""


@pytest.mark.parametrize("method", ["get", "post"])
def test_bob_cannot_tell_a_s_parcel_from_a_missing_one_and_prints_nothing(
    client, bob, parcel_a, method
):
    client.force_login(bob)

    data = FORM if method == "post" else {}  # a browser opens the form without a query
    theirs = getattr(client, method)(label_url(parcel_a.pk), data)
    missing = getattr(client, method)(label_url(parcel_a.pk + 1000), data)

    assert theirs.status_code == missing.status_code == 404
    assert DeliveryAssignment.objects.get(pk=parcel_a.pk).recipient_digest == ""


def test_charlie_gets_no_label(client, charlie, parcel_a):
    client.force_login(charlie)
    assert client.post(label_url(parcel_a.pk), FORM).status_code in (403, 404)
    assert DeliveryAssignment.objects.get(pk=parcel_a.pk).recipient_digest == ""


def test_root_may_print_any_carrier_s_label(client, root, parcel_a):
    client.force_login(root)
    assert client.post(label_url(parcel_a.pk), FORM)["Content-Type"] == "application/pdf"
