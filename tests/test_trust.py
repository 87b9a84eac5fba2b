"""Whose proof is it: carrier B's account trying to lend itself carrier A's trust.

Each test replays an attack found from outside, through the real interfaces (the admin's own
forms, the carrier API with B's key, the partner API), and decodes the receipts with PyJWT,
not with joserfc that signs them, as a partner would.

alice operates carrier A ("Alpha Post", hotline 1900 1111, staff A001 on 0912 345 678),
bob operates carrier B ("Beta Express", hotline 1900 2222), root is a superuser.
"""

import jwt as pyjwt
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from registry import services
from registry.models import OfficialChannel, StaffMember
from tests.admin_client import browser_form
from tests.api_client import assert_error, call
from verification.models import ImpersonationAlert, WebhookDelivery

A_STAFF_NUMBER, A_HOTLINE = "+84912345678", "+8419001111"
RECIPIENT = "0901 000 999"
CHANNEL_ADD = reverse("admin:registry_officialchannel_add")


def decoded(client, receipt: str) -> dict:
    """The receipt's claims, checked offline against the JWKS with another JOSE library."""
    jwks = pyjwt.PyJWKSet.from_dict(client.get("/.well-known/jwks.json").json())
    kid = pyjwt.get_unverified_header(receipt)["kid"]
    key = next(jwk for jwk in jwks.keys if jwk.key_id == kid)
    return pyjwt.decode(receipt, key.key, algorithms=["ES256"])


def verify(client, key, **body):
    response = call(client, "POST", "/api/v1/verifications/", key, body)
    assert response.status_code == 200, response.content
    answer = response.json()
    return answer, decoded(client, answer["receipt"])


def register_at_b(client, key_b, number=A_STAFF_NUMBER, code="B777"):
    """B enrols A's shipper number as one of B's own staff phones."""
    response = call(
        client,
        "PUT",
        f"/api/v1/carrier/staff/{code}/",
        key_b,
        {"full_name": "Kẻ Mượn Số", "phones": [number], "status": "active"},
    )
    assert response.status_code in (200, 201), response.content
    return code


class TestHotlinesBelongToTheRegistryOperators:
    def test_bob_cannot_add_a_hotline_in_the_admin(self, client, bob, staff_a):
        client.force_login(bob)
        assert client.get(CHANNEL_ADD).status_code == 403
        response = client.post(CHANNEL_ADD, {"kind": "hotline", "value": "0912 345 678"})
        assert response.status_code == 403
        assert not OfficialChannel.objects.filter(value=A_STAFF_NUMBER).exists()

    def test_bob_sees_his_hotline_read_only(self, client, bob, carrier_b):
        channel = carrier_b.channels.get()
        change = reverse("admin:registry_officialchannel_change", args=[channel.pk])
        client.force_login(bob)
        assert client.get(change).status_code == 200
        assert client.post(change, {"kind": "hotline", "value": A_HOTLINE}).status_code == 403
        delete = reverse("admin:registry_officialchannel_delete", args=[channel.pk])
        assert client.post(delete, {"post": "yes"}).status_code == 403
        channel.refresh_from_db()
        assert channel.value == "+8419002222"

    @pytest.mark.parametrize(
        ("value", "code"),
        [("0912 345 678", "number_is_staff_phone"), ("1900 1111", "hotline_taken")],
        ids=["a-staff-number", "a-hotline"],
    )
    def test_even_root_cannot_give_b_a_number_of_a_in_the_admin(
        self, client, root, staff_a, carrier_b, value, code
    ):
        client.force_login(root)
        data = browser_form(client.get(CHANNEL_ADD), "officialchannel_form")
        data.update(carrier=[str(carrier_b.pk)], kind=["hotline"], value=[value])
        response = client.post(CHANNEL_ADD, data)
        assert response.status_code == 200
        errors = response.context["adminform"].form.non_field_errors().as_data()
        assert [error.code for error in errors] == [code]
        assert not carrier_b.channels.exclude(value="+8419002222").exists()

    def test_the_lookup_never_calls_a_shipper_of_a_an_official_hotline_of_b(
        self, client, partner_key, staff_a, carrier_b
    ):
        for value in ["0912 345 678", "1900 1111"]:
            with pytest.raises(services.RegistryError):
                services.channel_save(carrier=carrier_b, kind="hotline", value=value)
        body = call(client, "GET", "/api/v1/numbers/0912345678/", partner_key).json()
        assert (body["status"], body["carriers"][0]["slug"]) == ("verified", "alpha-post")
        body = call(client, "GET", "/api/v1/numbers/19001111/", partner_key).json()
        assert (body["status"], body["carriers"]) == (
            "official",
            [{"slug": "alpha-post", "name": "Alpha Post"}],
        )
        assert not ImpersonationAlert.objects.exists()

    def test_create_carrier_refuses_another_carriers_hotline(self, carrier_a, capsys):
        with pytest.raises(CommandError, match="1900 1111|19001111"):
            call_command("create_carrier", "gamma", "--name", "Gamma", "--hotline", "1900 1111")
        assert not OfficialChannel.objects.filter(carrier__slug="gamma").exists()

    def test_the_carrier_api_refuses_a_hotline_as_a_staff_phone(self, client, key_b, carrier_a):
        for hotline in ["1900 1111", "1900 2222"]:
            response = call(
                client,
                "PUT",
                "/api/v1/carrier/staff/B500/",
                key_b,
                {"full_name": "Đường Dây", "phones": ["0977 111 000", hotline], "status": "active"},
            )
            error = assert_error(response, 400, "number_is_hotline")
            assert hotline in error["message"]
        assert not StaffMember.objects.filter(employee_code="B500").exists()


class TestExistingRowsThatBreakTheRules:
    """Rows written before the rules (straight to the database here) are reported."""

    @pytest.fixture
    def broken(self, staff_a, carrier_b):
        OfficialChannel.objects.create(carrier=carrier_b, kind="hotline", value=A_HOTLINE)
        OfficialChannel.objects.create(carrier=carrier_b, kind="hotline", value=A_STAFF_NUMBER)

    def test_the_audit_command_reports_them_and_fails(self, broken, capsys):
        with pytest.raises(CommandError):
            call_command("audit_trust")
        out = capsys.readouterr().out
        assert A_HOTLINE in out and "alpha-post" in out and "beta-express" in out
        assert A_STAFF_NUMBER in out

    def test_the_audit_command_passes_on_a_clean_registry(self, staff_a, carrier_b, capsys):
        call_command("audit_trust")
        assert "no" in capsys.readouterr().out.lower()

    def test_check_reports_them(self, broken, capsys):
        call_command("check", "--database", "default")
        err = capsys.readouterr().err
        assert "registry.W001" in err and "registry.W002" in err


class TestSharedNumbers:
    def test_a_gets_one_shared_number_alert_when_b_enrols_its_shipper_number(
        self, client, carrier_a, staff_a, key_b, django_capture_on_commit_callbacks
    ):
        services.carrier_save(
            slug="alpha-post", name="Alpha Post", webhook=("https://93.184.216.34/a", "s3cret")
        )
        with django_capture_on_commit_callbacks():
            register_at_b(client, key_b)
            # Revoked and registered again: the same number and pair of carriers.
            call(
                client,
                "PUT",
                "/api/v1/carrier/staff/B777/",
                key_b,
                {"full_name": "Kẻ Mượn Số", "phones": [], "status": "active"},
            )
            register_at_b(client, key_b)
        alert = ImpersonationAlert.objects.get()
        assert (alert.kind, alert.carrier.slug, alert.number) == (
            "shared_number",
            "alpha-post",
            A_STAFF_NUMBER,
        )
        assert alert.other_carrier.slug == "beta-express"
        payload = WebhookDelivery.objects.get(alert=alert).payload
        assert payload["type"] == "shared_number"
        assert (payload["carrier"], payload["number"], payload["shared_with"]) == (
            "alpha-post",
            A_STAFF_NUMBER,
            "beta-express",
        )

    def test_alice_sees_it_in_the_admin_and_bob_does_not(self, client, alice, bob, staff_a, key_b):
        register_at_b(client, key_b)
        changelist = reverse("admin:verification_impersonationalert_changelist")
        client.force_login(alice)
        page = client.get(changelist + "?kind__exact=shared_number").content.decode()
        assert A_STAFF_NUMBER in page and "Beta Express" in page
        client.force_login(bob)
        assert A_STAFF_NUMBER not in client.get(changelist).content.decode()

    def test_the_dashboard_lists_it(self, client, alice, staff_a, key_b):
        register_at_b(client, key_b)
        client.force_login(alice)
        page = client.get(reverse("carrier-dashboard")).content.decode()
        assert 'id="shared-numbers"' in page
        assert A_STAFF_NUMBER in page.split('id="shared-numbers"')[1]

    def test_a_new_number_alerts_nobody(self, client, staff_a, key_b):
        register_at_b(client, key_b, number="0977 123 456")
        assert not ImpersonationAlert.objects.exists()


class TestBorrowedProofs:
    def test_a_call_announced_with_bs_key_names_b_not_a(self, client, staff_a, key_b, partner_key):
        code = register_at_b(client, key_b)
        response = call(
            client,
            "POST",
            "/api/v1/carrier/call-intents/",
            key_b,
            {"employee_code": code, "phone": "0912 345 678", "recipient_phone": RECIPIENT},
        )
        assert response.status_code == 201
        answer, claims = verify(client, partner_key, number="0912345678", recipient_phone=RECIPIENT)
        assert answer["calling_now"] is True
        assert (claims["carrier"], claims["employee_code"], claims["level"]) == (
            "beta-express",
            code,
            "A",
        )
        # The caller says "I am Alpha Post's shipper": A never announced this call.
        answer, claims = verify(
            client,
            partner_key,
            number="0912345678",
            recipient_phone=RECIPIENT,
            claimed_carrier="alpha-post",
        )
        assert answer["calling_now"] is False
        assert (claims["carrier"], claims["employee_code"], claims["level"]) == (
            "alpha-post",
            "A001",
            "C",
        )

    def test_bs_assignment_of_as_tracking_code_names_b_not_a(
        self, client, staff_a, key_a, key_b, partner_key
    ):
        code = register_at_b(client, key_b)
        call(
            client,
            "POST",
            "/api/v1/carrier/assignments/",
            key_b,
            {"assignments": [{"tracking_code": "ALPHA0001VN", "employee_code": code}]},
        )
        answer, claims = verify(
            client, partner_key, number="0912345678", tracking_code="ALPHA0001VN"
        )
        assert answer["assignment"] == {
            "tracking_code": "ALPHA0001VN",
            "matches": True,
            "carrier": "beta-express",
        }
        assert (claims["carrier"], claims["employee_code"], claims["level"]) == (
            "beta-express",
            code,
            "B",
        )
        answer, claims = verify(
            client,
            partner_key,
            number="0912345678",
            tracking_code="ALPHA0001VN",
            claimed_carrier="alpha-post",
        )
        assert answer["assignment"] == {
            "tracking_code": "ALPHA0001VN",
            "matches": False,
            "carrier": None,
        }
        assert (claims["carrier"], claims["level"]) == ("alpha-post", "C")

    def test_as_own_parcel_and_call_still_prove_for_a(self, client, staff_a, key_a, partner_key):
        call(
            client,
            "POST",
            "/api/v1/carrier/assignments/",
            key_a,
            {"assignments": [{"tracking_code": "ALPHA0002VN", "employee_code": "A001"}]},
        )
        call(
            client,
            "POST",
            "/api/v1/carrier/call-intents/",
            key_a,
            {"employee_code": "A001", "phone": "0912345678", "recipient_phone": RECIPIENT},
        )
        answer, claims = verify(
            client,
            partner_key,
            number="0912345678",
            tracking_code="ALPHA0002VN",
            recipient_phone=RECIPIENT,
            claimed_carrier="alpha-post",
        )
        assert answer["assignment"]["carrier"] == "alpha-post"
        assert answer["calling_now"] is True
        assert (claims["carrier"], claims["employee_code"], claims["level"]) == (
            "alpha-post",
            "A001",
            "A",
        )

    def test_level_c_names_the_claimed_carrier_else_the_first_by_name(
        self, client, staff_a, key_b, partner_key
    ):
        code = register_at_b(client, key_b)
        _answer, claims = verify(client, partner_key, number="0912345678")
        assert (claims["carrier"], claims["employee_code"], claims["level"]) == (
            "alpha-post",
            "A001",
            "C",
        )
        _answer, claims = verify(
            client, partner_key, number="0912345678", claimed_carrier="beta-express"
        )
        assert (claims["carrier"], claims["employee_code"], claims["level"]) == (
            "beta-express",
            code,
            "C",
        )
