"""The result card answers the caller's claim (DESIGN.md, "Whose proof is it"): its root
carries `data-verdict`, and the headline, colour, icon and the one primary action follow it.
Through Django's test client, in English (the msgids) unless said otherwise."""

import re

import pytest

from registry import phones
from registry import services as registry_services
from verification import services
from verification.services import Lookup, web_verdict

from .test_pages import Page, card, html, lookup


@pytest.fixture
def english(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def registry(staff_a, staff_b):
    """A's hotline 1900 1111 and shipper 0912 345 678 with parcel VN123; B's former shipper
    0933 444 555; 0901 222 333 reported by three people. (tests/browser uses it too.)"""
    registry_services.staff_revoke(staff=staff_b)
    registry_services.assignment_upsert(
        carrier=staff_a.carrier,
        tracking_code="VN123",
        staff=staff_a,
        recipient_phone="0901000999",
        status="out_for_delivery",
    )
    for reporter in ("r1", "r2", "r3"):
        services.report_submit(
            number="0901 222 333", reporter=services.reporter_digest("test", reporter)
        )


# (number, form fields) → the verdict the page must answer.
CASES = {
    "genuine": ("0912 345 678", {}),
    "genuine-with-its-carrier": ("0912 345 678", {"claimed_carrier": "alpha-post"}),
    "genuine-with-its-parcel": ("0912 345 678", {"tracking_code": "VN123"}),
    "official": ("1900 1111", {}),
    "not-this-carrier": ("0912 345 678", {"claimed_carrier": "beta-express"}),
    "not-this-carrier-even-with-its-parcel": (
        "0912 345 678",
        {"claimed_carrier": "beta-express", "tracking_code": "VN123"},
    ),
    "official-of-another-carrier": ("1900 1111", {"claimed_carrier": "beta-express"}),
    "wrong-parcel": ("0912 345 678", {"tracking_code": "VN999"}),
    "revoked": ("0933 444 555", {}),
    "revoked-with-a-claim": ("0933 444 555", {"claimed_carrier": "beta-express"}),
    "reported": ("0901 222 333", {}),
    "unknown": ("0909 888 777", {}),
    "unknown-with-a-claim": ("0909 888 777", {"claimed_carrier": "alpha-post"}),
}
VERDICT = {
    "genuine": "genuine",
    "genuine-with-its-carrier": "genuine",
    "genuine-with-its-parcel": "genuine",
    "official": "official",
    "not-this-carrier": "not-this-carrier",
    "not-this-carrier-even-with-its-parcel": "not-this-carrier",
    "official-of-another-carrier": "not-this-carrier",
    "wrong-parcel": "wrong-parcel",
    "revoked": "revoked",
    "revoked-with-a-claim": "revoked",
    "reported": "reported",
    "unknown": "unknown",
    "unknown-with-a-claim": "unknown",
}
TONE = {
    "genuine": "safe",
    "official": "official",
    "not-this-carrier": "danger",
    "wrong-parcel": "danger",
    "revoked": "danger",
    "reported": "danger",
    "unknown": "caution",
}
HEADLINE = {
    "genuine": "A registered shipper: you may talk",
    "official": "Official hotline of Alpha Post",
    "not-this-carrier": "Not a number of Beta Express: hang up",
    "wrong-parcel": "Not the shipper of your parcel: hang up",
    "revoked": "No longer a shipper: hang up",
    "reported": "Reported as a scam: hang up",
    "unknown": "Not a registered shipper: hang up",
}
ICON = {
    "genuine": "check",
    "official": "shield",
    "not-this-carrier": "cross",
    "wrong-parcel": "warning",
    "revoked": "cross",
    "reported": "warning",
    "unknown": "question",
}


def root(response) -> dict:
    [section] = Page(html(response)).all("section", role="status")
    return section


def primary_action(response) -> list[dict]:
    """The links of the card's primary action, in order."""
    found = re.search(r"<div class=\"primary-action\"[^>]*>(.*?)</div>", html(response), re.S)
    assert found, "no primary action"
    return [tag for name, tag in Page(found.group(1)).elements if name == "a"]


class TestTheVerdictRule:
    @pytest.mark.parametrize("case", list(CASES))
    def test_the_service_derives_the_web_verdict_from_the_answer(self, registry, case):
        number, fields = CASES[case]
        answer = services.verify(
            number,
            Lookup(
                claimed_carrier=fields.get("claimed_carrier"),
                tracking_code=fields.get("tracking_code"),
            ),
            with_details=True,
        )
        assert web_verdict(answer) == VERDICT[case]

    @pytest.mark.parametrize("case", list(CASES))
    def test_the_card_root_carries_it(self, english, registry, case):
        number, fields = CASES[case]
        response = lookup(english, number, **fields)
        assert response.status_code == 200
        assert root(response)["data-verdict"] == VERDICT[case]


class TestTheHeadline:
    @pytest.mark.parametrize("case", [c for c in CASES if c in HEADLINE])
    def test_its_first_words_colour_and_icon_follow_the_verdict(self, english, registry, case):
        number, fields = CASES[case]
        response = lookup(english, number, **fields)
        verdict = VERDICT[case]
        assert card(response).startswith(HEADLINE[verdict])
        [headline] = Page(html(response)).all("h2", id="verdict")
        assert headline["class"] == f"headline {TONE[verdict]}"
        [icon] = [tag for name, tag in Page(html(response)).elements if name == "svg"]
        assert icon["data-icon"] == ICON[verdict]
        assert icon["aria-hidden"] == "true"

    def test_a_genuine_card_says_nothing_green_of_a_false_claim(self, english, registry):
        shown = card(lookup(english, "0912 345 678", claimed_carrier="beta-express"))
        assert shown.startswith("Not a number of Beta Express: hang up")
        assert "you may talk" not in shown

    def test_in_vietnamese_the_false_claim_reads_first_and_in_red(self, client, registry):
        response = lookup(client, "0912 345 678", claimed_carrier="beta-express")
        assert card(response).startswith("Không phải số của Beta Express: hãy cúp máy")
        assert "bạn có thể nghe máy" not in card(response)

    def test_an_announced_call_is_the_headline(self, english, registry, staff_a):
        services.call_intent_create(
            carrier=staff_a.carrier,
            employee_code="A001",
            phone="0912345678",
            recipient_phone="0901000999",
        )
        response = lookup(english, "0912 345 678", recipient_phone="0901 000 999")
        assert card(response).startswith("The carrier confirms: this shipper is calling you now")


class TestThePrimaryAction:
    def test_a_genuine_call_offers_no_hang_up_button(self, english, registry):
        response = lookup(english, "0912 345 678", tracking_code="VN123")
        assert [link["href"] for link in primary_action(response)] == ["#lookup-title"]
        assert not Page(html(response)).all("a", **{"class": "call"})
        assert "Hang up" not in card(response)

    def test_a_false_claim_calls_the_claimed_carrier(self, english, registry):
        response = lookup(english, "0912 345 678", claimed_carrier="beta-express")
        assert [link["href"] for link in primary_action(response)] == ["tel:+8419002222"]
        assert "Hang up and call Beta Express: 1900 2222" in card(response)

    def test_a_revoked_number_calls_its_former_carrier(self, english, registry):
        response = lookup(english, "0933 444 555")
        assert [link["href"] for link in primary_action(response)][0] == "tel:+8419002222"
        assert "Hang up and call Beta Express: 1900 2222" in card(response)

    def test_a_wrong_parcel_calls_the_carrier_of_the_number(self, english, registry):
        response = lookup(english, "0912 345 678", tracking_code="VN999")
        assert [link["href"] for link in primary_action(response)][0] == "tel:+8419001111"

    @pytest.mark.parametrize("case", ["reported", "unknown"])
    def test_without_a_carrier_to_name_it_offers_a_short_list(self, english, registry, case):
        number, fields = CASES[case]
        links = [link["href"] for link in primary_action(lookup(english, number, **fields))]
        assert links == ["tel:+8419001111", "tel:+8419002222", "/carriers/"]

    def test_an_unknown_number_with_a_claim_calls_the_claimed_carrier(self, english, registry):
        number, fields = CASES["unknown-with-a-claim"]
        links = [link["href"] for link in primary_action(lookup(english, number, **fields))]
        assert links == ["tel:+8419001111"]

    def test_an_official_hotline_is_called_back_yourself(self, english, registry):
        response = lookup(english, "1900 1111")
        assert [link["href"] for link in primary_action(response)] == ["tel:+8419001111"]
        assert "Call Alpha Post back yourself: 1900 1111" in card(response)


class TestWhoseParcel:
    def test_a_matching_parcel_names_its_carrier_when_the_answer_does(self, rf, registry):
        from django.template.loader import render_to_string

        answer = services.verify("0912 345 678", Lookup(tracking_code="VN123"), with_details=True)
        answer["assignment"]["carrier"] = "alpha-post"
        from verification.views import _parcel_carrier

        assert _parcel_carrier(answer) == "Alpha Post"
        request = rf.get("/")
        shown = render_to_string(
            "verification/_result.html",
            {
                "answer": answer,
                "verdict": "genuine",
                "tone": "safe",
                "parcel_carrier": "Alpha Post",
            },
            request=request,
        )
        assert "delivering your parcel for Alpha Post" in " ".join(shown.split())

    def test_without_the_key_the_card_still_says_it_matched(self, english, registry):
        shown = card(lookup(english, "0912 345 678", tracking_code="VN123"))
        assert "This staff member is delivering your parcel" in shown


class TestOldNumbers:
    def test_a_pre_2018_number_is_checked_as_its_new_number_and_the_page_says_so(
        self, english, staff_a
    ):
        registry_services.staff_upsert(
            carrier=staff_a.carrier,
            employee_code="A009",
            full_name="Phạm Thị Hoa",
            phone_numbers=["038 123 4567"],
        )
        response = lookup(english, "0168 123 4567")
        assert root(response)["data-verdict"] == "genuine"
        shown = card(response)
        assert phones.display("+84381234567") in shown  # 0381 234 567
        assert "Numbers starting 0168… are now 038…" in shown

    def test_in_vietnamese_too(self, client, db):
        shown = card(lookup(client, "0168 123 4567"))
        assert "Số bắt đầu bằng 0168… nay là 038…" in shown

    def test_a_number_written_today_says_nothing_of_2018(self, english, db):
        assert "2018" not in card(lookup(english, "038 123 4567"))

    def test_letters_are_refused_not_read_as_keypad_digits(self, english, staff_a):
        registry_services.staff_upsert(
            carrier=staff_a.carrier,
            employee_code="A010",
            full_name="Lê Văn Sáu",
            phone_numbers=["0912 666 661"],
        )
        response = lookup(english, "0912 ooo oo1")
        assert response.status_code == 400
        assert "data-verdict" not in html(response)
        assert "letters are not read as digits" in html(response)
