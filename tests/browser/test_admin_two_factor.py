"""Two-factor sign-in in Chromium, as an operator would: the first sign-in enrols an
authenticator (QR code, key, first code, recovery codes), the next one asks for its code."""

import pytest
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.test_admin_two_factor import code_for

from .test_admin_enrol import admin_page, key_shown  # noqa: F401  (admin_page is a fixture)

pytestmark = pytest.mark.browser

STAFF_LIST = "/admin/registry/staffmember/"


def password(page, next_path=STAFF_LIST) -> None:
    page.goto(f"/admin/login/?next={next_path}")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "alice-password")
    page.click("input[type=submit]")


def test_an_operator_enrols_then_signs_in_with_the_apps_code(admin_page, alice, screenshot):  # noqa: F811
    page = admin_page
    password(page)
    page.wait_for_url("**/admin/two-factor/setup/?next=%2Fadmin%2Fregistry%2Fstaffmember%2F")
    assert page.locator("#otp-qr svg").bounding_box()["width"] > 100
    assert "Mở một ứng dụng xác thực" in page.inner_text("#content-main")
    screenshot(page, "enrol")
    key = key_shown(page)
    assert key == TOTPDevice.objects.get(user=alice).bin_key

    page.fill("#id_code", code_for(key))
    page.click("#two-factor-form input[type=submit]")
    page.wait_for_url("**/admin/two-factor/recovery-codes/**")
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert sorted(codes) == sorted(StaticToken.objects.values_list("token", flat=True))
    assert len(codes) == 10
    screenshot(page, "recovery-codes")
    page.click("#continue")
    page.wait_for_url(f"**{STAFF_LIST}")

    page.click("#logout-form button")
    password(page)
    page.wait_for_url("**/admin/two-factor/?next=*")
    screenshot(page, "code-asked")
    page.goto(STAFF_LIST)  # no way round the second step
    page.wait_for_url("**/admin/two-factor/?next=*")
    page.fill("#id_code", "000000")
    page.click("#two-factor-form input[type=submit]")
    assert page.locator(".errornote").count() == 1
    # The wrong code makes the next try wait a second (django-otp's throttle).
    page.wait_for_timeout(1100)
    page.fill("#id_code", code_for(key, drift=1))
    page.click("#two-factor-form input[type=submit]")
    page.wait_for_url(f"**{STAFF_LIST}")
    assert page.locator("#result_list, .paginator").count() >= 1
    screenshot(page, "signed-in")
