"""The public pages, through Django's test client: the lookup form and its result cards, the
carrier directory, the language choice, the web rate limit, and what never leaves the page
(no external host, no recipient data in a URL, no unescaped input).

Most tests read the page in English (the msgids, which do not move when a translation is
reworded); TestLanguage holds the page to Vietnamese by default."""

import re
from html import unescape
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


def fields(response) -> dict[str, dict]:
    """The lookup form's inputs and select by name, with their attributes."""
    page = Page(html(response))
    return {attrs["name"]: attrs for tag in ("input", "select") for attrs in page.all(tag)}


def selected(response) -> list[str]:
    return [o["value"] for o in Page(html(response)).all("option") if "selected" in o]


# Each field's attributes when nothing was typed and nothing is wrong.
BLANK_FIELDS = {
    "number": {
        "type": "text",
        "name": "number",
        "inputmode": "tel",
        "autocomplete": "off",
        "placeholder": "0912 345 678",
        "maxlength": "64",
        "required": None,
        "id": "id_number",
    },
    "claimed_carrier": {"name": "claimed_carrier", "id": "id_claimed_carrier"},
    "tracking_code": {
        "type": "text",
        "name": "tracking_code",
        "autocomplete": "off",
        "autocapitalize": "characters",
        "maxlength": "64",
        "id": "id_tracking_code",
    },
    "recipient_phone": {
        "type": "text",
        "name": "recipient_phone",
        "inputmode": "tel",
        "autocomplete": "tel",
        "maxlength": "64",
        "aria-describedby": "id_recipient_phone_helptext",
        "id": "id_recipient_phone",
    },
}


class TestTheFormsMarkup:
    """What the form's elements say, blank, after a check and after an error: pinned here so
    that how the page writes them can change without the page changing."""

    def test_a_blank_form_writes_each_field_with_its_attributes(self, english, carrier_a):
        response = english.get("/")
        found = fields(response)
        del found["csrfmiddlewaretoken"]
        assert found == BLANK_FIELDS
        assert selected(response) == [""]
        assert 'class="field invalid"' not in html(response)

    def test_each_field_has_its_label_and_the_own_number_its_help(self, english, carrier_a):
        response = english.get("/")
        labels = re.findall(r'<label for="(id_\w+)">(.*?)</label>', html(response))
        assert labels == [
            ("id_number", "The number that is calling you"),
            ("id_claimed_carrier", "Which carrier did the caller say they are from?"),
            ("id_tracking_code", "Your tracking code (optional)"),
            ("id_recipient_phone", "Your own phone number (optional)"),
        ]
        [help_text] = Page(html(response)).all("p", id="id_recipient_phone_helptext")
        assert help_text["class"] == "help"
        assert "Used only to check whether the carrier announced this call to you." in text(
            response
        )

    def test_the_carrier_options_come_escaped_in_directory_order(self, english, carrier_a):
        registry_services.carrier_save(slug="beta-express", name='Beta "<Express>" & Co')
        response = english.get("/")
        options = re.findall(r'<option value="([^"]*)"[^>]*>(.*?)</option>', html(response))
        assert [(value, unescape(label)) for value, label in options] == [
            ("", "They did not say / I don't know"),
            ("alpha-post", "Alpha Post"),
            ("beta-express", 'Beta "<Express>" & Co'),
        ]
        assert options[2][1] == "Beta &quot;&lt;Express&gt;&quot; &amp; Co"

    def test_after_an_error_what_was_typed_comes_back_escaped(self, english, carrier_a):
        typed = {
            "number": '"><b>12',
            "claimed_carrier": "alpha-post",
            "tracking_code": "<i>VN&amp;1",
            "recipient_phone": "  0901 000 999 ",
        }
        response = lookup(english, **typed)
        assert response.status_code == 400
        found = fields(response)
        for name in ("number", "tracking_code", "recipient_phone"):
            assert found[name]["value"] == typed[name], name
        assert 'value="&quot;&gt;&lt;b&gt;12"' in html(response)
        assert 'value="&lt;i&gt;VN&amp;amp;1"' in html(response)
        assert selected(response) == ["alpha-post"]

    def test_a_check_clears_the_fields_but_keeps_the_claimed_carrier(self, english, numbers):
        response = lookup(
            english, numbers["verified"], claimed_carrier="alpha-post", tracking_code="VN1"
        )
        assert response.status_code == 200
        found = fields(response)
        del found["csrfmiddlewaretoken"]
        assert found == BLANK_FIELDS
        assert selected(response) == ["alpha-post"]

    def test_a_field_with_an_error_or_a_typed_value_is_never_kept_for_the_next_page(
        self, english, carrier_a
    ):
        """Pristine fields are rendered once per language (once_per_language unless …): a
        page with errors and values must neither be served that copy nor become it."""
        blank = fields(english.get("/"))
        del blank["csrfmiddlewaretoken"]
        response = lookup(english, "", tracking_code="x" * 65, recipient_phone="0901")
        found = fields(response)
        assert found["tracking_code"]["value"] == "x" * 65
        assert found["recipient_phone"]["value"] == "0901"
        assert html(response).count('class="field invalid"') == 2
        again = fields(english.get("/"))
        del again["csrfmiddlewaretoken"]
        assert blank == again == BLANK_FIELDS
        assert 'class="field invalid"' not in html(english.get("/"))

    def test_an_error_is_written_beside_its_field_and_announced(self, english, carrier_a):
        response = lookup(english, "", tracking_code="x" * 65)
        found = fields(response)
        errors = dict(
            re.findall(
                r'<p class="error" id="(id_\w+)_error" role="alert">(.*?)</p>', html(response)
            )
        )
        assert errors == {
            "id_number": "This field is required.",
            "id_tracking_code": "Ensure this value has at most 64 characters (it has 65).",
        }
        assert html(response).count('class="field invalid"') == 2
        for name in ("number", "tracking_code"):
            assert found[name]["aria-invalid"] == "true"
            assert found[name]["aria-describedby"] == f"id_{name}_error"
        assert "aria-invalid" not in found["recipient_phone"]
        assert "aria-invalid" not in found["claimed_carrier"]

    def test_an_error_on_the_own_number_is_described_with_its_help(self, english, numbers):
        response = lookup(english, numbers["verified"], recipient_phone="+")
        found = fields(response)["recipient_phone"]
        assert found["aria-invalid"] == "true"
        assert found["aria-describedby"] == "id_recipient_phone_helptext id_recipient_phone_error"

    def test_an_unknown_claimed_carrier_is_refused_beside_the_choice(self, english, carrier_a):
        response = lookup(english, "0912345678", claimed_carrier="<b>x</b>")
        found = fields(response)["claimed_carrier"]
        assert (found["aria-invalid"], found["aria-describedby"]) == (
            "true",
            "id_claimed_carrier_error",
        )
        [error] = Page(html(response)).all("p", id="id_claimed_carrier_error")
        assert error["role"] == "alert"
        assert "Select a valid choice. &lt;b&gt;x&lt;/b&gt; is not one of" in html(response)
        assert selected(response) == []

    def test_the_page_gives_each_browser_its_own_working_csrf_token(self, numbers):
        tokens = []
        for _ in range(2):
            browser = Client(enforce_csrf_checks=True)
            [token] = Page(html(browser.get("/"))).all("input", name="csrfmiddlewaretoken")
            tokens.append(token["value"])
            answer = browser.post(
                "/", {"number": numbers["verified"], "csrfmiddlewaretoken": token["value"]}
            )
            assert answer.status_code == 200
            [again] = Page(html(answer)).all("input", name="csrfmiddlewaretoken")
            assert again["type"] == "hidden"
        assert tokens[0] != tokens[1]

    def test_nothing_of_one_request_shows_in_the_next(self, english, numbers):
        lookup(english, '"><b>typed', tracking_code="VN-SECRET", claimed_carrier="alpha-post")
        lookup(english, numbers["verified"], claimed_carrier="alpha-post")
        response = Client().get("/")
        assert "typed" not in html(response) and "VN-SECRET" not in html(response)
        assert 'class="card' not in html(response)
        assert "invalid" not in html(response)
        assert selected(response) == [""]
        assert '<html lang="vi">' in html(response)
        assert Page(html(response)).all("a", href="?lang=en")
        assert "Số điện thoại đang gọi cho bạn" in text(response)
        assert "The number that is calling you" not in text(response)

    @pytest.mark.parametrize("language", ["vi", "en"])
    def test_the_form_after_a_check_is_in_the_page_language(self, client, numbers, language):
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        for response in (lookup(client, numbers["verified"]), lookup(client, "abc")):
            assert f'<html lang="{language}">' in html(response)
            label = "Số điện thoại đang gọi cho bạn" if language == "vi" else "The number that"
            assert label in text(response)
            other = "en" if language == "vi" else "vi"
            assert Page(html(response)).all("a", href=f"?lang={other}", hreflang=other)


# Carrier names of the length real ones have ("Giao Hàng Tiết Kiệm", "Viettel Post"...).
TWENTY_CARRIERS = [f"Giao Hàng Nhanh Số {n:02d}" for n in range(1, 21)]


class TestPageSize:
    """A cheap phone on a weak signal loads the answer: the whole page stays within 8 KB."""

    LIMIT = 8 * 1024

    @pytest.fixture
    def twenty_carriers(self, numbers, carrier_b):
        for n, name in enumerate(TWENTY_CARRIERS[2:], start=3):
            registry_services.carrier_save(
                slug=f"carrier-{n:02d}", name=name, hotlines=[f"1900 {n:04d}"]
            )

    @pytest.mark.parametrize("language", ["vi", "en"])
    @pytest.mark.parametrize(
        "fields",
        [
            pytest.param(None, id="blank"),
            pytest.param({"number": "0909 888 777"}, id="unknown"),
            pytest.param({"number": "0933 444 555", "claimed_carrier": "carrier-20"}, id="revoked"),
            pytest.param(
                {"number": "0912 345 678", "claimed_carrier": "carrier-20", "tracking_code": "V"},
                id="not-this-carrier",
            ),
            pytest.param({"number": "0901 222 333"}, id="reported"),
            pytest.param(
                {"number": "1" * 64, "tracking_code": "T" * 64, "recipient_phone": "+"},
                id="invalid",
            ),
        ],
    )
    def test_the_page_with_twenty_carriers_stays_within_8_kb(
        self, client, twenty_carriers, language, fields
    ):
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        response = client.post("/", fields) if fields else client.get("/")
        assert len(Page(html(response)).all("option")) == 21
        assert len(response.content) <= self.LIMIT


class TestTheFrame:
    """The frame every public page shares (base.html) is rendered once per language."""

    def test_each_page_keeps_its_own_title_in_the_shared_frame(self, english, carrier_a):
        titles = {
            path: re.search(r"<title>(.*?)</title>", html(english.get(path))).group(1)
            for path in ("/", "/carriers/", "/report/", "/warnings/", "/")
        }
        assert titles == {
            "/": "Is this really your shipper?",
            "/carriers/": "Official hotlines of carriers",
            "/report/": "Report a fake shipper",
            "/warnings/": "Scams to watch out for",
        }

    def test_the_frame_follows_each_requests_language(self, client, carrier_a):
        for language, other, brand in [
            ("vi", "en", "Kiểm tra shipper"),
            ("en", "vi", "Shipper check"),
            ("vi", "en", "Kiểm tra shipper"),
        ]:
            client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
            for path in ("/", "/carriers/"):
                response = client.get(path)
                assert f'<html lang="{language}">' in html(response), (language, path)
                [link] = Page(html(response)).all("a", hreflang=other)
                assert link["href"] == f"?lang={other}"
                [home] = Page(html(response)).all("a", **{"class": "brand"})
                assert home["href"] == "/"
                assert brand in text(response)
