import datetime
import time

import pytest
from django.test import override_settings
from joserfc import jwt
from joserfc.jwk import KeySet
from rest_framework.renderers import JSONRenderer

from registry import services as registry_services
from tests.api_client import assert_error, call, make_key
from tests.openapi import assert_matches
from verification import receipts

VERDICT_FIELDS = {
    "number",
    "status",
    "carriers",
    "staff",
    "report_count",
    "checked_at",
    "claimed_carrier",
}


@pytest.fixture
def schema(client, db):
    return client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


@pytest.fixture
def parcel(staff_a):
    registry_services.assignment_upsert(
        carrier=staff_a.carrier,
        tracking_code="VN123",
        staff=staff_a,
        recipient_phone="0901000999",
        status="out_for_delivery",
    )
    return "VN123"


class TestNumbers:
    @pytest.mark.parametrize("raw", ["0912345678", "+84912345678", "84912345678", "0084912345678"])
    def test_it_answers_the_verdict_for_any_format(self, client, partner_key, staff_a, schema, raw):
        response = call(client, "GET", f"/api/v1/numbers/{raw}/", partner_key)
        assert response.status_code == 200
        body = response.json()
        assert set(body) == VERDICT_FIELDS
        assert (body["number"], body["status"]) == ("+84912345678", "verified")
        assert_matches(schema, "/api/v1/numbers/{number}/", "get", 200, body)

    def test_every_field_is_present_for_an_unknown_number(self, client, partner_key, schema):
        body = call(client, "GET", "/api/v1/numbers/0901111222/", partner_key).json()
        assert body["status"] == "unknown"
        assert set(body) == VERDICT_FIELDS
        assert (body["carriers"], body["staff"], body["report_count"]) == ([], [], 0)

    def test_a_carrier_key_may_look_up_too(self, client, carrier_a, staff_a):
        body = call(client, "GET", "/api/v1/numbers/0912345678/", make_key(carrier_a)).json()
        assert body["status"] == "verified"

    def test_claimed_carrier_is_compared(self, client, partner_key, staff_a, carrier_b):
        body = call(
            client, "GET", "/api/v1/numbers/0912345678/?claimed_carrier=beta-express", partner_key
        ).json()
        assert body["claimed_carrier"]["matches"] is False
        assert body["claimed_carrier"]["hotlines"][0]["number"] == "+8419002222"

    def test_an_unknown_claimed_carrier_is_400(self, client, partner_key, staff_a):
        response = call(
            client, "GET", "/api/v1/numbers/0912345678/?claimed_carrier=nope", partner_key
        )
        assert_error(response, 400, "unknown_carrier")

    @pytest.mark.parametrize("raw", ["abc", "12", "0" * 70, "%00%00", "+999123"])
    def test_an_invalid_number_is_400_invalid_number(self, client, partner_key, schema, raw):
        response = call(client, "GET", f"/api/v1/numbers/{raw}/", partner_key)
        assert_error(response, 400, "invalid_number")
        assert_matches(schema, "/api/v1/numbers/{number}/", "get", 400, response.json())

    def test_a_key_is_required(self, client, db):
        assert_error(call(client, "GET", "/api/v1/numbers/0912345678/"), 401, "missing_api_key")

    def test_a_revoked_key_is_refused(self, client, carrier_a):
        raw = make_key(None, revoked=True)
        assert_error(
            call(client, "GET", "/api/v1/numbers/0912345678/", raw), 401, "invalid_api_key"
        )

    def test_the_per_key_limit_stops_walking_the_number_space(self, client, db):
        raw = make_key(None, rate_limit="5/min")
        statuses = [
            call(client, "GET", f"/api/v1/numbers/09011112{i:02d}/", raw).status_code
            for i in range(8)
        ]
        assert statuses == [200] * 5 + [429] * 3

    @pytest.mark.django_db(transaction=True)  # the cache is dropped on commit
    def test_a_revocation_shows_on_the_very_next_api_lookup(
        self, client, partner_key, carrier_a, staff_a
    ):
        key_a = make_key(carrier_a)
        assert (
            call(client, "GET", "/api/v1/numbers/0912345678/", partner_key).json()["status"]
            == "verified"
        )
        assert call(client, "DELETE", "/api/v1/carrier/staff/A001/", key_a).status_code == 204
        assert (
            call(client, "GET", "/api/v1/numbers/0912345678/", partner_key).json()["status"]
            == "revoked"
        )

    @pytest.mark.django_db(transaction=True)  # the cache is dropped on commit
    def test_a_phone_dropped_from_a_staff_put_shows_on_the_next_lookup(
        self, client, partner_key, carrier_a, staff_a
    ):
        key_a = make_key(carrier_a)
        call(client, "GET", "/api/v1/numbers/0912345678/", partner_key)
        call(
            client,
            "PUT",
            "/api/v1/carrier/staff/A001/",
            key_a,
            {"full_name": "Nguyễn Văn An", "phones": ["0988 111 222"], "status": "active"},
        )
        assert (
            call(client, "GET", "/api/v1/numbers/0912345678/", partner_key).json()["status"]
            == "revoked"
        )


class TestVerifications:
    def test_it_answers_assignment_calling_now_and_a_receipt(
        self, client, partner_key, parcel, schema
    ):
        key_a = make_key(registry_services.carrier_save(slug="alpha-post", name="Alpha Post")[0])
        call(
            client,
            "POST",
            "/api/v1/carrier/call-intents/",
            key_a,
            {"employee_code": "A001", "phone": "0912345678", "recipient_phone": "0901000999"},
        )
        response = call(
            client,
            "POST",
            "/api/v1/verifications/",
            partner_key,
            {
                "number": "0912 345 678",
                "tracking_code": "VN123",
                "recipient_phone": "0901 000 999",
                "claimed_carrier": "alpha-post",
            },
        )
        assert response.status_code == 200
        body = response.json()
        assert_matches(schema, "/api/v1/verifications/", "post", 200, body)
        assert body["assignment"] == {
            "tracking_code": "VN123",
            "matches": True,
            "carrier": "alpha-post",
        }
        assert body["calling_now"] is True
        claims = receipts.verify(body["receipt"])
        assert claims["level"] == "A"
        assert {
            k: claims[k]
            for k in [
                "number",
                "status",
                "carrier",
                "employee_code",
                "assignment_matches",
                "calling_now",
            ]
        } == {
            "number": "+84912345678",
            "status": "verified",
            "carrier": "alpha-post",
            "employee_code": "A001",
            "assignment_matches": True,
            "calling_now": True,
        }
        assert claims["exp"] - claims["iat"] == 600
        assert "0901000999" not in str(claims) and "901000999" not in body["receipt"]

    @pytest.mark.parametrize(
        ("body", "level"),
        [
            ({"number": "0912345678", "tracking_code": "VN123"}, "B"),
            ({"number": "0912345678"}, "C"),
            ({"number": "0912345678", "tracking_code": "OTHER"}, "C"),
            ({"number": "0901111222", "tracking_code": "VN123"}, "none"),
        ],
    )
    def test_the_receipt_level_follows_the_answer(self, client, partner_key, parcel, body, level):
        answer = call(client, "POST", "/api/v1/verifications/", partner_key, body).json()
        assert receipts.verify(answer["receipt"])["level"] == level

    def test_without_options_assignment_and_calling_now_are_null(
        self, client, partner_key, staff_a
    ):
        body = call(
            client, "POST", "/api/v1/verifications/", partner_key, {"number": "0912345678"}
        ).json()
        assert body["assignment"] is None and body["calling_now"] is None
        assert set(body) == VERDICT_FIELDS | {"assignment", "calling_now", "receipt"}

    def test_an_unknown_tracking_code_gives_matches_false(self, client, partner_key, staff_a):
        body = call(
            client,
            "POST",
            "/api/v1/verifications/",
            partner_key,
            {"number": "0912345678", "tracking_code": "NOPE"},
        ).json()
        assert body["assignment"] == {"tracking_code": "NOPE", "matches": False, "carrier": None}

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ({"number": "abc"}, "invalid_number"),
            ({"number": "0912345678", "recipient_phone": "12"}, "invalid_number"),
            ({}, "invalid"),
            ({"number": ["0912345678"]}, "invalid"),
            ({"number": "0912345678", "tracking_code": "x" * 65}, "invalid"),
        ],
    )
    def test_bad_input_is_a_clean_400(self, client, partner_key, staff_a, body, code):
        assert_error(call(client, "POST", "/api/v1/verifications/", partner_key, body), 400, code)

    def test_a_forged_receipt_does_not_verify(self, client, partner_key, staff_a):
        body = call(
            client, "POST", "/api/v1/verifications/", partner_key, {"number": "0912345678"}
        ).json()
        header, payload, signature = body["receipt"].split(".")
        import base64
        import json

        claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
        claims["status"] = "verified"
        claims["number"] = "+84901111222"
        forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        with pytest.raises(Exception):  # noqa: B017  any joserfc error is a refusal
            receipts.verify(f"{header}.{forged_payload}.{signature}")


class TestJwks:
    def test_a_partner_verifies_a_receipt_offline_with_the_jwks(self, client, partner_key, staff_a):
        receipt = call(
            client, "POST", "/api/v1/verifications/", partner_key, {"number": "0912345678"}
        ).json()["receipt"]
        jwks = client.get("/.well-known/jwks.json").json()
        assert all("d" not in key for key in jwks["keys"])  # public halves only
        token = jwt.decode(receipt, KeySet.import_key_set(jwks), algorithms=["ES256"])
        assert token.header["kid"] in {key["kid"] for key in jwks["keys"]}
        assert token.claims["status"] == "verified"

    def test_after_a_rotation_the_jwks_lists_current_and_previous_key(self, client, tmp_path):
        from joserfc.jwk import ECKey

        old, new = ECKey.generate_key("P-256"), ECKey.generate_key("P-256")
        old_receipt = jwt.encode(
            {"alg": "ES256", "kid": old.thumbprint()},
            {"status": "verified", "iat": int(time.time()), "exp": int(time.time()) + 60},
            old,
        )
        with override_settings(
            RECEIPT_SIGNING_KEY=new.as_pem(private=True).decode(),
            RECEIPT_PREVIOUS_KEY=old.as_pem(private=True).decode(),
        ):
            receipts.signing_key.cache_clear()
            receipts.public_keys.cache_clear()
            try:
                jwks = client.get("/.well-known/jwks.json").json()
                assert [key["kid"] for key in jwks["keys"]] == [new.thumbprint(), old.thumbprint()]
                assert receipts.verify(old_receipt)["status"] == "verified"
                assert jwt.decode(receipts.sign({"x": 1}), new).header["kid"] == new.thumbprint()
            finally:
                receipts.signing_key.cache_clear()
                receipts.public_keys.cache_clear()

    def test_an_expired_receipt_is_refused(self, settings):
        from joserfc.errors import ExpiredTokenError

        key = receipts.signing_key()
        stale = jwt.encode(
            {"alg": "ES256", "kid": key.thumbprint()},
            {"iat": int(time.time()) - 700, "exp": int(time.time()) - 100},
            key,
        )
        with pytest.raises(ExpiredTokenError):
            receipts.verify(stale)


class TestCarriers:
    def test_it_lists_carriers_with_channels_without_a_key(
        self, client, carrier_a, carrier_b, schema
    ):
        response = client.get("/api/v1/carriers/")
        assert response.status_code == 200
        body = response.json()
        assert [c["slug"] for c in body] == ["alpha-post", "beta-express"]
        assert body[0]["channels"] == [
            {"kind": "hotline", "value": "+8419001111", "label": "", "display": "1900 1111"}
        ]
        assert_matches(schema, "/api/v1/carriers/", "get", 200, body)

    def test_inactive_carriers_are_not_listed(
        self, client, carrier_a, carrier_b, django_capture_on_commit_callbacks
    ):
        client.get("/api/v1/carriers/")
        with django_capture_on_commit_callbacks(execute=True):
            registry_services.carrier_save(
                slug="beta-express", name="Beta Express", is_active=False
            )
        assert [c["slug"] for c in client.get("/api/v1/carriers/").json()] == ["alpha-post"]


@override_settings(API_RATE_LIMIT="3/min")
def test_anonymous_clients_of_the_open_endpoints_are_limited_per_ip(client, db):
    statuses = [client.get("/api/v1/carriers/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    other_ip = client.get("/api/v1/carriers/", REMOTE_ADDR="10.9.9.9")
    assert other_ip.status_code == 200


def test_workers_starting_together_all_sign_with_the_same_generated_key(tmp_path, settings):
    from concurrent.futures import ThreadPoolExecutor

    settings.RECEIPT_KEY_FILE = str(tmp_path / "var" / "receipt-key.pem")
    with ThreadPoolExecutor(max_workers=8) as pool:
        kids = set(pool.map(lambda _: receipts._generated_key().thumbprint(), range(16)))
    assert len(kids) == 1
    assert sorted(p.name for p in (tmp_path / "var").iterdir()) == ["receipt-key.pem"]


class TestAnswerEncoding:
    """The lookups write their answers with orjson: byte for byte what DRF's renderer wrote."""

    @pytest.mark.parametrize(
        ("method", "path", "body"),
        [
            ("GET", "/api/v1/numbers/0912345678/?claimed_carrier=alpha-post", None),
            (
                "POST",
                "/api/v1/verifications/",
                {
                    "number": "0912345678",
                    "tracking_code": "VN123",
                    "claimed_carrier": "beta-express",
                },
            ),
        ],
    )
    def test_the_bytes_are_drf_s(self, client, partner_key, parcel, carrier_b, method, path, body):
        response = call(client, method, path, partner_key, body)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        answer = response.json()
        assert answer["staff"][0]["display_name"] == "N. V. An"
        answer["checked_at"] = datetime.datetime.fromisoformat(answer["checked_at"])
        assert response.content == JSONRenderer().render(answer)
