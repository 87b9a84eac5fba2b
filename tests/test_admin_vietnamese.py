"""The admin reads Vietnamese throughout, third-party strings included: no page of ours
renders a message that the Vietnamese catalogue Django merges (ours in locale/, Django's, the
libraries') leaves untranslated, and every field of our models has a translatable name.

The English source messages are read from the catalogues of Django and of the admin's
libraries (their `en`, or any language's, .po files list every msgid) and from ours."""

import html as html_lib
import re
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import django
import import_export
import pytest
import simple_history
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.urls import reverse
from django.utils import translation
from django.utils.functional import Promise

from registry import services
from tests.test_translations import PO, read_po

SOURCES = [
    Path(django.__file__).parent / "contrib/admin/locale/en/LC_MESSAGES/django.po",
    Path(django.__file__).parent / "contrib/auth/locale/en/LC_MESSAGES/django.po",
    Path(django.__file__).parent / "conf/locale/en/LC_MESSAGES/django.po",
    Path(import_export.__file__).parent / "locale/de/LC_MESSAGES/django.po",
    Path(simple_history.__file__).parent / "locale/de/LC_MESSAGES/django.po",
    PO,
]
NEVER_SHOWN = {("clientapikey", "id"), ("clientapikey", "hashed_key")}
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}")


@cache
def untranslated_messages() -> dict[str, re.Pattern]:
    """msgid → a pattern of how it renders, for each source message Vietnamese lacks."""
    catalogue = translation.trans_real.translation("vi")._catalog
    found = {}
    for source in SOURCES:
        for entry in read_po(source):
            if not entry.msgid or entry.obsolete or not re.search("[A-Za-z]{2}", entry.msgid):
                continue
            key = f"{entry.msgctxt}\x04{entry.msgid}" if entry.msgctxt else entry.msgid
            if key in catalogue or (key, 0) in catalogue:
                continue
            for msgid in filter(None, [entry.msgid, entry.msgid_plural]):
                parts = PLACEHOLDER.split(" ".join(msgid.split()))
                found[msgid] = re.compile(".+?".join(re.escape(part) for part in parts))
    return found


class Texts(HTMLParser):
    """What a person reads on a page: text nodes, and the words of buttons, titles,
    placeholders and labels read aloud."""

    SKIP = {"script", "style", "template", "textarea"}

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._skipping = 0
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self._skipping += 1
        attrs = dict(attrs)
        for name in ("title", "placeholder", "aria-label", "alt"):
            self._add(attrs.get(name))
        if tag == "input" and attrs.get("type") in {"submit", "button", "reset"}:
            self._add(attrs.get("value"))

    def handle_endtag(self, tag):
        if tag in self.SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data):
        if not self._skipping:
            self._add(data)

    def _add(self, text):
        text = " ".join(html_lib.unescape(text or "").split()).strip(" :›»«*")
        if text:
            self.texts.append(text)


def english_on(page: str) -> list[str]:
    """The untranslated messages a page shows."""
    return sorted(
        {
            msgid
            for text in Texts(page).texts
            for msgid, pattern in untranslated_messages().items()
            if pattern.fullmatch(text)
        }
    )


@pytest.fixture
def world(staff_a, staff_b, alice, root):
    services.assignment_upsert(
        carrier=staff_a.carrier,
        tracking_code="VN123",
        staff=staff_a,
        recipient_phone="0901000999",
        status="out_for_delivery",
    )


def our_models():
    return [
        model
        for model in admin.site._registry
        if model._meta.app_label in {"registry", "verification"}
    ]


def pages() -> list[str]:
    paths = ["admin:index", "carrier-dashboard", "admin:registry_staffmember_import"]
    for model in our_models():
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        paths += [f"{name}_changelist", f"{name}_add"]
    return paths


def visit(client, user, name: str) -> str:
    client.force_login(user)
    response = client.get(reverse(name))
    assert response.status_code in {200, 403}, (name, response.status_code)
    return response.content.decode()


@pytest.mark.parametrize("user", ["root", "alice"])
def test_no_admin_page_of_ours_renders_an_untranslated_message(client, world, request, user):
    person = request.getfixturevalue(user)
    english = {name: english_on(visit(client, person, name)) for name in pages()}
    english = {name: found for name, found in english.items() if found}
    assert not english, f"left in English for {user}: {english}"


@pytest.mark.parametrize("user", ["root", "alice"])
def test_the_change_and_history_pages_read_vietnamese(client, world, staff_a, request, user):
    person = request.getfixturevalue(user)
    client.force_login(person)
    found = {}
    for model, obj in [
        ("staffmember", staff_a),
        ("staffphone", staff_a.phones.first()),
        ("carrier", staff_a.carrier),
    ]:
        for view in ("change", "history"):
            page = client.get(reverse(f"admin:registry_{model}_{view}", args=[obj.pk]))
            assert page.status_code == 200
            if english := english_on(page.content.decode()):
                found[f"{model} {view}"] = english
    assert not found, found


def test_the_import_preview_reads_vietnamese_and_names_its_button(client, world, staff_a, alice):
    from tests.registry.test_admin_import import csv_upload

    client.force_login(alice)
    rows = [["A101", "Phạm Thị Hoa", "", "Hà Nội", "0977 000 111"], ["A102", "X", "fired", "", "1"]]
    page = client.post(
        reverse("admin:registry_staffmember_import"),
        {"import_file": csv_upload(rows), "format": "0", "carrier": staff_a.carrier.pk},
    )
    assert page.status_code == 200
    assert not english_on(page.content.decode())
    rows = rows[:1]
    page = client.post(
        reverse("admin:registry_staffmember_import"),
        {"import_file": csv_upload(rows), "format": "0", "carrier": staff_a.carrier.pk},
    ).content.decode()
    assert not english_on(page)
    [button] = re.findall(r'<input type="submit"[^>]*value="([^"]+)"', page) or re.findall(
        r"<button[^>]*>\s*([^<]+?)\s*</button>", page
    )
    # The preview's advice names the button the page really shows.
    assert f"“{button}”" in page or f'"{button}"' in page or button in Texts(page).texts


def test_the_check_finds_a_message_left_in_english(client, world, root):
    """The test above can fail: an English admin page is full of untranslated messages
    once the Vietnamese catalogue is set aside."""
    client.force_login(root)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(reverse("admin:registry_staffmember_changelist")).content.decode()
    with translation.override("en"):
        assert "Add staff member" in Texts(page).texts or "Show counts" in Texts(page).texts
    untranslated_messages.cache_clear()
    real = translation.trans_real.translation("vi")._catalog
    try:
        translation.trans_real.translation("vi")._catalog = {}
        assert english_on(page)
    finally:
        translation.trans_real.translation("vi")._catalog = real
        untranslated_messages.cache_clear()


@pytest.mark.parametrize(
    "model",
    [
        model
        for model in apps.get_models()
        if model._meta.app_label in {"registry", "verification"}
        and not model.__name__.startswith("Historical")  # named by django-simple-history
    ],
    ids=lambda model: model._meta.label,
)
def test_every_field_of_our_models_has_a_translatable_name(model):
    """A field without `verbose_name` is shown by its English attribute name ("created at")."""
    bare = [
        field.name
        for field in model._meta.get_fields()
        if hasattr(field, "verbose_name")
        and not field.auto_created
        and not isinstance(field.verbose_name, Promise)
        # The API key's own id and hash: never shown.
        and (model._meta.model_name, field.name) not in NEVER_SHOWN
    ]
    assert not bare
    assert isinstance(model._meta.verbose_name, Promise)
    catalogue = translation.trans_real.translation("vi")._catalog
    names = [model._meta.verbose_name, model._meta.verbose_name_plural] + [
        field.verbose_name
        for field in model._meta.get_fields()
        if isinstance(getattr(field, "verbose_name", None), Promise)
    ]
    with translation.override("en"):
        missing = [str(name) for name in names if str(name) not in catalogue]
    assert not missing, f"no Vietnamese for {missing}"
