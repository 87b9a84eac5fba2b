import logging
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from registry.models import DeliveryAssignment, StaffMember, StaffPhone
from registry.pii import recipient_digest
from tests.api_client import assert_error, call, make_key
from verification.models import CallIntent

STAFF_URL = "/api/v1/carrier/staff/{}/"
ASSIGNMENTS_URL = "/api/v1/carrier/assignments/"
INTENTS_URL = "/api/v1/carrier/call-intents/"


def put_staff(client, key, code="A001", **body):
    payload = {"full_name": "Nguyễn Văn An", "phones": ["0912 345 678"], "status": "active"}
    payload.update(body)
    return call(client, "PUT", STAFF_URL.format(code), key, payload)


class TestStaffPut:
    def test_it_creates_a_staff_member_with_e164_phones(self, client, key_a, carrier_a):
        response = put_staff(
            client, key_a, "A100", phones=["0912 345 678", "+84 988 111 222"], region="Hà Nội"
        )
        assert response.status_code == 201
        assert response.json() == {
            "employee_code": "A100",
            "full_name": "Nguyễn Văn An",
            "status": "active",
            "region": "Hà Nội",
            "phones": [
                {"number": "+84912345678", "status": "active"},
                {"number": "+84988111222", "status": "active"},
            ],
        }
        assert StaffMember.objects.get(carrier=carrier_a, employee_code="A100")

    def test_it_replaces_and_revokes_phones_left_out(self, client, key_a, staff_a):
        response = put_staff(client, key_a, "A001", phones=["0988 111 222"], status="suspended")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "suspended"
        assert {"number": "+84912345678", "status": "revoked"} in body["phones"]
        assert {"number": "+84988111222", "status": "active"} in body["phones"]

    def test_one_invalid_phone_rejects_everything_and_names_it(self, client, key_a, staff_a):
        response = put_staff(
            client, key_a, "A001", full_name="Changed", phones=["0977 000 333", "09123"]
        )
        error = assert_error(response, 400, "invalid_number")
        assert "09123" in error["message"]
        staff_a.refresh_from_db()
        assert staff_a.full_name == "Nguyễn Văn An"
        assert not StaffPhone.objects.filter(number="+84977000333").exists()

    @pytest.mark.parametrize(
        "body",
        [
            {"full_name": "x", "phones": ["0912345678"]},
            {"full_name": "x", "phones": "0912345678", "status": "active"},
            {"full_name": "x", "phones": ["0912345678"], "status": "retired"},
            {"full_name": "", "phones": [], "status": "active"},
            {"full_name": ["x"], "phones": [], "status": "active"},
            [1, 2, 3],
        ],
    )
    def test_it_refuses_bad_bodies_with_a_field_error(self, client, key_a, body):
        response = call(client, "PUT", STAFF_URL.format("A9"), key_a, body)
        assert_error(response, 400, "invalid")
        assert not StaffMember.objects.filter(employee_code="A9").exists()

    def test_a_non_string_phone_is_an_invalid_number(self, client, key_a):
        response = put_staff(client, key_a, "A9", phones=[912345678])
        assert_error(response, 400, "invalid_number")

    def test_a_number_active_for_another_staff_member_is_a_conflict(self, client, key_a, staff_a):
        response = put_staff(client, key_a, "A002", phones=["0912345678"])
        assert_error(response, 409, "phone_in_use")
        assert not StaffMember.objects.filter(employee_code="A002").exists()

    def test_malformed_json_is_a_clean_400(self, client, key_a):
        response = call(client, "PUT", STAFF_URL.format("A9"), key_a, "{not json")
        assert_error(response, 400, "malformed_body")

    def test_a_wrong_content_type_is_a_clean_415(self, client, key_a):
        response = client.put(
            STAFF_URL.format("A9"),
            data="full_name=x",
            content_type="application/x-www-form-urlencoded",
            HTTP_AUTHORIZATION=f"Api-Key {key_a}",
        )
        assert_error(response, 415, "unsupported_media_type")

    def test_a_body_over_one_megabyte_is_413(self, client, key_a):
        response = call(client, "PUT", STAFF_URL.format("A9"), key_a, "x" * 1_048_577)
        error = assert_error(response, 413, "body_too_large")
        assert error["details"]["limit"] == 1_048_576


class TestStaffDelete:
    def test_it_terminates_and_revokes_the_phones(self, client, key_a, staff_a):
        response = call(client, "DELETE", STAFF_URL.format("A001"), key_a)
        assert response.status_code == 204
        staff_a.refresh_from_db()
        assert staff_a.status == "terminated"
        assert not staff_a.phones.filter(status="active").exists()
        assert staff_a.history.count() >= 2

    def test_an_unknown_code_is_404(self, client, key_a):
        assert_error(call(client, "DELETE", STAFF_URL.format("NOPE"), key_a), 404, "not_found")


class TestKeys:
    def test_no_key_is_401(self, client, db):
        response = put_staff(client, None)
        assert_error(response, 401, "missing_api_key")
        assert response["WWW-Authenticate"] == "Api-Key"

    @pytest.mark.parametrize("header", ["Api-Key nonsense", "Api-Key abc.def", "Bearer abc.def"])
    def test_a_wrong_key_is_401(self, client, db, header):
        response = client.put(
            STAFF_URL.format("A1"),
            data="{}",
            content_type="application/json",
            HTTP_AUTHORIZATION=header,
        )
        assert_error(response, 401, "invalid_api_key")

    def test_a_partner_key_is_403_on_the_carrier_api(self, client, partner_key):
        assert_error(put_staff(client, partner_key), 403, "carrier_key_required")

    def test_a_revoked_key_is_refused_from_the_next_request_on(self, client, carrier_a):
        from registry import services
        from registry.models import ClientAPIKey

        raw = make_key(carrier_a)
        assert put_staff(client, raw, "A1").status_code == 201  # now cached
        services.api_key_revoke(api_key=ClientAPIKey.objects.get(prefix=raw.split(".")[0]))
        assert_error(put_staff(client, raw, "A1"), 401, "invalid_api_key")

    def test_an_expired_key_is_refused_even_while_cached(self, client, carrier_a):
        from registry.models import ClientAPIKey

        raw = make_key(carrier_a)
        assert put_staff(client, raw, "A1").status_code == 201
        # Expire it behind the service's back: the cached entry carries the expiry.
        ClientAPIKey.objects.filter(prefix=raw.split(".")[0]).update(
            expiry_date=timezone.now() - timedelta(seconds=1)
        )
        from django.core.cache import cache

        entry = cache.get(f"apikey:{raw.split('.')[0]}")
        entry["expires_at"] = (timezone.now() - timedelta(seconds=1)).timestamp()
        cache.set(f"apikey:{raw.split('.')[0]}", entry)
        assert_error(put_staff(client, raw, "A1"), 401, "invalid_api_key")

    def test_a_key_with_a_past_expiry_is_refused(self, client, carrier_a):
        raw = make_key(carrier_a, expiry_date=timezone.now() - timedelta(minutes=1))
        assert_error(put_staff(client, raw), 401, "invalid_api_key")

    def test_a_cached_key_costs_no_query(
        self, client, key_a, staff_a, django_assert_max_num_queries
    ):
        assert call(client, "DELETE", STAFF_URL.format("NOPE"), key_a).status_code == 404
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            call(client, "DELETE", STAFF_URL.format("NOPE"), key_a)
        assert not any("clientapikey" in q["sql"].lower() for q in queries.captured_queries)


class TestRateLimit:
    def test_the_limit_is_reached_then_resets(self, client, carrier_a):
        raw = make_key(carrier_a, rate_limit="3/min")
        statuses = [
            call(client, "DELETE", STAFF_URL.format("X"), raw).status_code for _ in range(4)
        ]
        assert statuses == [404, 404, 404, 429]
        response = call(client, "DELETE", STAFF_URL.format("X"), raw)
        error = assert_error(response, 429, "rate_limited")
        assert 1 <= int(response["Retry-After"]) <= 60
        assert error["details"]["retry_after"] == int(response["Retry-After"])
        from django.core.cache import cache

        cache.clear()  # the window rolls over
        assert call(client, "DELETE", STAFF_URL.format("X"), raw).status_code == 404

    @override_settings(API_RATE_LIMIT="2/min")
    def test_the_default_limit_comes_from_the_setting_and_is_per_key(self, client, carrier_a):
        first, second = make_key(carrier_a), make_key(carrier_a)
        assert [
            call(client, "DELETE", STAFF_URL.format("X"), first).status_code for _ in range(3)
        ] == [404, 404, 429]
        assert call(client, "DELETE", STAFF_URL.format("X"), second).status_code == 404


class TestAssignments:
    def test_a_mixed_batch_saves_the_valid_items_and_reports_the_rest(self, client, key_a, staff_a):
        items = [
            {
                "tracking_code": "T1",
                "employee_code": "A001",
                "recipient_phone": "0901 234 567",
                "window_start": "2026-11-28T09:00:00+07:00",
                "window_end": "2026-11-28T12:00:00+07:00",
            },
            {"tracking_code": "T2", "employee_code": "NOPE"},
            {"tracking_code": "T3", "employee_code": "A001", "recipient_phone": "12"},
            {
                "tracking_code": "T4",
                "employee_code": "A001",
                "window_start": "2026-11-28T10:00",
                "window_end": "2026-11-28T09:00",
            },
            {"tracking_code": "T5", "employee_code": "A001", "window_start": "tomorrow"},
            {"tracking_code": "T6", "employee_code": "A001", "status": "lost"},
            {"tracking_code": "", "employee_code": "A001"},
            {"tracking_code": "T1", "employee_code": "A001"},
            {"tracking_code": "T7", "employee_code": "A001", "status": "out_for_delivery"},
        ]
        response = call(client, "POST", ASSIGNMENTS_URL, key_a, {"assignments": items})
        assert response.status_code == 200
        body = response.json()
        assert (body["created"], body["updated"]) == (2, 0)
        assert [(e["index"], e["code"]) for e in body["errors"]] == [
            (1, "unknown_employee"),
            (2, "invalid_number"),
            (3, "invalid_window"),
            (4, "invalid_window"),
            (5, "invalid_status"),
            (6, "invalid_tracking_code"),
            (7, "duplicate_tracking_code"),
        ]
        t1 = DeliveryAssignment.objects.get(tracking_code="T1")
        assert t1.recipient_digest == recipient_digest("+84901234567")
        assert t1.window_start.isoformat() == "2026-11-28T02:00:00+00:00"
        assert DeliveryAssignment.objects.get(tracking_code="T7").status == "out_for_delivery"

        again = call(client, "POST", ASSIGNMENTS_URL, key_a, {"assignments": items}).json()
        assert (again["created"], again["updated"]) == (0, 2)
        assert again["errors"] == body["errors"]
        assert DeliveryAssignment.objects.count() == 2

    def test_an_update_without_recipient_keeps_the_digest(self, client, key_a, staff_a):
        call(
            client,
            "POST",
            ASSIGNMENTS_URL,
            key_a,
            {
                "assignments": [
                    {
                        "tracking_code": "T1",
                        "employee_code": "A001",
                        "recipient_phone": "0901234567",
                    }
                ]
            },
        )
        call(
            client,
            "POST",
            ASSIGNMENTS_URL,
            key_a,
            {
                "assignments": [
                    {"tracking_code": "T1", "employee_code": "A001", "status": "delivered"}
                ]
            },
        )
        t1 = DeliveryAssignment.objects.get(tracking_code="T1")
        assert (t1.status, t1.recipient_digest) == ("delivered", recipient_digest("+84901234567"))

    def test_terminated_staff_cannot_take_assignments(self, client, key_a, staff_a):
        call(client, "DELETE", STAFF_URL.format("A001"), key_a)
        body = call(
            client,
            "POST",
            ASSIGNMENTS_URL,
            key_a,
            {"assignments": [{"tracking_code": "T1", "employee_code": "A001"}]},
        ).json()
        assert body["errors"][0]["code"] == "staff_not_active"

    def test_more_than_1000_items_is_400_and_saves_nothing(self, client, key_a, staff_a):
        items = [{"tracking_code": f"T{i}", "employee_code": "A001"} for i in range(1001)]
        assert_error(
            call(client, "POST", ASSIGNMENTS_URL, key_a, {"assignments": items}),
            400,
            "too_many_items",
        )
        assert not DeliveryAssignment.objects.exists()

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"assignments": "T1"},
            {"assignments": [{"tracking_code": "T1", "employee_code": "A001"}, 5]},
            [{"tracking_code": "T1"}],
            {"assignments": [None]},
        ],
    )
    def test_a_body_of_the_wrong_shape_is_400_and_saves_nothing(self, client, key_a, staff_a, body):
        assert_error(call(client, "POST", ASSIGNMENTS_URL, key_a, body), 400, "invalid")
        assert not DeliveryAssignment.objects.exists()

    def test_1000_items_do_not_take_1000_round_trips(self, client, key_a, staff_a):
        from django.test.utils import CaptureQueriesContext

        items = [
            {"tracking_code": f"T{i}", "employee_code": "A001", "recipient_phone": "0901234567"}
            for i in range(1000)
        ]
        with CaptureQueriesContext(connection) as queries:
            body = call(client, "POST", ASSIGNMENTS_URL, key_a, {"assignments": items}).json()
        assert body["created"] == 1000
        # PostgreSQL takes the assignments in one statement and their open parcels in
        # another; SQLite in batches of its variable limit (12 and 4).
        inserts = [q for q in queries.captured_queries if q["sql"].startswith("INSERT")]
        assert len(inserts) <= (2 if connection.vendor == "postgresql" else 16)
        # One of them reads the staff's numbers, whose cached proofs the batch drops.
        assert len(queries.captured_queries) - len(inserts) <= 9


class TestCallIntents:
    def test_an_active_phone_of_active_staff_is_accepted(self, client, key_a, staff_a):
        before = timezone.now()
        response = call(
            client,
            "POST",
            INTENTS_URL,
            key_a,
            {
                "employee_code": "A001",
                "phone": "0912 345 678",
                "recipient_phone": "0901234567",
                "tracking_code": "T1",
            },
        )
        assert response.status_code == 201
        intent = CallIntent.objects.get()
        assert intent.recipient_digest == recipient_digest("+84901234567")
        assert (
            timedelta(minutes=14) < intent.expires_at - before <= timedelta(minutes=15, seconds=5)
        )
        assert response.json()["phone"] == "+84912345678"
        assert "recipient_phone" not in response.json()

    @pytest.mark.parametrize("phone", ["0933 444 555", "0977 000 000"])
    def test_a_phone_not_of_that_staff_is_refused(self, client, key_a, staff_a, staff_b, phone):
        response = call(
            client,
            "POST",
            INTENTS_URL,
            key_a,
            {"employee_code": "A001", "phone": phone, "recipient_phone": "0901234567"},
        )
        assert_error(response, 400, "phone_not_registered")
        assert not CallIntent.objects.exists()

    def test_suspended_staff_cannot_announce_calls(self, client, key_a, staff_a):
        put_staff(client, key_a, "A001", status="suspended")
        response = call(
            client,
            "POST",
            INTENTS_URL,
            key_a,
            {"employee_code": "A001", "phone": "0912345678", "recipient_phone": "0901234567"},
        )
        assert_error(response, 400, "phone_not_registered")

    def test_an_invalid_recipient_phone_is_400(self, client, key_a, staff_a):
        response = call(
            client,
            "POST",
            INTENTS_URL,
            key_a,
            {"employee_code": "A001", "phone": "0912345678", "recipient_phone": "abc"},
        )
        assert_error(response, 400, "invalid_number")

    @override_settings(CALL_INTENT_TTL_SECONDS=60)
    def test_the_lifetime_comes_from_the_setting(self, client, key_a, staff_a):
        call(
            client,
            "POST",
            INTENTS_URL,
            key_a,
            {"employee_code": "A001", "phone": "0912345678", "recipient_phone": "0901234567"},
        )
        intent = CallIntent.objects.get()
        assert intent.expires_at - intent.created_at < timedelta(seconds=61)


class TestCrossCarrier:
    """Carrier B's key against carrier A's records, by the same codes: nothing read, nothing
    changed."""

    def test_b_cannot_touch_a_staff_member_with_the_same_code(self, client, key_b, staff_a):
        response = put_staff(client, key_b, "A001", full_name="Hijacked", phones=["0933 000 111"])
        assert response.status_code == 201  # a new staff member *of B*
        staff_a.refresh_from_db()
        assert staff_a.full_name == "Nguyễn Văn An"
        assert StaffMember.objects.get(carrier__slug="beta-express", employee_code="A001")
        assert sorted(staff_a.phones.filter(status="active").values_list("number", flat=True)) == [
            "+84912345678",
            "+84988111222",
        ]

    def test_b_cannot_delete_a_staff_member_of_a(self, client, key_b, staff_a):
        assert_error(call(client, "DELETE", STAFF_URL.format("A001"), key_b), 404, "not_found")
        staff_a.refresh_from_db()
        assert staff_a.status == "active"

    def test_b_cannot_assign_parcels_to_a_staff(self, client, key_a, key_b, staff_a):
        call(
            client,
            "POST",
            ASSIGNMENTS_URL,
            key_a,
            {"assignments": [{"tracking_code": "T1", "employee_code": "A001"}]},
        )
        body = call(
            client,
            "POST",
            ASSIGNMENTS_URL,
            key_b,
            {"assignments": [{"tracking_code": "T1", "employee_code": "A001"}]},
        ).json()
        assert body["errors"][0]["code"] == "unknown_employee"
        assert DeliveryAssignment.objects.get().carrier.slug == "alpha-post"

    def test_b_cannot_announce_calls_for_a_staff(self, client, key_b, staff_a):
        response = call(
            client,
            "POST",
            INTENTS_URL,
            key_b,
            {"employee_code": "A001", "phone": "0912345678", "recipient_phone": "0901234567"},
        )
        assert_error(response, 400, "phone_not_registered")


def test_unknown_api_paths_are_404_in_the_error_shape(client, db):
    for path in ["/api/", "/api/v1/", "/api/v2/numbers/1/", "/api/v1/carrier/staff/"]:
        assert_error(client.get(path), 404, "not_found")


def test_no_recipient_number_is_stored_or_logged_in_plain_text(client, key_a, staff_a, caplog):
    recipient = "0901 234 567"
    forms = ["0901234567", "901234567", "+84901234567", "84901234567"]
    with caplog.at_level(logging.DEBUG):
        call(
            client,
            "POST",
            ASSIGNMENTS_URL,
            key_a,
            {
                "assignments": [
                    {"tracking_code": "T1", "employee_code": "A001", "recipient_phone": recipient}
                ]
            },
        )
        call(
            client,
            "POST",
            INTENTS_URL,
            key_a,
            {"employee_code": "A001", "phone": "0912345678", "recipient_phone": recipient},
        )
        call(
            client,
            "POST",
            ASSIGNMENTS_URL,
            key_a,
            {
                "assignments": [
                    {"tracking_code": "T2", "employee_code": "A001", "recipient_phone": "12"}
                ]
            },
        )
    assert DeliveryAssignment.objects.exists() and CallIntent.objects.exists()
    dump = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            dump.extend(str(row) for row in cursor.fetchall())
    text = "\n".join(dump) + "\n".join(r.getMessage() for r in caplog.records)
    for form in forms:
        assert form not in text
