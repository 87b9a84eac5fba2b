"""The lookup pages in a real Chromium on a 360 px phone screen, page JavaScript off: a
recipient types the number, submits, and reads the card."""

import pytest

from registry import services as registry_services

pytestmark = pytest.mark.browser

GREEN, RED = "rgb(27, 122, 52)", "rgb(163, 0, 0)"
PHONE_WIDTH = 360


@pytest.fixture
def shippers(staff_a, staff_b, carrier_b):
    """A's shipper 0912 345 678 is active; B's shipper 0933 444 555 was let go."""
    registry_services.staff_revoke(staff=staff_b)


def check(page, number: str, claimed_carrier: str = "", **fields):
    page.goto("/")
    page.fill("#id_number", number)
    if claimed_carrier:
        page.select_option("#id_claimed_carrier", claimed_carrier)
    for name, value in fields.items():
        page.fill(f"#id_{name}", value)
    with page.expect_navigation():
        page.click("button[type=submit]")


def border_color(page, selector: str) -> str:
    return page.eval_on_selector(selector, "el => getComputedStyle(el).borderTopColor")


def scroll_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_a_verified_number_shows_the_green_card_with_the_masked_name(
    page, live_server, shippers, screenshot
):
    check(page, "0912 345 678", recipient_phone="0901 000 999")
    card = page.locator("section[data-verdict=genuine]")
    assert card.is_visible()
    assert border_color(page, "section[data-verdict=genuine]") == GREEN
    assert "N. V. An" in card.inner_text()
    assert "A001" in card.inner_text()
    assert "Nguyễn Văn An" not in page.content()
    # The form was POSTed: nothing the recipient typed is in the address bar.
    assert page.url == f"{live_server.url}/"
    screenshot(page, "verified")


def test_a_revoked_number_shows_the_red_card(page, shippers, screenshot):
    check(page, "0933444555")
    card = page.locator("section[data-verdict=revoked]")
    assert card.is_visible()
    assert border_color(page, "section[data-verdict=revoked]") == RED
    assert "Beta Express" in card.inner_text()
    screenshot(page, "revoked")


def test_a_claimed_carrier_that_does_not_match_offers_its_hotline_to_call(
    page, shippers, screenshot
):
    check(page, "0912345678", claimed_carrier="beta-express")
    call = page.locator('section.card a.call[href="tel:+8419002222"]')
    assert call.is_visible()
    assert "1900 2222" in call.inner_text()
    assert page.locator("section.card .bad").is_visible()
    # Big enough to tap with a thumb.
    assert call.bounding_box()["height"] >= 44
    screenshot(page, "claim-mismatch")


def test_an_invalid_number_shows_the_error_beside_the_field(page, shippers, screenshot):
    check(page, "12")
    assert not page.locator("section.card").count()
    error = page.locator("#id_number_error")
    assert error.is_visible()
    assert error.inner_text().strip()
    screenshot(page, "invalid")


@pytest.mark.parametrize(
    "visit",
    [
        pytest.param(lambda page: page.goto("/"), id="home"),
        pytest.param(lambda page: page.goto("/carriers/"), id="carriers"),
        pytest.param(lambda page: check(page, "0912345678"), id="verified"),
        pytest.param(lambda page: check(page, "0933444555"), id="revoked"),
        pytest.param(
            lambda page: check(page, "0909 888 777", claimed_carrier="beta-express"),
            id="unknown-with-claim",
        ),
        pytest.param(lambda page: check(page, "+84 0912 345 678 999 888 777"), id="invalid"),
        pytest.param(lambda page: page.goto("/?lang=en"), id="english"),
    ],
)
def test_no_page_scrolls_sideways_on_a_360_px_phone(page, shippers, screenshot, visit):
    visit(page)
    assert page.viewport_size["width"] == PHONE_WIDTH
    width = scroll_width(page)
    screenshot(page, "layout")
    assert width <= PHONE_WIDTH


def test_the_page_is_vietnamese_whatever_the_phone_language(browser, live_server, carrier_a):
    context = browser.new_context(
        viewport={"width": PHONE_WIDTH, "height": 740},
        java_script_enabled=False,
        locale="en-US",
        extra_http_headers={"Accept-Language": "en-US,en;q=0.9"},
    )
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/")
        assert page.get_attribute("html", "lang") == "vi"
        assert "Số điện thoại đang gọi cho bạn" in page.inner_text("label[for=id_number]")
    finally:
        context.close()


def test_the_english_link_switches_the_pages_and_stays_switched(page, shippers, screenshot):
    page.goto("/")
    assert page.get_attribute("html", "lang") == "vi"
    with page.expect_navigation():
        page.click("a[hreflang=en]")
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("h1") == "Is this really your shipper?"
    screenshot(page, "home-en")
    check(page, "0933444555")
    assert page.get_attribute("html", "lang") == "en"
    assert "No longer a shipper: hang up" in page.inner_text("section.card")
    page.goto("/carriers/")
    assert page.inner_text("h1") == "Official hotlines of carriers"
    with page.expect_navigation():
        page.click("a[hreflang=vi]")
    assert page.get_attribute("html", "lang") == "vi"
