"""Two-factor sign-in to the admin (core.twofactor), through the real login path: the
password, then enrolment on first sign-in (QR code, key as text, a first code, ten recovery
codes shown once), or a code from the authenticator or a recovery code."""

import io
import re
import time
from base64 import b32decode

import pytest
from django.core.management import call_command
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.test_admin_vietnamese import english_on

LOGIN, VERIFY = "/admin/login/", "/admin/two-factor/"
SETUP, CODES = "/admin/two-factor/setup/", "/admin/two-factor/recovery-codes/"
STAFF_LIST = "/admin/registry/staffmember/"
TOTP_STEP = 30  # seconds, django-otp's default


def code_for(key: bytes, drift: int = 0) -> str:
    """The authenticator's code now (drift=1: the next one; a code is taken only once).
    Never from a step's last seconds: on a loaded machine the server checked such a code in
    the next step, took it as one step behind, synced the device's drift to -1 (django-otp),
    and then refused the next step's code the test went on with."""
    left_in_step = TOTP_STEP - time.time() % TOTP_STEP
    if left_in_step < 3:
        time.sleep(left_in_step)
    return f"{totp(key, drift=drift):06d}"


def password_step(client, username="alice", next_url=STAFF_LIST):
    return client.post(
        f"{LOGIN}?next={next_url}", {"username": username, "password": f"{username}-password"}
    )


def enrol(client, username="alice", next_url=STAFF_LIST) -> tuple[bytes, list[str]]:
    """Sign in for the first time: password, the key read off the page, its first code; returns
    the key and the recovery codes shown."""
    page = client.get(password_step(client, username, next_url)["Location"], follow=True)
    assert page.request["PATH_INFO"] == SETUP
    secret = re.search(r'id="otp-secret">([A-Z2-7 ]+)<', page.content.decode()).group(1)
    key = b32decode(secret.replace(" ", ""))
    response = client.post(SETUP, {"code": code_for(key), "next": next_url})
    assert response.status_code == 302
    codes_page = client.get(response["Location"]).content.decode()
    codes = re.findall(r"<li><code>(\w+)</code></li>", codes_page)
    return key, codes


def opens(client, path=STAFF_LIST) -> bool:
    return client.get(path).status_code == 200


@pytest.fixture
def person(alice):
    """alice's browser: a plain client, with no shortcut past the second factor."""
    return Client()


class TestEnrolmentOnFirstSignIn:
    def test_the_password_leads_to_enrolment_with_the_next_page_kept(self, person):
        response = password_step(person)
        assert response.status_code == 302
        assert response["Location"] == f"{VERIFY}?next=%2Fadmin%2Fregistry%2Fstaffmember%2F"
        page = person.get(response["Location"], follow=True)
        assert page.request["PATH_INFO"] == SETUP
        assert page.request["QUERY_STRING"] == "next=%2Fadmin%2Fregistry%2Fstaffmember%2F"

    def test_the_page_shows_a_qr_code_and_the_key_of_an_unconfirmed_device(self, person, alice):
        password_step(person)
        page = person.get(SETUP).content.decode()
        device = TOTPDevice.objects.get(user=alice)
        assert not device.confirmed
        assert '<div id="otp-qr"><svg' in page
        secret = re.search(r'id="otp-secret">([A-Z2-7 ]+)<', page).group(1)
        assert b32decode(secret.replace(" ", "")) == device.bin_key
        assert person.get(SETUP).content.decode().count(secret) == 1  # a reload keeps the key

    def test_the_first_right_code_confirms_it_and_shows_ten_recovery_codes_once(
        self, person, alice
    ):
        key, codes = enrol(person)
        assert TOTPDevice.objects.get(user=alice).confirmed
        assert len(codes) == len(set(codes)) == 10
        assert sorted(StaticToken.objects.values_list("token", flat=True)) == sorted(codes)
        again = person.get(f"{CODES}?next={STAFF_LIST}")
        assert again.status_code == 302 and again["Location"] == STAFF_LIST
        assert opens(person)

    def test_a_wrong_first_code_confirms_nothing(self, person, alice):
        password_step(person)
        page = person.get(SETUP)
        key = TOTPDevice.objects.get(user=alice).bin_key
        wrong = f"{(int(code_for(key)) + 1) % 1_000_000:06d}"
        response = person.post(SETUP, {"code": wrong})
        assert response.status_code == 200 and page.status_code == 200
        assert "errornote" in response.content.decode()
        assert not TOTPDevice.objects.get(user=alice).confirmed
        assert not StaticToken.objects.exists()
        assert not opens(person)

    def test_enrolment_is_closed_once_a_device_is_confirmed(self, person, alice):
        """Someone else who learns the password cannot enrol a phone of their own."""
        enrol(person)
        intruder = Client()
        password_step(intruder)
        response = intruder.get(SETUP)
        assert response.status_code == 302 and response["Location"].startswith(VERIFY)
        assert intruder.post(SETUP, {"code": "123456"}).status_code == 302
        assert TOTPDevice.objects.filter(user=alice).count() == 1


@pytest.fixture
def enrolled(person):
    """alice enrolled, then signed out; returns her authenticator key and recovery codes."""
    key, codes = enrol(person)
    person.post("/admin/logout/")
    return key, codes


class TestSignInWithADevice:
    def test_the_code_is_asked_and_the_right_one_opens_the_admin(self, person, enrolled):
        key, _codes = enrolled
        response = person.get(password_step(person)["Location"])
        assert response.status_code == 200
        assert not opens(person)
        signed_in = person.post(VERIFY, {"code": code_for(key, drift=1), "next": STAFF_LIST})
        assert signed_in.status_code == 302 and signed_in["Location"] == STAFF_LIST
        assert opens(person)

    def test_a_wrong_code_is_refused(self, person, enrolled):
        key, _codes = enrolled
        password_step(person)
        wrong = f"{(int(code_for(key, drift=1)) + 1) % 1_000_000:06d}"
        response = person.post(VERIFY, {"code": wrong})
        assert response.status_code == 200
        assert "errornote" in response.content.decode()
        assert not opens(person)

    def test_a_code_already_used_is_refused(self, person, enrolled):
        key, _codes = enrolled
        password_step(person)
        assert person.post(VERIFY, {"code": code_for(key)}).status_code == 200
        assert not opens(person)

    def test_wrong_codes_make_even_the_right_one_wait(self, person, enrolled):
        key, _codes = enrolled
        password_step(person)
        for wrong in ("000000", "111111", "222222"):
            person.post(VERIFY, {"code": wrong})
        assert person.post(VERIFY, {"code": code_for(key, drift=1)}).status_code == 200
        assert not opens(person)

    def test_a_recovery_code_signs_in_once(self, person, enrolled, settings):
        settings.LANGUAGE_CODE = "en"
        _key, codes = enrolled
        password_step(person)
        response = person.post(VERIFY, {"code": codes[3].upper(), "next": STAFF_LIST}, follow=True)
        assert response.request["PATH_INFO"] == STAFF_LIST
        assert "9 are left" in response.content.decode()
        assert StaticToken.objects.count() == 9
        person.post("/admin/logout/")
        password_step(person)
        assert person.post(VERIFY, {"code": codes[3]}).status_code == 200
        assert not opens(person)


class TestWithoutTheSecondFactor:
    @pytest.mark.parametrize("path", ["/admin/", STAFF_LIST, "/admin/dashboard/"])
    def test_an_admin_page_is_refused_to_a_session_with_only_a_password(self, alice, path):
        browser = Client()
        browser.force_login(alice)
        response = browser.get(path, follow=True)
        assert response.request["PATH_INFO"] == SETUP
        TOTPDevice.objects.create(user=alice, name="phone", confirmed=True)
        assert browser.get(path, follow=True).request["PATH_INFO"] == VERIFY

    def test_superusers_need_it_too(self, root):
        browser = Client()
        browser.force_login(root)
        assert browser.get("/admin/auth/user/", follow=True).request["PATH_INFO"] == SETUP

    def test_an_outside_next_is_not_followed(self, person, alice):
        password_step(person, next_url="https://evil.example/")
        person.get(SETUP)
        key = TOTPDevice.objects.get(user=alice).bin_key
        response = person.post(SETUP, {"code": code_for(key), "next": "https://evil.example/"})
        assert response["Location"] == f"{CODES}?next=%2Fadmin%2F"

    def test_the_steps_need_a_signed_in_staff_user(self, db):
        for path in (VERIFY, SETUP, CODES):
            response = Client().get(path)
            assert response.status_code == 302 and response["Location"].startswith(LOGIN)


class TestWithDebug:
    """The embedded demo (DEBUG on) asks it only of users who enrolled."""

    def test_a_user_without_a_device_passes_on_the_password(self, person, settings):
        settings.DEBUG = True
        assert password_step(person)["Location"] == STAFF_LIST
        assert opens(person)

    def test_a_user_who_enrolled_is_still_asked(self, person, enrolled, settings):
        settings.DEBUG = True
        assert password_step(person)["Location"].startswith(VERIFY)
        assert not opens(person)


def test_a_reset_forgets_the_device_and_the_next_sign_in_enrols_again(person, alice):
    enrol(person)
    assert opens(person)
    call_command("reset_two_factor", "alice", stdout=io.StringIO())
    assert not TOTPDevice.objects.exists() and not StaticToken.objects.exists()
    assert person.get(STAFF_LIST, follow=True).request["PATH_INFO"] == SETUP


def test_the_steps_read_vietnamese(person, alice):
    page = person.get(password_step(person)["Location"], follow=True).content.decode()
    assert "Mã" in page and not english_on(page)
    key = TOTPDevice.objects.get(user=alice).bin_key
    codes = person.get(person.post(SETUP, {"code": code_for(key)})["Location"])
    assert not english_on(codes.content.decode())
    person.post("/admin/logout/")
    page = person.get(password_step(person)["Location"]).content.decode()
    assert not english_on(page)
