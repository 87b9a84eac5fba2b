"""The public pages, through Django's test client: the lookup form and its result cards, the
carrier directory, the language choice, the web rate limit, and what never leaves the page
(no external host, no recipient data in a URL, no unescaped input).

Most tests read the page in English (the msgids, which do not move when a translation is
reworded); TestLanguage holds the page to Vietnamese by default."""

import re
from html.parser import HTMLParser
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client, override_settings

from core import ratelimit
from registry import services as registry_services
from verification import services

RULE = (
    "A real shipper never asks for an OTP, a transfer beyond the cash-on-delivery amount "
    "printed on the parcel, or a click on a link."
)
RULE_VI = (
    "Shipper thật không bao giờ đòi mã OTP, không bao giờ bảo bạn chuyển khoản nhiều hơn số "
    "tiền thu hộ (COD) in trên gói hàng, và không bao giờ bảo bạn bấm vào đường link."
)


class Page(HTMLParser):
    """The parts of a page the tests look at: every element's attributes, the forms, the
    text of the result card."""

    def __init__(self, html: str):
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def all(self, tag: str, **attrs) -> list[dict]:
        return [
            found
            for name, found in self.elements
            if name == tag and all(found.get(key) == value for key, value in attrs.items())
        ]

    def urls(self) -> list[str]:
        return [
            value
            for _tag, attrs in self.elements
            for key, value in attrs.items()
            if key in {"href", "src", "action", "srcset", "poster", "data", "formaction"}
            and value is not None
        ]


def html(response) -> str:
    return response.content.decode()


def card(response) -> str:
    """The result card's text, tags and whitespace squeezed out."""
    found = re.search(r'<section class="card [^"]*".*?</section>', html(response), re.S)
    assert found, "no result card on the page"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(0)).split())


def text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html(response)).split())


@pytest.fixture
def english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def lookup(client, number: str, **extra):
    return client.post("/", {"number": number, **extra})


@pytest.fixture
def numbers(staff_a, staff_b, report):
    """One number of each status: A's hotline, A's shipper, B's former shipper, a number three
    people reported, and one nobody knows."""
    registry_services.staff_revoke(staff=staff_b)
    for reporter in ("r1", "r2", "r3"):
        report("0901 222 333", reporter)
    return {
        "official": "1900 1111",
        "verified": "0912 345 678",
        "revoked": "0933 444 555",
        "reported": "0901 222 333",
        "unknown": "0909 888 777",
    }


# The headline (first words of the card), what the number is, and what to do.
EXPECTED = {
    "official": (
        "Official hotline of Alpha Post",
        "is an official hotline of Alpha Post.",
        "What to do: an official hotline can still be faked on your screen.",
    ),
    "verified": (
        "A registered shipper: you may talk",
        "belongs to a registered delivery staff member.",
        "What to do: you may talk, but a caller's number can be faked.",
    ),
    "revoked": (
        "No longer a shipper: hang up",
        "was registered to a shipper, but is not any more. Do not trust this caller.",
        "What to do: hang up. Call the carrier's official hotline to ask about your parcel.",
    ),
    "reported": (
        "Reported as a scam: hang up",
        "is not registered, and 3 people reported it as a scam.",
        "What to do: hang up and do not call back.",
    ),
    "unknown": (
        "Not a registered shipper: hang up",
        "is not in the registry.",
        "This does not prove a scam, but the safe move is to hang up and call the carrier's "
        "official hotline.",
    ),
}


class TestLookupForm:
    def test_the_home_page_holds_the_lookup_form_with_a_csrf_token(self, client, carrier_a):
        response = client.get("/")
        assert response.status_code == 200
        page = Page(html(response))
        [form] = page.all("form")
        assert form["method"] == "post"
        assert page.all("input", name="number", type="text")
        assert page.all("select", name="claimed_carrier")
        assert page.all("input", name="tracking_code")
        assert page.all("input", name="recipient_phone")
        [token] = page.all("input", type="hidden", name="csrfmiddlewaretoken")
        assert len(token["value"]) >= 32

    def test_the_form_posts_to_a_url_without_a_query(self, client, carrier_a):
        [form] = Page(html(client.get("/"))).all("form")
        parts = urlsplit(form["action"])
        assert (parts.path, parts.query, parts.netloc) == ("/", "", "")

    def test_the_claimed_carrier_choice_lists_only_active_carriers(
        self, client, carrier_a, carrier_b
    ):
        registry_services.carrier_save(slug="beta-express", name="Beta Express", is_active=False)
        options = [o["value"] for o in Page(html(client.get("/"))).all("option")]
        assert options == ["", "alpha-post"]

    def test_a_number_in_the_query_string_runs_no_lookup(self, client, numbers):
        response = client.get("/", {"number": numbers["verified"]})
        assert response.status_code == 200
        assert 'class="card' not in html(response)

    def test_a_post_without_the_csrf_token_is_refused(self, numbers):
        response = Client(enforce_csrf_checks=True).post("/", {"number": numbers["verified"]})
        assert response.status_code == 403

    def test_other_methods_are_not_allowed(self, client, db):
        assert client.put("/").status_code == 405
        assert client.delete("/").status_code == 405


class TestResultCards:
    @pytest.mark.parametrize("status", list(EXPECTED))
    def test_each_status_shows_its_card_verdict_and_what_to_do(self, english, numbers, status):
        response = lookup(english, numbers[status])
        assert response.status_code == 200
        headline, verdict, what_to_do = EXPECTED[status]
        web_verdict = "genuine" if status == "verified" else status
        assert f'data-verdict="{web_verdict}"' in html(response)
        shown = card(response)
        assert shown.startswith(headline)
        assert verdict in shown
        assert what_to_do in shown

    @pytest.mark.parametrize("status", list(EXPECTED))
    def test_every_result_card_repeats_the_rule_that_stops_the_scam(self, english, numbers, status):
        assert RULE in card(lookup(english, numbers[status]))

    def test_a_verified_card_shows_the_masked_name_and_employee_code_only(self, english, numbers):
        shown = card(lookup(english, "+84 912 345 678"))
        assert "0912 345 678 belongs to a registered delivery staff member." in shown
        assert "N. V. An — employee code A001 — Alpha Post" in shown
        assert "Nguyễn" not in html(lookup(english, "+84 912 345 678"))

    def test_a_revoked_card_names_the_carriers_the_number_belonged_to(self, english, numbers):
        shown = card(lookup(english, numbers["revoked"]))
        assert "It belonged to staff of: Beta Express." in shown
        assert "slug" not in shown

    def test_a_verified_number_with_reports_warns_that_numbers_can_be_faked(
        self, english, numbers, report
    ):
        report(numbers["verified"], "someone")
        shown = card(lookup(english, numbers["verified"]))
        assert "1 person reported this number: scammers can fake a real shipper's number" in shown

    def test_a_number_reported_below_the_threshold_is_not_in_the_registry(
        self, english, numbers, report
    ):
        report(numbers["unknown"], "one")
        report(numbers["unknown"], "two")
        assert 'data-verdict="unknown"' in html(lookup(english, numbers["unknown"]))

    def test_the_parcel_check_says_whether_this_shipper_delivers_it(self, english, staff_a):
        registry_services.assignment_upsert(
            carrier=staff_a.carrier,
            tracking_code="VN123",
            staff=staff_a,
            recipient_phone="0901000999",
            status="out_for_delivery",
        )
        mine = card(lookup(english, "0912345678", tracking_code="VN123"))
        other = card(lookup(english, "0912345678", tracking_code="VN999"))
        # Whose parcel matched: a proof counts only for the carrier that made it.
        assert "This staff member is delivering your parcel for Alpha Post." in mine
        assert "not the one delivering the parcel with this tracking code" in other
        assert "delivering your parcel" not in other

    def test_an_announced_call_is_confirmed_only_to_its_recipient(self, english, staff_a):
        services.call_intent_create(
            carrier=staff_a.carrier,
            employee_code="A001",
            phone="0912345678",
            recipient_phone="0901000999",
        )
        confirmation = "The carrier confirms this staff member is calling you right now."
        assert confirmation in card(lookup(english, "0912345678", recipient_phone="090 1000 999"))
        assert confirmation not in card(lookup(english, "0912345678", recipient_phone="0901000888"))

    def test_a_claimed_carrier_that_does_not_match_shows_its_hotline_to_call(
        self, english, numbers, carrier_b
    ):
        response = lookup(english, numbers["verified"], claimed_carrier="beta-express")
        shown = card(response)
        assert "The caller said Beta Express, but this number is not one of theirs." in shown
        [call] = Page(html(response)).all("a", **{"class": "call"})
        assert call["href"] == "tel:+8419002222"
        assert "Hang up and call Beta Express: 1900 2222" in shown

    def test_a_claimed_carrier_that_matches_is_confirmed(self, english, numbers):
        shown = card(lookup(english, numbers["verified"], claimed_carrier="alpha-post"))
        assert "The caller said Alpha Post: this number is indeed one of theirs." in shown
        assert "not one of theirs" not in shown

    def test_an_unknown_number_without_a_claimed_carrier_points_to_the_hotlines(
        self, english, numbers
    ):
        response = lookup(english, numbers["unknown"])
        assert Page(html(response)).all("a", href="/carriers/")
        assert "Find your carrier's official hotline" in card(response)

    def test_the_claimed_carrier_stays_selected_for_the_next_check(self, english, numbers):
        response = lookup(english, numbers["verified"], claimed_carrier="beta-express")
        [option] = Page(html(response)).all("option", value="beta-express")
        assert "selected" in option


class TestInvalidInput:
    @pytest.mark.parametrize(
        ("number", "message"),
        [
            ("", "This field is required."),
            ("   ", "This field is required."),
            ("+", "This is not a phone number."),
            ("abc", "A phone number has only digits: letters are not read as digits."),
            ("0912 ooo oo1", "A phone number has only digits: letters are not read as digits."),
            ("12", "This phone number is too short."),
            ("+999 123 456", "This country calling code does not exist."),
            ("0912 345 678 999 888", "This phone number is too long."),
            ("9" * 65, "Ensure this value has at most 64 characters (it has 65)."),
        ],
    )
    def test_an_invalid_number_re_renders_the_form_with_its_error(
        self, english, numbers, number, message
    ):
        response = lookup(english, number)
        assert response.status_code == 400
        page = Page(html(response))
        assert page.all("input", name="number", **{"aria-invalid": "true"})
        [error] = re.findall(
            r'<p class="error" id="id_number_error"[^>]*>(.*?)</p>', html(response)
        )
        assert error == message
        assert 'class="card' not in html(response)

    @pytest.mark.parametrize(
        "number",
        ["\x00", "0912\x00345678", "+", "++84", "0" * 64, "٠٩١٢٣٤٥٦٧٨", "𝟎𝟗𝟏𝟐", "%s%n", "{{ x }}"],
    )
    def test_odd_input_is_answered_never_with_a_server_error(self, english, numbers, number):
        response = lookup(english, number, tracking_code=number, recipient_phone=number)
        assert response.status_code in {200, 400}

    def test_full_width_digits_are_read_as_the_number(self, english, numbers):
        response = lookup(english, "０９１２ ３４５ ６７８")
        assert 'data-verdict="genuine"' in html(response)

    def test_the_error_names_no_field_of_the_api(self, english, db):
        assert "number:" not in text(lookup(english, "abc"))

    def test_an_invalid_own_number_is_shown_beside_that_field(self, english, numbers):
        response = lookup(english, numbers["verified"], recipient_phone="+")
        assert response.status_code == 400
        assert Page(html(response)).all("input", name="recipient_phone", **{"aria-invalid": "true"})
        assert "This is not a phone number." in html(response)

    def test_the_error_is_announced_by_the_field_it_belongs_to(self, english, db):
        page = Page(html(lookup(english, "abc")))
        [field] = page.all("input", name="number")
        for described_by in field["aria-describedby"].split():
            assert page.all("p", id=described_by), described_by

    @pytest.mark.parametrize("slug", ["no-such-carrier", "<b>x</b>"])
    def test_an_unknown_claimed_carrier_is_a_form_error(self, english, numbers, slug):
        response = lookup(english, numbers["verified"], claimed_carrier=slug)
        assert response.status_code == 400
        assert Page(html(response)).all(
            "select", name="claimed_carrier", **{"aria-invalid": "true"}
        )
        assert "<b>x</b>" not in html(response)

    def test_user_input_comes_back_escaped(self, english, db):
        attack = '"><script>alert(1)</script>'
        response = lookup(english, attack)
        assert response.status_code == 400
        assert "<script>" not in html(response)
        assert 'value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in html(response)


class TestRecipientDataStaysOutOfUrls:
    def test_a_lookup_answers_in_place_without_a_redirect(self, english, numbers):
        response = lookup(
            english, numbers["verified"], tracking_code="VN123", recipient_phone="0901000999"
        )
        assert response.status_code == 200
        assert "Location" not in response.headers

    @pytest.mark.parametrize("status", ["verified", "unknown"])
    def test_no_url_on_the_result_page_holds_the_tracking_code_or_own_number(
        self, english, numbers, status
    ):
        response = lookup(
            english,
            numbers[status],
            claimed_carrier="beta-express",
            tracking_code="VN123XYZ",
            recipient_phone="0901 000 999",
        )
        urls = " ".join(Page(html(response)).urls())
        for secret in ("VN123XYZ", "0901", "901000999", "84901000999"):
            assert secret not in urls

    def test_the_result_page_does_not_echo_the_tracking_code_or_own_number(self, english, numbers):
        response = lookup(
            english, numbers["verified"], tracking_code="VN123XYZ", recipient_phone="0901000999"
        )
        assert "VN123XYZ" not in html(response)
        assert "0901000999" not in html(response)
        assert "901000999" not in html(response)


class TestLanguage:
    def test_vietnamese_is_the_default(self, client, carrier_a):
        response = client.get("/")
        assert response["Content-Language"] == "vi"
        assert '<html lang="vi">' in html(response)
        assert RULE_VI in text(response)
        assert "Số điện thoại đang gọi cho bạn" in text(response)

    def test_the_browsers_accept_language_does_not_change_the_page(self, client, carrier_a):
        response = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
        assert response["Content-Language"] == "vi"
        assert '<html lang="vi">' in html(response)

    def test_the_english_link_switches_and_a_cookie_keeps_it(self, client, carrier_a):
        assert Page(html(client.get("/"))).all("a", href="?lang=en")
        switched = client.get("/", {"lang": "en"})
        assert '<html lang="en">' in html(switched)
        assert switched["Content-Language"] == "en"
        assert switched.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
        later = client.get("/carriers/")
        assert '<html lang="en">' in html(later)
        assert "Official hotlines of carriers" in text(later)
        assert Page(html(later)).all("a", href="?lang=vi")

    def test_a_result_follows_the_chosen_language(self, client, numbers):
        client.get("/", {"lang": "en"})
        assert RULE in card(lookup(client, numbers["unknown"]))
        client.get("/", {"lang": "vi"})
        response = lookup(client, numbers["unknown"])
        assert '<html lang="vi">' in html(response)
        assert RULE_VI in card(response)

    def test_an_unsupported_language_is_ignored(self, client, carrier_a):
        response = client.get("/", {"lang": "fr"})
        assert '<html lang="vi">' in html(response)
        assert settings.LANGUAGE_COOKIE_NAME not in response.cookies

    def test_pages_vary_on_the_cookie_that_holds_the_language(self, client, carrier_a):
        assert "Cookie" in client.get("/carriers/")["Vary"]


class TestCarrierDirectory:
    def test_it_lists_active_carriers_with_their_hotlines_to_call(
        self, english, carrier_a, carrier_b
    ):
        registry_services.carrier_save(slug="beta-express", name="Beta Express", is_active=False)
        response = english.get("/carriers/")
        assert response.status_code == 200
        page = Page(html(response))
        assert [a["href"] for a in page.all("a", **{"class": "call"})] == ["tel:+8419001111"]
        assert "Alpha Post" in text(response)
        assert "Hotline: 1900 1111" in text(response)
        assert "Beta Express" not in text(response)

    def test_it_names_each_kind_of_channel(self, english, carrier_a):
        registry_services.channel_save(
            carrier=carrier_a, kind="app", value="Alpha Post app", label="Android"
        )
        registry_services.channel_save(carrier=carrier_a, kind="email", value="cskh@alpha.test")
        shown = text(english.get("/carriers/"))
        assert "Mobile app: Alpha Post app (Android)" in shown
        assert "Email: cskh@alpha.test" in shown

    def test_a_website_is_linked_only_when_it_is_a_web_address(self, english, carrier_a):
        registry_services.channel_save(
            carrier=carrier_a, kind="website", value="https://alpha-post.example"
        )
        registry_services.channel_save(
            carrier=carrier_a, kind="website", value="javascript:alert(document.cookie)"
        )
        response = english.get("/carriers/")
        hrefs = [a.get("href") for a in Page(html(response)).all("a")]
        assert "https://alpha-post.example" in hrefs
        assert not [href for href in hrefs if href and href.startswith("javascript:")]
        assert "Website: javascript:alert(document.cookie)" in text(response)

    def test_an_empty_directory_says_so(self, english, db):
        assert "No carrier is registered yet." in text(english.get("/carriers/"))


FROZEN_NOW = 1_800_000_015.25  # 15.25 s into a one-minute window: 44.75 s left, said as 45


@pytest.fixture
def frozen_clock(monkeypatch):
    """The rate limit's windows are fixed minutes: a test must not straddle two of them."""
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: FROZEN_NOW))


class TestRateLimit:
    @pytest.fixture(autouse=True)
    def _three_a_minute(self, settings, frozen_clock):
        settings.WEB_RATE_LIMIT = "3/min"

    def test_beyond_the_limit_it_answers_429_saying_when_to_try_again(self, english, numbers):
        for _ in range(3):
            assert lookup(english, numbers["verified"]).status_code == 200
        response = lookup(english, numbers["verified"])
        assert response.status_code == 429
        assert response["Retry-After"] == "45"
        assert "Please try again in 45 seconds." in text(response)
        assert "data-verdict=" not in html(response)

    def test_the_429_page_is_in_vietnamese_by_default(self, client, numbers):
        for _ in range(3):
            lookup(client, numbers["verified"])
        response = lookup(client, numbers["verified"])
        assert response.status_code == 429
        assert '<html lang="vi">' in html(response)
        assert "45 giây" in text(response)

    def test_invalid_lookups_count_too(self, english, db):
        for _ in range(3):
            assert lookup(english, "abc").status_code == 400
        assert lookup(english, "abc").status_code == 429

    def test_another_client_address_has_its_own_limit(self, english, numbers):
        for _ in range(4):
            lookup(english, numbers["verified"])
        other = english.post("/", {"number": numbers["verified"]}, REMOTE_ADDR="10.0.0.2")
        assert other.status_code == 200

    def test_a_rotated_forwarded_for_does_not_reset_the_limit_without_a_trusted_proxy(
        self, english, numbers, settings
    ):
        settings.TRUSTED_PROXY_COUNT = 0
        codes = [
            english.post(
                "/", {"number": numbers["verified"]}, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}"
            ).status_code
            for i in range(4)
        ]
        assert codes == [200, 200, 200, 429]

    @override_settings(TRUSTED_PROXY_COUNT=1)
    def test_behind_one_proxy_the_client_is_the_right_most_forwarded_entry(self, english, numbers):
        def from_chain(chain):
            return english.post(
                "/", {"number": numbers["verified"]}, HTTP_X_FORWARDED_FOR=chain
            ).status_code

        # The client writes whatever it likes on the left; our proxy appends what it saw.
        codes = [from_chain(f"10.9.9.{i}, 203.0.113.7") for i in range(4)]
        assert codes == [200, 200, 200, 429]
        assert from_chain("203.0.113.7, 198.51.100.9") == 200


class TestNoExternalHost:
    @pytest.fixture
    def pages(self, english, numbers, carrier_b, frozen_clock):
        responses = {
            "home": english.get("/"),
            "carriers": english.get("/carriers/"),
            "invalid": lookup(english, "abc"),
        }
        for status in EXPECTED:
            responses[status] = lookup(english, numbers[status], claimed_carrier="beta-express")
        with override_settings(WEB_RATE_LIMIT="1/min"):
            responses["rate_limited"] = lookup(english, numbers["unknown"])
        assert responses["rate_limited"].status_code == 429
        return responses

    def test_no_page_loads_or_links_anything_from_another_host(self, pages):
        for name, response in pages.items():
            for url in Page(html(response)).urls():
                parts = urlsplit(url)
                assert parts.scheme in {"", "tel"}, (name, url)
                assert not parts.netloc, (name, url)

    def test_the_pages_load_their_one_stylesheet_from_this_site(self, pages):
        for name, response in pages.items():
            sheets = Page(html(response)).all("link", rel="stylesheet")
            assert [sheet["href"] for sheet in sheets] == ["/static/css/site.css"], name
            # One script, deferred, from this site: it saves the hotlines for offline use
            # (core/webapp.py). The page does not need it; nothing runs inline.
            scripts = Page(html(response)).all("script")
            assert [script.get("src") for script in scripts] == ["/static/js/offline.js"], name
            assert all("defer" in script for script in scripts), name
            assert html(response).count("<script") == 1, name

    def test_the_stylesheet_imports_nothing_from_elsewhere(self):
        with open(finders.find("css/site.css"), encoding="utf-8") as sheet:
            css = sheet.read()
        assert "@import" not in css
        assert not re.search(r"url\(\s*['\"]?(https?:)?//", css)
