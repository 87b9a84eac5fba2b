"""Hardening, round two (issue 14): each row that broke something when tried against the
production set-up, as a test of the fixed answer through the real HTTP interface."""

import os
import secrets
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from core import resilient_cache
from core.ratelimit import Window
from core.rates import parse_rate
from registry.models import DeliveryAssignment
from tests.api_client import assert_error, call, make_key
from tests.test_settings import manage, receipt_key_pem

ASSIGNMENTS = "/api/v1/carrier/assignments/"


@pytest.fixture
def key_a(carrier_a, staff_a):
    return make_key(carrier_a, "alpha-dispatch")


class TestUnknownApiPaths:
    @pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
    def test_a_write_to_an_unknown_api_path_is_the_json_404_not_a_csrf_page(self, db, method):
        client = Client(enforce_csrf_checks=True)
        response = getattr(client, method.lower())(
            "/api/v1/nothing-here/", data="{}", content_type="application/json"
        )
        assert_error(response, 404, "not_found")


def _item(code, start, end=None):
    item = {"tracking_code": code, "employee_code": "A001", "window_start": start}
    if end is not None:
        item["window_end"] = end
    return item


class TestAssignmentWindows:
    @pytest.mark.parametrize(
        "start",
        [
            "9999-12-31T23:59:59-23:59",
            "0001-01-01T00:00:00+23:59",
            "9999-12-31T23:59:59+00:00",
            "1970-01-01T00:00:00+00:00",
        ],
    )
    def test_a_window_far_from_now_is_invalid_window_and_not_saved(self, client, key_a, start):
        response = call(client, "POST", ASSIGNMENTS, key_a, {"assignments": [_item("T1", start)]})
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["created"] == 0
        assert [(e["index"], e["code"]) for e in body["errors"]] == [(0, "invalid_window")]
        assert not DeliveryAssignment.objects.filter(tracking_code="T1").exists()

    def test_a_window_of_this_week_is_taken(self, client, key_a):
        start = timezone.now() + timedelta(days=2)
        item = _item("T2", start.isoformat(), (start + timedelta(hours=3)).isoformat())
        body = call(client, "POST", ASSIGNMENTS, key_a, {"assignments": [item]}).json()
        assert (body["created"], body["errors"]) == (1, [])

    def test_the_admin_list_answers_after_an_out_of_range_window_was_refused(
        self, client, key_a, root
    ):
        call(
            client,
            "POST",
            ASSIGNMENTS,
            key_a,
            {"assignments": [_item("T3", "9999-12-31T23:59:59-23:59")]},
        )
        client.force_login(root)
        assert client.get("/admin/registry/deliveryassignment/").status_code == 200

    def test_the_admin_form_refuses_a_window_far_from_now(self, client, carrier_a, staff_a, root):
        client.force_login(root)
        response = client.post(
            "/admin/registry/deliveryassignment/add/",
            {
                "carrier": carrier_a.pk,
                "tracking_code": "T4",
                "staff": staff_a.pk,
                "window_start_0": "2099-12-31",
                "window_start_1": "23:59:59",
                "window_end_0": "",
                "window_end_1": "",
                "status": "pending",
                "recipient_phone": "",
            },
        )
        assert response.status_code == 200  # the form again, with the error
        form = response.context["adminform"].form
        assert [error.code for error in form.errors.as_data()["__all__"]] == ["invalid_window"]
        assert not DeliveryAssignment.objects.filter(tracking_code="T4").exists()


ADMIN_LISTS = [
    "/admin/registry/carrier/",
    "/admin/registry/officialchannel/",
    "/admin/registry/staffmember/",
    "/admin/registry/staffphone/",
    "/admin/registry/deliveryassignment/",
    "/admin/registry/clientapikey/",
    "/admin/verification/scamreport/",
    "/admin/verification/impersonationalert/",
    "/admin/verification/webhookdelivery/",
]


class TestAdminQueryParameters:
    @pytest.mark.parametrize("path", ADMIN_LISTS)
    @pytest.mark.parametrize(
        "query",
        ["q=a%00b", "status__exact=%00", "o=1%00", "p=%00", "a%00b=1", "_changelist_filters=%00"],
    )
    def test_a_nul_anywhere_in_the_query_is_400(self, client, root, path, query):
        client.force_login(root)
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400

    @pytest.mark.parametrize("path", ADMIN_LISTS)
    @pytest.mark.parametrize(
        "query",
        [
            "o=99999",
            "o=-x.y",
            "p=-1",
            "p=99999999999999999999",
            "carrier__id__exact=abc",
            "carrier__id__exact=99999999999999999999999",
            "day__gte=9999-99-99",
            "reviewed_at__isnull=maybe",
            "q=" + "x" * 5000,
            "q=%ED%A0%80",
            "q=\ud800".encode("utf-8", "surrogatepass").decode("latin-1"),
        ],
    )
    def test_junk_in_the_query_is_never_a_500(self, client, root, path, query):
        client.force_login(root)
        response = client.get(f"{path}?{query}")
        assert response.status_code in {200, 302, 400, 404}, (query, response.status_code)


class TestReceiptKeyAtStartUp:
    """A server that cannot sign must not start: it used to say it was ready and then answer
    every verification with a 500."""

    def test_a_key_path_that_does_not_exist_stops_the_process(self, tmp_path):
        result = manage("check", RECEIPT_SIGNING_KEY=str(tmp_path / "missing.pem"))
        assert result.returncode != 0 and "RECEIPT_SIGNING_KEY" in result.stderr

    def test_an_unreadable_key_file_stops_the_process(self, tmp_path):
        path = tmp_path / "key.pem"
        path.write_text(receipt_key_pem())
        path.chmod(0)
        result = manage("check", RECEIPT_SIGNING_KEY=str(path))
        if os.geteuid() == 0:  # root reads any file: a directory is unreadable as a key
            result = manage("check", RECEIPT_SIGNING_KEY=str(tmp_path))
        assert result.returncode != 0 and "RECEIPT_SIGNING_KEY" in result.stderr

    def test_a_file_that_is_no_key_stops_the_process(self, tmp_path):
        path = tmp_path / "key.pem"
        path.write_text("not a key")
        result = manage("check", RECEIPT_SIGNING_KEY=str(path))
        assert result.returncode != 0 and "RECEIPT_SIGNING_KEY" in result.stderr

    def test_a_public_key_cannot_sign(self, tmp_path):
        from joserfc.jwk import ECKey

        public = ECKey.import_key(receipt_key_pem()).as_pem(private=False).decode()
        result = manage("check", RECEIPT_SIGNING_KEY=public)
        assert result.returncode != 0 and "private" in result.stderr

    def test_production_needs_the_key_set(self):
        result = manage("check", DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="h")
        assert result.returncode != 0 and "RECEIPT_SIGNING_KEY" in result.stderr

    def test_a_readable_key_file_starts(self, tmp_path):
        path = tmp_path / "key.pem"
        path.write_text(receipt_key_pem())
        result = manage("check", RECEIPT_SIGNING_KEY=str(path))
        assert result.returncode == 0, result.stderr


class TestForwardedHeaders:
    def test_forwarded_proto_is_not_believed_without_a_trusted_proxy(self, client, db, settings):
        settings.SECURE_HSTS_SECONDS = 3600
        response = client.get("/healthz", HTTP_X_FORWARDED_PROTO="https")
        assert response.wsgi_request.is_secure() is False
        assert "Strict-Transport-Security" not in response.headers

    @pytest.mark.parametrize(("count", "header"), [("0", "None"), ("1", "HTTP_X_FORWARDED_PROTO")])
    def test_the_proto_header_is_read_only_behind_trusted_proxies(self, count, header):
        code = (
            "from django.conf import settings as s; print((s.SECURE_PROXY_SSL_HEADER or [None])[0])"
        )
        result = manage("shell", "-v", "0", "-c", code, TRUSTED_PROXY_COUNT=count)
        assert result.stdout.strip() == header, result.stderr


class TestWrongKeys:
    """620 requests with a partner's prefix and a wrong secret used to push the partner's
    real key over its limit: the failures were counted against the key they named."""

    LOOKUP = "/api/v1/numbers/0912345678/"

    def test_wrong_secrets_are_charged_to_the_address_never_to_the_key_they_name(
        self, client, carrier_a, settings
    ):
        settings.API_RATE_LIMIT = "20/min"
        real = make_key(carrier_a, "partner")
        prefix = real.partition(".")[0]
        statuses = [
            call(client, "GET", self.LOOKUP, f"{prefix}.wrong{i}").status_code for i in range(30)
        ]
        assert statuses == [401] * 20 + [429] * 10
        # The partner, calling from elsewhere, still has its whole limit.
        elsewhere = {"REMOTE_ADDR": "203.0.113.9"}
        assert [
            call(client, "GET", self.LOOKUP, real, **elsewhere).status_code for _ in range(20)
        ] == [200] * 20

    def test_a_refused_address_gets_the_rate_limited_error_with_retry_after(
        self, client, carrier_a, settings
    ):
        settings.API_RATE_LIMIT = "2/min"
        responses = [call(client, "GET", self.LOOKUP, "abcdefgh.nothing") for _ in range(3)]
        assert_error(responses[0], 401, "invalid_api_key")
        refused = assert_error(responses[2], 429, "rate_limited")
        assert refused["details"]["retry_after"] == int(responses[2]["Retry-After"]) > 0

    @pytest.mark.parametrize("header", ["Api-Key no-dot-in-it", "Bearer something"])
    def test_a_header_not_shaped_like_a_key_counts_once_against_the_address(
        self, client, db, settings, header
    ):
        settings.API_RATE_LIMIT = "4/min"
        statuses = [
            client.get(self.LOOKUP, HTTP_AUTHORIZATION=header).status_code for _ in range(6)
        ]
        assert statuses == [401] * 4 + [429] * 2

    def test_unknown_prefixes_leave_no_counter_behind(self, client, db, settings):
        rate = parse_rate(settings.API_RATE_LIMIT)
        prefixes = [f"zz{i:06d}" for i in range(20)]
        for prefix in prefixes:
            assert call(client, "GET", self.LOOKUP, f"{prefix}.secret").status_code == 401
        assert all(resilient_cache.get(Window.now(f"key:{p}", rate).key) is None for p in prefixes)
        assert call(client, "GET", self.LOOKUP, "not-a-prefix-at-all!.x").status_code == 401
        assert resilient_cache.get(Window.now("key:not-a-prefix-at-all!", rate).key) is None
