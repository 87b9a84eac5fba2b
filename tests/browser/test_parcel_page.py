"""The parcel page in a real Chromium on a 360 px phone screen, page JavaScript off, for
every status a parcel can be in: what a recipient sees after scanning the label's QR code."""

import pytest

from registry import services as registry_services
from verification import services

pytestmark = pytest.mark.browser

PHONE_WIDTH = 360
STATUSES = ["pending", "out_for_delivery", "delivered", "failed", "cancelled"]


@pytest.fixture
def parcel(staff_a):
    assignment, _ = registry_services.assignment_upsert(
        carrier=staff_a.carrier,
        tracking_code="VN-PARCEL-0001",
        staff=staff_a,
        recipient_phone="0901 234 567",
    )
    return assignment


def set_status(assignment, status: str) -> None:
    registry_services.assignment_upsert(
        carrier=assignment.carrier,
        tracking_code=assignment.tracking_code,
        staff=assignment.staff,
        status=status,
    )


@pytest.mark.parametrize("status", STATUSES)
def test_the_parcel_page_at_360_px(page, parcel, status, screenshot):
    set_status(parcel, status)
    if status == "out_for_delivery":
        services.call_intent_create(
            carrier=parcel.carrier,
            employee_code="A001",
            phone="0912 345 678",
            recipient_phone="0901 234 567",
        )

    response = page.goto(f"/p/{parcel.parcel_token}/")

    assert response.status == 200
    assert "noindex" in response.headers["x-robots-tag"]
    card = page.locator(f'section.card[data-parcel-status="{status}"]')
    assert card.is_visible()
    text = card.inner_text()
    assert "VN-PARCEL-0001" in text and "Alpha Post" in text
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    shipper_shown = status in ("pending", "out_for_delivery")
    assert ("N. V. An" in text) is shipper_shown
    assert ("0912 345 678" in text) is shipper_shown
    assert page.locator("#save-contact").count() == int(shipper_shown)
    assert (page.locator("#call-announced").count() == 1) is (status == "out_for_delivery")
    assert "Nguyễn Văn An" not in page.content()
    screenshot(page, status)


def test_the_shipper_is_saved_as_a_contact_from_the_page(page, parcel):
    page.goto(f"/p/{parcel.parcel_token}/")
    with page.expect_download() as download:
        page.click("#save-contact")
    card = open(download.value.path(), encoding="utf-8").read()
    assert card.startswith("BEGIN:VCARD") and "TEL;TYPE=CELL,VOICE:+84912345678" in card
    assert "Alpha Post" in card
