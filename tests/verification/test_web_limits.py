"""Recipients behind one carrier-grade NAT address do not lock each other out of the web
lookup (docs/rate-limits.md): a browser that loaded the form is limited on its own, under a
per-address ceiling sized for a crowd; a script posting without loading the form is limited
per address as before."""

import pytest
from django.test import Client

from .test_pages import frozen_clock  # noqa: F401  (a fixture)

CGNAT = "100.64.0.7"  # RFC 6598 shared address space: what carrier-grade NAT hands out


@pytest.fixture(autouse=True)
def _limits(settings, frozen_clock):  # noqa: F811
    settings.WEB_RATE_LIMIT = "3/min"
    settings.WEB_ADDRESS_RATE_LIMIT = "20/min"


def browser() -> Client:
    """A phone's browser behind the shared address that loads the form, as people do."""
    client = Client(REMOTE_ADDR=CGNAT)
    assert client.get("/").status_code == 200
    return client


def check(client, number="0912 345 678"):
    return client.post("/", {"number": number}).status_code


def test_many_recipients_behind_one_address_are_each_answered(staff_a):
    phones = [browser() for _ in range(6)]
    codes = [check(phone) for _round in range(3) for phone in phones]
    assert codes == [200] * 18  # six times what one address got before


def test_one_browser_is_still_held_to_its_own_limit(staff_a):
    phone, neighbour = browser(), browser()
    assert [check(phone) for _ in range(4)] == [200, 200, 200, 429]
    assert check(neighbour) == 200


def test_a_script_that_never_loads_the_form_is_limited_per_address(staff_a):
    script = Client(REMOTE_ADDR=CGNAT)
    assert [check(script) for _ in range(4)] == [200, 200, 200, 429]
    assert check(Client(REMOTE_ADDR="100.64.0.8")) == 200


def test_a_made_up_browser_id_counts_as_none(staff_a):
    script = Client(REMOTE_ADDR=CGNAT)
    codes = []
    for attempt in range(4):
        script.cookies["browser"] = f"made-up-{attempt}"
        codes.append(check(script))
    assert codes == [200, 200, 200, 429]


def test_the_address_ceiling_stops_a_crowd_of_fresh_browsers(staff_a):
    """Loading the form for a new id each time buys at most the per-address ceiling."""
    codes = [check(browser()) for _ in range(21)]
    assert codes == [200] * 20 + [429]


def test_the_browser_id_is_signed_and_kept_from_scripts(client, db):
    response = client.get("/")
    cookie = response.cookies["browser"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert ":" in cookie.value  # value:signature
    again = client.get("/")
    assert "browser" not in again.cookies  # one id per browser, not one per page load
