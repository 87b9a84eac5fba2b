"""Debian's Chromium through Playwright's sync API, against pytest-django's live_server.

One browser for the session; each test gets a fresh context (no cookies carried over) with
a 360 x 740 phone viewport and page JavaScript off, since the pages must work without it.
Playwright's own `page.evaluate` still runs with page JavaScript off, so a test can measure
the layout (scrollWidth) on the same page it checks. Screenshots go to tests/artifacts/,
which git ignores and CI keeps."""

import os
import re
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
PHONE = {"width": 360, "height": 740}
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session", autouse=True)
def _allow_orm_beside_playwright():
    """Playwright's sync API runs an event loop in the test's thread, and Django refuses ORM
    calls from a thread with a running loop unless told this is deliberate."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser, live_server):
    """A fresh phone: no cookies from another test, page JavaScript off, relative URLs
    resolved against the live server."""
    context = browser.new_context(
        viewport=PHONE, java_script_enabled=False, locale="vi-VN", base_url=live_server.url
    )
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    yield page
    page.close()


@pytest.fixture
def screenshot(request):
    """screenshot(page, name): a full-page PNG under tests/artifacts/, named after the test."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, name: str) -> Path:
        # Parameter ids may hold a path ("/carriers/"): keep the file name one name.
        stem = re.sub(r"[^\w.\[\]-]+", "_", f"{request.node.name}-{name}")
        path = ARTIFACTS / f"{stem}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
