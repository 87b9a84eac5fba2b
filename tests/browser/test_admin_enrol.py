"""An operator enrols a shipper through the real admin in Chromium, as a person would: log in,
fill the staff form and its phone rows, save, and find the change in the history."""

from base64 import b32decode

import pytest

from registry.models import StaffMember
from tests.test_admin_two_factor import code_for

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def admin_page(browser, live_server):
    """A desktop window with JavaScript on: the admin is a desktop tool, and its inline rows
    and date pickers are scripts."""
    context = browser.new_context(viewport=DESKTOP, base_url=live_server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def log_in(page, username: str, password: str, next_path: str) -> None:
    """A first sign-in: the password, then the authenticator enrolled with the key the page
    shows (tests/browser/test_admin_two_factor.py looks at each step)."""
    page.goto(f"/admin/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/two-factor/setup/**")
    page.fill("#id_code", code_for(key_shown(page)))
    page.click("#two-factor-form input[type=submit]")
    page.wait_for_url("**/admin/two-factor/recovery-codes/**")
    page.click("#continue")
    page.wait_for_url(f"**{next_path}")


def key_shown(page) -> bytes:
    return b32decode(page.inner_text("#otp-secret").replace(" ", ""))


def test_an_operator_enrols_a_shipper_with_two_phones(
    admin_page, screenshot, carrier_a, carrier_b, alice, staff_b
):
    page = admin_page
    log_in(page, "alice", "alice-password", "/admin/registry/staffmember/add/")

    assert page.locator("#id_carrier").count() == 0  # alice's carrier is implied
    page.fill("#id_employee_code", "A200")
    page.fill("#id_full_name", "Lê Thị Mai")
    page.fill("#id_region", "Hà Nội")
    page.fill("#id_phones-0-number", "0912 000 777")
    page.fill("#id_phones-1-number", "+84 (988) 000-888")
    screenshot(page, "filled")
    page.click("input[name=_save]")

    page.wait_for_url("**/admin/registry/staffmember/")
    assert page.locator(".messagelist .success").count() == 1
    assert page.locator("#result_list").get_by_text("A200").count() == 1
    assert page.locator("#result_list").get_by_text("B001").count() == 0  # bob's staff
    screenshot(page, "saved")

    staff = StaffMember.objects.get(employee_code="A200")
    assert (staff.carrier, staff.full_name, staff.region, staff.status) == (
        carrier_a,
        "Lê Thị Mai",
        "Hà Nội",
        "active",
    )
    assert sorted(staff.phones.values_list("number", "status", "carrier")) == [
        ("+84912000777", "active", carrier_a.pk),
        ("+84988000888", "active", carrier_a.pk),
    ]

    page.goto(f"/admin/registry/staffmember/{staff.pk}/history/")
    history = page.locator("#phone-history")
    assert history.get_by_text("+84912000777").count() == 1
    assert history.get_by_text("+84988000888").count() == 1
    assert history.get_by_text("alice").count() == 2
    screenshot(page, "history")


def test_a_wrong_number_is_shown_on_the_form_and_nothing_is_saved(
    admin_page, screenshot, carrier_a, alice
):
    page = admin_page
    log_in(page, "alice", "alice-password", "/admin/registry/staffmember/add/")
    page.fill("#id_employee_code", "A201")
    page.fill("#id_full_name", "Sai Số")
    page.fill("#id_phones-0-number", "0912 000 999")
    page.fill("#id_phones-1-number", "12ab")
    page.click("input[name=_save]")

    page.wait_for_load_state()
    assert page.locator(".errorlist").count() >= 1
    assert page.locator("#id_phones-1-number").input_value() == "12ab"  # kept for fixing
    screenshot(page, "error")
    assert not StaffMember.objects.filter(employee_code="A201").exists()
