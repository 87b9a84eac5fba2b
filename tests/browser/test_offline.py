"""The official hotlines stay reachable when the network fails: in Chromium with JavaScript
on, the first visit saves the offline page; with the network cut, any page of the site opens
it. With JavaScript off nothing changes (the other browser tests run that way)."""

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture
def phone_with_javascript(browser, live_server):
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, locale="vi-VN", base_url=live_server.url
    )
    context.set_default_timeout(15_000)
    yield context
    context.close()


def test_with_the_network_cut_the_hotlines_still_open(
    phone_with_javascript, carrier_a, carrier_b, screenshot
):
    page = phone_with_javascript.new_page()
    page.goto("/")
    # The worker installs once the page has loaded, saving the offline page.
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_function(
        "caches.open('shipper-check-offline-v1').then(c => c.match('/offline/')).then(r => !!r)",
        polling=200,
    )
    phone_with_javascript.set_offline(True)
    page.goto("/carriers/")
    assert page.locator("#offline").is_visible()
    call = page.locator('#offline a.call[href="tel:+8419002222"]')
    assert call.is_visible()
    assert "Beta Express: 1900 2222" in call.inner_text()
    assert call.bounding_box()["height"] >= 44
    screenshot(page, "offline")
    phone_with_javascript.set_offline(False)
    page.goto("/carriers/")
    assert not page.locator("#offline").count()


def test_the_browser_finds_the_favicon_and_the_manifest(page, carrier_a):
    page.goto("/")
    assert page.request.get("/favicon.ico").status == 200
    manifest = page.request.get(page.get_attribute("link[rel=manifest]", "href")).json()
    assert manifest["display"] == "standalone"
    for icon in manifest["icons"]:
        assert page.request.get(icon["src"]).status == 200
