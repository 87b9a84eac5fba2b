"""Bad input and abuse, tried for real through the HTTP interface: oversized, deep, huge or
broken bodies, NUL bytes, enumeration, forged client addresses, ballot stuffing and forged
form posts. Each answer must be a clean 4xx (on /api/, in the error shape), never a 500.
"""

import json
from types import SimpleNamespace

import pytest
from django.test import Client

from core import ratelimit
from registry.models import DeliveryAssignment, StaffMember
from tests.api_client import assert_error, call, make_key

LIMIT = 1_048_576
VERIFY, REPORTS, CARRIERS = "/api/v1/verifications/", "/api/v1/reports/", "/api/v1/carriers/"
STAFF, ASSIGNMENTS = "/api/v1/carrier/staff/{}/", "/api/v1/carrier/assignments/"
CALL_INTENTS = "/api/v1/carrier/call-intents/"

# (method, path, a valid body): every endpoint that reads a JSON body.
BODY_ENDPOINTS = [
    ("POST", VERIFY, {"number": "0912345678"}),
    ("POST", REPORTS, {"number": "0901111222"}),
    ("PUT", STAFF.format("A100"), {"full_name": "Lê C", "phones": [], "status": "active"}),
    ("POST", ASSIGNMENTS, {"assignments": [{"tracking_code": "T1", "employee_code": "A001"}]}),
    (
        "POST",
        CALL_INTENTS,
        {"employee_code": "A001", "phone": "0912345678", "recipient_phone": "0901234567"},
    ),
]
BODY_IDS = ["verifications", "reports", "staff", "assignments", "call-intents"]


@pytest.fixture
def key_a(carrier_a, staff_a):
    return make_key(carrier_a, "alpha-dispatch")


def send_raw(client, method, path, key, body: bytes, **extra):
    """A body exactly as given, bytes and headers alike (the test client would re-encode)."""
    return client.generic(
        method,
        path,
        body,
        content_type=extra.pop("content_type", "application/json"),
        HTTP_AUTHORIZATION=f"Api-Key {key}",
        **extra,
    )


@pytest.fixture
def one_rate_window(monkeypatch):
    """The rate limiter's clock stands still: every request of the test falls in the same
    fixed window, so a window starting mid-test cannot let a few more through."""
    frozen = ratelimit.time.time()
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: frozen))


class TestOversizedBodies:
    def test_a_body_over_one_megabyte_is_413_before_it_is_read(self, client, key_a):
        body = json.dumps({"number": "0912345678", "padding": "x" * LIMIT}).encode()
        error = assert_error(send_raw(client, "POST", VERIFY, key_a, body), 413, "body_too_large")
        assert error["details"]["limit"] == LIMIT

    def test_a_body_of_exactly_one_megabyte_is_read(self, client, key_a):
        head = b'{"number": "0912345678", "padding": "'
        body = head + b"x" * (LIMIT - len(head) - 2) + b'"}'
        assert len(body) == LIMIT
        assert send_raw(client, "POST", VERIFY, key_a, body).status_code == 200

    def test_a_content_length_over_the_limit_is_413_whatever_is_really_sent(self, client, key_a):
        response = send_raw(
            client, "POST", VERIFY, key_a, b'{"number": "0912345678"}', CONTENT_LENGTH="2000000"
        )
        assert_error(response, 413, "body_too_large")

    def test_a_content_length_under_the_body_reads_no_further_than_it_says(self, client, key_a):
        body = json.dumps({"number": "0912345678", "padding": "x" * 2 * LIMIT}).encode()
        response = send_raw(client, "POST", VERIFY, key_a, body, CONTENT_LENGTH="40")
        assert_error(response, 400, "malformed_body")

    def test_an_oversized_web_form_is_413_too(self, client, carrier_a):
        response = client.post(
            "/",
            data="number=" + "9" * LIMIT,
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 413
        assert response["Content-Type"].startswith("text/plain")

    def test_a_web_form_under_its_content_length_is_cut_where_it_says(self, client, carrier_a):
        response = client.post(
            "/",
            data="number=0912345678&x=" + "9" * 2 * LIMIT,
            content_type="application/x-www-form-urlencoded",
            CONTENT_LENGTH="12",  # number=09123: not a whole phone number
        )
        assert response.status_code == 400


class TestDeepJson:
    @pytest.mark.parametrize(("method", "path", "body"), BODY_ENDPOINTS, ids=BODY_IDS)
    def test_a_hundred_thousand_open_brackets_are_a_clean_400(
        self, client, key_a, method, path, body
    ):
        response = send_raw(client, method, path, key_a, b"[" * 100_000)
        assert_error(response, 400, "malformed_body")

    def test_deeply_nested_objects_are_a_clean_400(self, client, key_a):
        response = send_raw(client, "POST", VERIFY, key_a, b'{"a":' * 100_000)
        assert_error(response, 400, "malformed_body")

    @pytest.mark.parametrize(("method", "path", "body"), BODY_ENDPOINTS, ids=BODY_IDS)
    def test_nesting_the_parser_accepts_is_refused_as_the_wrong_shape(
        self, client, key_a, method, path, body
    ):
        deep = json.loads("[" * 500 + "]" * 500)
        if path == ASSIGNMENTS:
            nested = {"assignments": [deep]}
        else:
            nested = {field: deep for field in body}
        response = call(client, method, path, key_a, nested)
        assert response.status_code == 400, response.content
        assert set(response.json()) == {"error"}


class TestHugeArrays:
    def test_ten_thousand_assignments_are_400_too_many_items_and_nothing_is_saved(
        self, client, key_a
    ):
        items = [{"tracking_code": f"T{i}", "employee_code": "A001"} for i in range(10_000)]
        response = call(client, "POST", ASSIGNMENTS, key_a, {"assignments": items})
        assert_error(response, 400, "too_many_items")
        assert not DeliveryAssignment.objects.exists()

    def test_a_thousand_assignments_are_still_taken(self, client, key_a):
        items = [{"tracking_code": f"T{i}", "employee_code": "A001"} for i in range(1_000)]
        response = call(client, "POST", ASSIGNMENTS, key_a, {"assignments": items})
        assert response.json()["created"] == 1_000

    def test_ten_thousand_staff_phones_are_400_and_nothing_is_saved(self, client, key_a):
        phones = [f"09{i:08d}" for i in range(10_000)]
        body = {"full_name": "Lê C", "phones": phones, "status": "active"}
        response = call(client, "PUT", STAFF.format("A100"), key_a, body)
        error = assert_error(response, 400, "invalid")
        assert error["details"]["field"] == "phones"
        assert not StaffMember.objects.filter(employee_code="A100").exists()


class TestHugeNumbers:
    HUGE = "9" * 10_000

    def test_a_number_of_ten_thousand_digits_in_the_path_is_400_invalid_number(self, client, key_a):
        response = call(client, "GET", f"/api/v1/numbers/{self.HUGE}/", key_a)
        assert_error(response, 400, "invalid_number")

    @pytest.mark.parametrize(
        ("method", "path", "body"),
        [
            ("POST", VERIFY, {"number": HUGE}),
            ("POST", VERIFY, {"number": "0912345678", "recipient_phone": HUGE}),
            ("POST", REPORTS, {"number": HUGE}),
            ("PUT", STAFF.format("A100"), {"full_name": "C", "phones": [HUGE], "status": "active"}),
            (
                "POST",
                CALL_INTENTS,
                {"employee_code": "A001", "phone": HUGE, "recipient_phone": HUGE},
            ),
        ],
        ids=["verification", "recipient-phone", "report", "staff-phone", "call-intent"],
    )
    def test_a_number_of_ten_thousand_digits_in_a_body_is_400_invalid_number(
        self, client, key_a, method, path, body
    ):
        assert_error(call(client, method, path, key_a, body), 400, "invalid_number")

    def test_a_json_number_where_a_phone_belongs_is_a_400_not_a_lookup(self, client, key_a):
        response = call(client, "POST", VERIFY, key_a, {"number": 912345678})
        assert_error(response, 400, "invalid")

    def test_a_json_integer_of_ten_thousand_digits_is_a_clean_400(self, client, key_a):
        body = b'{"number": ' + b"9" * 10_000 + b"}"
        assert_error(send_raw(client, "POST", VERIFY, key_a, body), 400, "malformed_body")

    def test_an_assignment_with_a_huge_recipient_phone_is_reported_by_index(self, client, key_a):
        items = [{"tracking_code": "T1", "employee_code": "A001", "recipient_phone": self.HUGE}]
        response = call(client, "POST", ASSIGNMENTS, key_a, {"assignments": items})
        assert response.status_code == 200
        assert [error["code"] for error in response.json()["errors"]] == ["invalid_number"]


class TestNulBytes:
    @pytest.mark.parametrize("path", ["/api/v1/numbers/%00/", "/api/v1/numbers/0912%00345678/"])
    def test_a_nul_in_the_number_path_is_400_invalid_number(self, client, key_a, path):
        assert_error(call(client, "GET", path, key_a), 400, "invalid_number")

    @pytest.mark.parametrize(
        ("method", "path", "body", "field"),
        [
            (method, path, body, field)
            for method, path, body in BODY_ENDPOINTS
            for field, value in body.items()
            if isinstance(value, str)
        ],
    )
    def test_a_nul_in_a_string_of_a_body_is_a_clean_400(
        self, client, key_a, method, path, body, field
    ):
        spoiled = {**body, field: body[field][:2] + "\x00" + body[field][2:]}
        response = call(client, method, path, key_a, spoiled)
        assert response.status_code == 400, response.content
        assert set(response.json()) == {"error"}

    def test_a_nul_in_an_assignment_is_reported_by_index_and_nothing_is_saved(self, client, key_a):
        items = [
            {"tracking_code": "T\x001", "employee_code": "A001"},
            {"tracking_code": "T2", "employee_code": "A\x00001"},
        ]
        response = call(client, "POST", ASSIGNMENTS, key_a, {"assignments": items})
        assert response.status_code == 200
        codes = [error["code"] for error in response.json()["errors"]]
        assert codes == ["invalid_tracking_code", "unknown_employee"]
        assert not DeliveryAssignment.objects.exists()

    def test_a_nul_in_an_employee_code_path_is_400_to_put_and_404_to_delete(self, client, key_a):
        body = {"full_name": "Lê C", "phones": [], "status": "active"}
        error = assert_error(
            call(client, "PUT", STAFF.format("A%00B"), key_a, body), 400, "invalid"
        )
        assert error["details"]["field"] == "employee_code"
        assert_error(call(client, "DELETE", STAFF.format("A%00B"), key_a), 404, "not_found")

    def test_a_nul_in_the_claimed_carrier_query_is_a_clean_400(self, client, key_a):
        response = call(client, "GET", "/api/v1/numbers/0912345678/?claimed_carrier=%00", key_a)
        assert_error(response, 400, "unknown_carrier")


class TestBrokenText:
    @pytest.mark.parametrize(("method", "path", "body"), BODY_ENDPOINTS, ids=BODY_IDS)
    def test_a_body_that_is_not_utf8_is_400_malformed_body(self, client, key_a, method, path, body):
        broken = json.dumps(body).encode().replace(b"0", b"\xff\xfe", 1)
        assert_error(send_raw(client, method, path, key_a, broken), 400, "malformed_body")

    @pytest.mark.parametrize(("method", "path", "body"), BODY_ENDPOINTS, ids=BODY_IDS)
    def test_a_lone_surrogate_in_a_string_is_400_malformed_body(
        self, client, key_a, method, path, body
    ):
        broken = json.dumps(body).replace("0", "\\ud800", 1).encode()
        assert_error(send_raw(client, method, path, key_a, broken), 400, "malformed_body")

    def test_a_charset_that_is_no_text_encoding_is_400_malformed_body(self, client, key_a):
        response = send_raw(
            client,
            "POST",
            VERIFY,
            key_a,
            b'{"number": "0912345678"}',
            content_type="application/json; charset=zlib",
        )
        assert_error(response, 400, "malformed_body")

    def test_broken_percent_encoding_in_the_number_path_is_400_invalid_number(self, client, key_a):
        assert_error(call(client, "GET", "/api/v1/numbers/%FF%FE/", key_a), 400, "invalid_number")

    def test_a_web_form_that_is_not_utf8_is_a_clean_400(self, client, carrier_a):
        response = client.post(
            "/", data=b"number=09\xff\xfe", content_type="application/x-www-form-urlencoded"
        )
        assert response.status_code == 400


class TestEnumeration:
    def test_walking_a_thousand_numbers_is_stopped_by_the_per_key_limit(
        self, client, db, settings, one_rate_window
    ):
        settings.API_RATE_LIMIT = "600/min"
        walker, bystander = make_key(None, "walker"), make_key(None, "bystander")
        statuses = [
            call(client, "GET", f"/api/v1/numbers/0912{n:06d}/", walker).status_code
            for n in range(1_000)
        ]
        assert statuses.count(200) == 600
        assert statuses[:600] == [200] * 600 and statuses[600:] == [429] * 400
        refused = call(client, "GET", "/api/v1/numbers/0912999999/", walker)
        assert_error(refused, 429, "rate_limited")
        assert 0 < int(refused["Retry-After"]) <= 60
        assert call(client, "GET", "/api/v1/numbers/0912999999/", bystander).status_code == 200

    def test_a_rotated_forwarded_for_does_not_reset_the_anonymous_limit(
        self, client, db, settings, one_rate_window
    ):
        settings.API_RATE_LIMIT, settings.TRUSTED_PROXY_COUNT = "20/min", 0
        statuses = [
            client.get(CARRIERS, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code
            for i in range(30)
        ]
        assert statuses == [200] * 20 + [429] * 10

    def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(
        self, client, db, settings, one_rate_window
    ):
        settings.API_RATE_LIMIT, settings.TRUSTED_PROXY_COUNT = "20/min", 1
        statuses = [
            client.get(CARRIERS, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code
            for i in range(30)
        ]
        assert statuses == [200] * 30


class TestBallotStuffing:
    SCAMMER = "0901111222"

    def lookup(self, client):
        return call(client, "GET", f"/api/v1/numbers/{self.SCAMMER}/", make_key(None, "app"))

    def test_one_key_reporting_a_number_many_times_counts_once(self, client, db, settings):
        settings.REPORT_RATE_LIMIT = "1000/hour"  # the rule under test, not the rate limit
        key = make_key(None, "stuffer")
        statuses = {
            call(client, "POST", REPORTS, key, {"number": self.SCAMMER}).status_code
            for _ in range(20)
        }
        assert statuses == {201}
        body = self.lookup(client).json()
        assert (body["status"], body["report_count"]) == ("unknown", 1)

    def test_anonymous_reports_with_rotated_forwarded_for_count_once(self, client, db, settings):
        settings.REPORT_RATE_LIMIT, settings.TRUSTED_PROXY_COUNT = "1000/hour", 0
        for i in range(20):
            response = call(
                client,
                "POST",
                REPORTS,
                body={"number": self.SCAMMER},
                HTTP_X_FORWARDED_FOR=f"198.51.100.{i}",
            )
            assert response.status_code == 201
        body = self.lookup(client).json()
        assert (body["status"], body["report_count"]) == ("unknown", 1)

    def test_the_report_limit_stops_one_key_after_five(self, client, db, settings, one_rate_window):
        settings.REPORT_RATE_LIMIT = "5/hour"  # the default
        key = make_key(None, "stuffer")
        statuses = [
            call(client, "POST", REPORTS, key, {"number": self.SCAMMER}).status_code
            for _ in range(10)
        ]
        assert statuses == [201] * 5 + [429] * 5

    def test_three_distinct_reporters_do_make_it_reported(self, client, db):
        for name in ["one", "two", "three"]:
            key = make_key(None, name)
            assert call(client, "POST", REPORTS, key, {"number": self.SCAMMER}).status_code == 201
        body = self.lookup(client).json()
        assert (body["status"], body["report_count"]) == ("reported", 3)


class TestCsrf:
    FORMS = [
        ("/", {"number": "0912345678"}),
        ("/report/", {"number": "0901111222", "channel": "call"}),
        ("/admin/login/", {"username": "root", "password": "root-password"}),
    ]

    @pytest.mark.parametrize(("path", "data"), FORMS, ids=["lookup", "report", "admin-login"])
    def test_a_form_posted_without_the_csrf_token_is_refused(self, root, carrier_a, path, data):
        browser = Client(enforce_csrf_checks=True)
        browser.get(path)  # the cookie alone, as a forged cross-site post would carry it
        response = browser.post(path, data)
        assert response.status_code == 403

    @pytest.mark.parametrize(("path", "data"), FORMS, ids=["lookup", "report", "admin-login"])
    def test_the_same_form_with_its_token_goes_through(self, root, carrier_a, path, data):
        browser = Client(enforce_csrf_checks=True)
        browser.get(path)
        token = browser.cookies["csrftoken"].value
        response = browser.post(path, {**data, "csrfmiddlewaretoken": token})
        assert response.status_code in (200, 302)


class TestPathParameters:
    def test_a_blank_employee_code_is_400_and_creates_nothing(self, client, key_a):
        body = {"full_name": "Lê C", "phones": [], "status": "active"}
        error = assert_error(call(client, "PUT", STAFF.format("%20"), key_a, body), 400, "invalid")
        assert error["details"]["field"] == "employee_code"
        assert StaffMember.objects.count() == 1  # A001 alone

    def test_a_padded_employee_code_names_the_same_staff_member(self, client, key_a):
        body = {"full_name": "Nguyễn Văn An", "phones": [], "status": "active"}
        assert call(client, "PUT", STAFF.format("A001%20"), key_a, body).status_code == 200
        assert call(client, "DELETE", STAFF.format("%20A001"), key_a).status_code == 204
        assert list(StaffMember.objects.values_list("employee_code", "status")) == [
            ("A001", "terminated")
        ]

    @pytest.mark.parametrize(
        ("method", "path", "template"),
        [
            ("GET", "/api/v1/numbers/09%2F12/", "/api/v1/numbers/{number}/"),
            ("PUT", STAFF.format("A%2FB"), "/api/v1/carrier/staff/{employee_code}/"),
            ("DELETE", STAFF.format("A%2FB"), "/api/v1/carrier/staff/{employee_code}/"),
        ],
    )
    def test_a_slash_in_a_path_parameter_is_a_documented_404(
        self, client, key_a, method, path, template
    ):
        body = {"full_name": "Lê C", "phones": [], "status": "active"} if method == "PUT" else None
        assert_error(call(client, method, path, key_a, body), 404, "not_found")
        schema = client.get("/api/schema/?format=json").json()
        assert "404" in schema["paths"][template][method.lower()]["responses"]
