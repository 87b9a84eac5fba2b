"""The lookup page as an app on the home screen: a favicon where browsers look for it, a web
app manifest with its icons, and the offline page of official hotlines with the service
worker that keeps it (tests/browser/test_offline.py drives it in Chromium)."""

import json

import pytest
from django.contrib.staticfiles import finders


def test_the_favicon_answers_where_browsers_ask_for_it(client, db):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO header
    assert "max-age" in response["Cache-Control"]


def test_every_page_names_its_icons_and_manifest(client, carrier_a):
    page = client.get("/").content.decode()
    assert '<link rel="icon" href="/favicon.ico"' in page
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    assert '<link rel="apple-touch-icon" href="/static/icons/apple-touch-icon.png">' in page


@pytest.mark.parametrize(
    ("language", "name"), [("vi", "Kiểm tra shipper"), ("en", "Shipper check")]
)
def test_the_manifest_makes_an_installable_app(client, db, language, name):
    response = client.get(f"/manifest.webmanifest?lang={language}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["short_name"] == name
    assert (manifest["start_url"], manifest["display"]) == ("/", "standalone")
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        path = finders.find(icon["src"].removeprefix("/static/"))
        assert path, icon["src"]
        with open(path, "rb") as image:
            png = image.read()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        assert f"{width}x{height}" == icon["sizes"]


def test_the_service_worker_is_served_from_the_root_and_saves_the_offline_page(client, db):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert "no-cache" in response["Cache-Control"]
    script = response.content.decode()
    assert '"/offline/"' in script and "/static/css/site.css" in script


def test_the_offline_page_lists_every_hotline_to_call_without_javascript(
    client, carrier_a, carrier_b
):
    page = client.get("/offline/").content.decode()
    assert 'href="tel:+8419001111"' in page and "Alpha Post: 1900 1111" in page
    assert 'href="tel:+8419002222"' in page and "Beta Express: 1900 2222" in page
    assert "<form" not in page.split("<main", 1)[1]
