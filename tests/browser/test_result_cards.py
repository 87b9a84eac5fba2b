"""Each answer of the result card in a real Chromium on a 360 px phone, page JavaScript off,
in Vietnamese (the default): `data-verdict` on the card, the headline's colour, its icon, and
the one primary action a thumb can tap. The screenshots (tests/artifacts/) show each one."""

import pytest

from registry import services as registry_services
from tests.verification.test_result_card import registry  # noqa: F401  (a fixture)

from .test_lookup_pages import check

pytestmark = pytest.mark.browser

GREEN, BLUE, RED, AMBER = (
    "rgb(20, 92, 39)",
    "rgb(11, 61, 145)",
    "rgb(163, 0, 0)",
    "rgb(107, 79, 0)",
)
THUMB = 44  # px: the smallest target a thumb hits reliably (WCAG 2.5.5, Apple, Material)


# verdict: (what the recipient types, headline class, its colour, headline, primary action)
VERDICTS = {
    "genuine": (
        ("0912 345 678", {"claimed_carrier": "alpha-post", "tracking_code": "VN123"}),
        "safe",
        GREEN,
        "Shipper đã đăng ký: bạn có thể nghe máy",
        ["#lookup-title"],
    ),
    "official": (("1900 1111", {}), "official", BLUE, "Tổng đài chính thức của Alpha Post",
                 ["tel:+8419001111"]),
    "not-this-carrier": (
        ("0912 345 678", {"claimed_carrier": "beta-express"}),
        "danger",
        RED,
        "Không phải số của Beta Express: hãy cúp máy",
        ["tel:+8419002222"],
    ),
    "wrong-parcel": (
        ("0912 345 678", {"tracking_code": "VN999"}),
        "danger",
        RED,
        "Không phải shipper giao gói hàng của bạn: hãy cúp máy",
        ["tel:+8419001111"],
    ),
    "revoked": (("0933 444 555", {}), "danger", RED, "Không còn là shipper: hãy cúp máy",
                ["tel:+8419002222"]),
    "reported": (("0901 222 333", {}), "danger", RED, "Bị báo cáo lừa đảo: hãy cúp máy",
                 ["tel:+8419001111", "tel:+8419002222", "/carriers/"]),
    "unknown": (("0909 888 777", {}), "caution", AMBER,
                "Không phải shipper đã đăng ký: hãy cúp máy",
                ["tel:+8419001111", "tel:+8419002222", "/carriers/"]),
}  # fmt: skip


@pytest.mark.parametrize("verdict", list(VERDICTS))
def test_each_verdict_reads_at_a_glance_on_a_phone(page, registry, screenshot, verdict):  # noqa: F811
    (number, fields), tone, colour, headline, actions = VERDICTS[verdict]
    check(page, number, **fields)
    card = page.locator("section.card")
    assert card.get_attribute("data-verdict") == verdict

    heading = card.locator("h2#verdict")
    assert heading.get_attribute("class") == f"headline {tone}"
    assert heading.evaluate("el => getComputedStyle(el).color") == colour
    assert heading.inner_text().strip() == headline
    # The headline is the first thing on the card, and on the first screen.
    assert card.inner_text().strip().startswith(headline)
    assert heading.bounding_box()["y"] + heading.bounding_box()["height"] < 740
    icon = heading.locator("svg.icon")
    assert icon.is_visible()
    assert icon.bounding_box()["width"] >= 24

    links = card.locator("[data-primary-action] a")
    assert [links.nth(i).get_attribute("href") for i in range(links.count())] == actions
    for i in range(links.count()):
        box = links.nth(i).bounding_box()
        assert box["height"] >= THUMB, links.nth(i).inner_text()
    first = links.nth(0).bounding_box()
    assert first["y"] < 740, "the primary action is below the first screen"
    if verdict == "genuine":
        assert not card.locator("a.call").count()
        assert "Cúp máy" not in card.inner_text()
    else:
        assert card.locator("a.call").count()

    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, verdict)


def test_an_old_number_is_checked_as_its_new_number(page, staff_a, screenshot):
    registry_services.staff_upsert(
        carrier=staff_a.carrier,
        employee_code="A009",
        full_name="Phạm Thị Hoa",
        phone_numbers=["038 123 4567"],
    )
    check(page, "0168 123 4567")
    card = page.locator("section.card")
    assert card.get_attribute("data-verdict") == "genuine"
    assert "Số bắt đầu bằng 0168… nay là 038…" in card.inner_text()
    screenshot(page, "converted")


@pytest.mark.parametrize("path", ["/", "/carriers/", "/report/", "/warnings/"])
def test_every_link_and_button_is_big_enough_for_a_thumb(page, carrier_a, path):
    page.goto(path)
    small = page.evaluate(
        """() => [...document.querySelectorAll('a, button, input, select, textarea')]
            .filter(el => el.offsetParent !== null)
            .map(el => [el.outerHTML.slice(0, 80), el.getBoundingClientRect().height])
            .filter(([, height]) => height < 44)"""
    )
    assert not small
