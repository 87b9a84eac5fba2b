"""Password guessing on the admin login (django-axes): five failures for one username from
one address lock that pair out for fifteen minutes, right password or not; twenty for one
username from any addresses pause it for every browser that never completed a sign-in to it
(core.lockout)."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from tests.test_settings import manage

LOGIN = "/admin/login/"
ATTACKER, ELSEWHERE = "203.0.113.66", "198.51.100.7"


def sign_in(client, password, username="root", ip=ATTACKER, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip, **extra)


def guess(client, times=5, username="root", ip=ATTACKER, **extra):
    return [sign_in(client, f"guess-{n}", username, ip, **extra).status_code for n in range(times)]


def signed_in(client) -> bool:
    """The password was accepted: the admin sends the session on (to its second step), not
    back to the password page."""
    return client.get("/admin/", follow=True).request["PATH_INFO"] != LOGIN


@pytest.fixture
def attacker(root):
    return Client()


class TestLockout:
    def test_the_right_password_signs_in(self, attacker):
        assert sign_in(attacker, "root-password").status_code == 302
        assert signed_in(attacker)

    def test_five_wrong_passwords_lock_the_sixth_attempt_even_with_the_right_one(self, attacker):
        assert guess(attacker) == [200, 200, 200, 200, 429]
        response = sign_in(attacker, "root-password")
        assert response.status_code == 429
        assert not signed_in(attacker)

    def test_four_wrong_passwords_do_not_lock(self, attacker):
        assert guess(attacker, times=4) == [200] * 4
        assert sign_in(attacker, "root-password").status_code == 302

    def test_a_success_starts_the_count_again(self, attacker):
        guess(attacker, times=4)
        assert sign_in(attacker, "root-password").status_code == 302
        attacker.logout()
        assert guess(attacker, times=4) == [200] * 4

    def test_the_same_user_from_another_address_is_unaffected(self, attacker):
        guess(attacker)
        assert sign_in(Client(), "root-password", ip=ELSEWHERE).status_code == 302

    def test_another_user_from_the_same_address_is_unaffected(self, attacker, alice):
        guess(attacker)
        assert sign_in(attacker, "alice-password", username="alice").status_code == 302

    def test_the_lockout_ends_after_fifteen_minutes(self, attacker):
        guess(attacker)
        AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=14))
        assert sign_in(attacker, "root-password").status_code == 429
        AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
        assert sign_in(attacker, "root-password").status_code == 302

    def test_guessing_during_the_lockout_does_not_extend_it(self, attacker):
        guess(attacker)
        AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
        before = list(AccessAttempt.objects.values_list("failures_since_start", "attempt_time"))
        AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=10))
        assert guess(attacker, times=3) == [429] * 3
        after = list(AccessAttempt.objects.values_list("failures_since_start", "attempt_time"))
        assert [count for count, _ in after] == [count for count, _ in before] == [5]

    def test_a_reset_lets_the_user_in_again(self, attacker):
        guess(attacker)
        call_command("axes_reset_ip_username", ATTACKER, "root", verbosity=0)
        assert sign_in(attacker, "root-password").status_code == 302
        assert signed_in(attacker)

    def test_force_login_is_not_refused_by_a_lockout(self, attacker, root):
        guess(attacker)
        attacker.force_login(root)
        assert signed_in(attacker)

    def test_a_password_alone_does_not_open_the_admin(self, attacker):
        sign_in(attacker, "root-password")
        response = attacker.get("/admin/", follow=True)
        assert response.request["PATH_INFO"] == "/admin/two-factor/setup/"


def spread_guesses(times: int, username="root") -> list[int]:
    """One wrong password from each of `times` addresses, each a fresh browser."""
    return [
        sign_in(Client(), "guess", username, ip=f"192.0.2.{n + 1}").status_code
        for n in range(times)
    ]


@pytest.fixture
def operator(alice):
    """alice's own browser, where she completed a sign-in (password and code) once."""
    from tests.test_admin_two_factor import enrol

    browser = Client(REMOTE_ADDR=ELSEWHERE)
    key, _codes = enrol(browser)
    browser.post("/admin/logout/")
    browser.key = key
    return browser


class TestOneUsernameFromManyAddresses:
    def test_failures_from_many_addresses_are_counted_together(self, root):
        assert spread_guesses(19) == [200] * 19
        assert spread_guesses(1) == [429]
        assert sign_in(Client(), "root-password", ip="198.51.100.99").status_code == 429

    def test_one_address_alone_meets_its_own_limit_first(self, attacker):
        assert guess(attacker, times=6) == [200, 200, 200, 200, 429, 429]
        assert sign_in(Client(), "root-password", ip=ELSEWHERE).status_code == 302

    def test_the_page_says_which_limit_it_was(self, root, settings):
        settings.LANGUAGE_CODE = "en"
        spread_guesses(19)
        page = spread_guesses_page()
        assert "paused after 20 failed attempts from several addresses" in page

    def test_it_speaks_vietnamese_by_default(self, root):
        spread_guesses(19)
        assert "20 lần thử sai từ nhiều địa chỉ" in spread_guesses_page()

    def test_the_pause_ends_after_the_cool_off(self, root):
        spread_guesses(20)
        AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
        assert sign_in(Client(), "root-password", ip="198.51.100.99").status_code == 302

    def test_the_browser_of_the_real_operator_still_signs_in(self, operator):
        """The cheap attack (twenty guesses from anywhere) does not keep alice out: her
        browser completed a sign-in before, and she passes the second step as usual."""
        from tests.test_admin_two_factor import STAFF_LIST, code_for, password_step

        assert spread_guesses(25, username="alice") == [200] * 19 + [429] * 6
        assert sign_in(Client(), "alice-password", "alice", ip=ELSEWHERE).status_code == 429
        response = password_step(operator)
        assert response.status_code == 302 and response["Location"].startswith("/admin/two-")
        operator.post("/admin/two-factor/", {"code": code_for(operator.key, drift=1)})
        assert operator.get(STAFF_LIST).status_code == 200

    def test_her_browser_still_meets_the_limit_of_its_address(self, operator):
        spread_guesses(20, username="alice")
        statuses = [sign_in(operator, "guess", "alice", ip=ELSEWHERE).status_code for _ in "12345"]
        assert statuses == [200, 200, 200, 200, 429]

    def test_her_browser_is_known_for_her_username_only(self, operator, root):
        spread_guesses(20)
        assert sign_in(operator, "root-password", ip=ELSEWHERE).status_code == 429

    def test_a_forged_device_cookie_is_no_pass(self, alice, settings):
        spread_guesses(20, username="alice")
        forger = Client()
        forger.cookies[settings.ADMIN_DEVICE_COOKIE] = "alice:forged:signature"
        assert sign_in(forger, "alice-password", "alice", ip=ELSEWHERE).status_code == 429


def spread_guesses_page() -> str:
    return sign_in(Client(), "guess", ip="192.0.2.200").content.decode()


class TestClientAddress:
    def test_a_rotated_forwarded_for_does_not_escape_without_a_trusted_proxy(
        self, attacker, settings
    ):
        settings.TRUSTED_PROXY_COUNT = 0
        statuses = [
            sign_in(attacker, f"guess-{n}", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code
            for n in range(6)
        ]
        assert statuses == [200, 200, 200, 200, 429, 429]

    def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(self, attacker, settings):
        settings.TRUSTED_PROXY_COUNT = 1
        proxy = {"ip": "10.0.0.1"}  # every request arrives from the proxy
        assert guess(attacker, HTTP_X_FORWARDED_FOR=ATTACKER, **proxy) == [200] * 4 + [429]
        elsewhere = sign_in(Client(), "root-password", HTTP_X_FORWARDED_FOR=ELSEWHERE, **proxy)
        assert elsewhere.status_code == 302
        assert AccessAttempt.objects.get().ip_address == ATTACKER


class TestLockoutPage:
    def test_it_is_a_429_in_the_admin_look_saying_when_to_try_again(self, attacker, settings):
        attacker.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        guess(attacker, times=4)
        response = sign_in(attacker, "guess-5")
        assert response.status_code == 429
        assert response["Retry-After"] == "900"
        page = response.content.decode()
        assert 'id="site-name"' in page and "admin/css/login.css" in page
        assert "paused after 5 failed attempts" in page
        assert "Try again in 15 minutes" in page
        assert "guess-5" not in page

    def test_it_speaks_vietnamese_by_default(self, attacker):
        guess(attacker, times=4)
        page = sign_in(attacker, "guess-5").content.decode()
        assert "Thử lại sau 15 phút" in page


class TestSettings:
    def test_the_limit_and_the_cool_off_come_from_the_environment(self):
        code = (
            "from django.conf import settings as s; "
            "print(s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME)"
        )
        result = manage(
            "shell", "-v", "0", "-c", code, AXES_FAILURE_LIMIT="3", AXES_COOLOFF_MINUTES="60"
        )
        assert result.stdout.split() == ["3", "1:00:00"], result.stderr

    @pytest.mark.parametrize(
        ("name", "value"), [("AXES_FAILURE_LIMIT", "0"), ("AXES_COOLOFF_MINUTES", "soon")]
    )
    def test_a_malformed_value_stops_the_process(self, name, value):
        result = manage("check", **{name: value})
        assert result.returncode != 0
        assert name in result.stderr
