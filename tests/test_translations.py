"""Vietnamese is the default language: every string the project marks for translation has a
Vietnamese translation, and the compiled catalogue Django reads is not behind its source.

The .po file is read here by a few lines of Python rather than gettext's tools, so the test
runs on a machine without gettext (both the .po and the .mo are kept in the repository)."""

import ast
import gettext
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

LOCALE = Path(settings.BASE_DIR) / "locale" / "vi" / "LC_MESSAGES"
PO, MO = LOCALE / "django.po", LOCALE / "django.mo"


@dataclass
class Entry:
    line: int
    flags: set[str] = field(default_factory=set)
    msgctxt: str | None = None
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    obsolete: bool = False


def read_po(path: Path) -> list[Entry]:
    """The entries of a .po file: flags, msgid (and plural), msgstr by plural index."""
    entries: list[Entry] = []
    entry: Entry | None = None
    target: tuple[str, int] | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].strip()
        if not line:
            entry, target = None, None
            continue
        if line.startswith("#"):
            if entry is not None and entry.msgid:
                entry, target = None, None
            entry = entry or Entry(line=number)
            if line.startswith("#,"):
                entry.flags |= {flag.strip() for flag in line[2:].split(",")}
            continue
        keyword = re.match(r"(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(\".*\")$", line)
        if keyword:
            name, index, literal = keyword.groups()
            if name in {"msgctxt", "msgid"} and entry is not None and entry.msgid:
                entry = None  # a new entry without a blank line before it
            if entry is None:
                entry = Entry(line=number)
            if entry not in entries:
                entries.append(entry)
            entry.obsolete = entry.obsolete or obsolete
            if name.startswith("msgstr"):
                target = ("msgstr", int(index or 0))
                entry.msgstr[target[1]] = ""
            else:
                target = (name, 0)
                setattr(entry, name, "")
            literal_text = ast.literal_eval(literal)
        elif line.startswith('"') and entry is not None and target is not None:
            literal_text = ast.literal_eval(line)
        else:
            raise AssertionError(f"{path}:{number}: cannot read {raw!r}")
        name, index = target
        if name == "msgstr":
            entry.msgstr[index] += literal_text
        else:
            setattr(entry, name, getattr(entry, name) + literal_text)
    return entries


def messages() -> list[Entry]:
    return [entry for entry in read_po(PO) if entry.msgid and not entry.obsolete]


def header() -> str:
    return next(entry for entry in read_po(PO) if entry.msgid == "").msgstr[0]


def test_the_catalogue_holds_the_strings_of_the_pages():
    assert len(messages()) > 100
    msgids = {entry.msgid for entry in messages()}
    assert "Is this really your shipper?" in msgids
    assert "The number that is calling you" in msgids


def test_vietnamese_has_one_plural_form():
    assert "Plural-Forms: nplurals=1; plural=0;" in header()
    assert "Language: vi" in header()


def test_no_message_is_left_untranslated():
    untranslated = [
        f"line {entry.line}: {entry.msgid!r}"
        for entry in messages()
        if not entry.msgstr or any(not text.strip() for text in entry.msgstr.values())
    ]
    assert not untranslated, "untranslated in django.po:\n" + "\n".join(untranslated)


def test_no_translation_is_marked_fuzzy():
    fuzzy = [
        f"line {entry.line}: {entry.msgid!r}" for entry in read_po(PO) if "fuzzy" in entry.flags
    ]
    assert not fuzzy, "fuzzy in django.po (Django ignores these):\n" + "\n".join(fuzzy)


def test_plural_messages_have_exactly_the_one_vietnamese_form():
    plurals = [entry for entry in messages() if entry.msgid_plural is not None]
    assert plurals
    wrong = [entry.msgid for entry in plurals if set(entry.msgstr) != {0}]
    assert not wrong


def test_translations_keep_every_placeholder_of_their_message():
    placeholder = re.compile(r"%\(\w+\)[sdif]|%[sdif]|\{\w*\}")
    changed = [
        entry.msgid
        for entry in messages()
        if "python-format" in entry.flags or placeholder.search(entry.msgid)
        for text in entry.msgstr.values()
        if sorted(placeholder.findall(text))
        != sorted(placeholder.findall(entry.msgid_plural or entry.msgid))
    ]
    assert not changed


def compiled() -> dict:
    with open(MO, "rb") as mo:
        return gettext.GNUTranslations(mo)._catalog


def source() -> dict:
    """What compilemessages makes of django.po: the catalogue as gettext's reader keys it."""
    catalogue = {}
    for entry in messages():
        if "fuzzy" in entry.flags:
            continue
        key = f"{entry.msgctxt}\x04{entry.msgid}" if entry.msgctxt is not None else entry.msgid
        if entry.msgid_plural is None:
            catalogue[key] = entry.msgstr[0]
        else:
            catalogue.update({(key, index): text for index, text in entry.msgstr.items()})
    return catalogue


def test_the_compiled_catalogue_holds_what_its_source_says():
    assert MO.exists(), "run: manage.py compilemessages --ignore=.venv"
    catalogue = {key: text for key, text in compiled().items() if key != ""}
    assert catalogue == source(), "django.mo is not django.po compiled: run compilemessages"


def test_the_compiled_catalogue_is_not_older_than_its_source():
    assert MO.exists(), "run: manage.py compilemessages --ignore=.venv"
    if os.stat(MO).st_mtime >= os.stat(PO).st_mtime:
        return
    # A fresh git checkout writes both files in whatever order it likes; an older .mo is
    # only forgiven when it still says exactly what the .po says.
    catalogue = {key: text for key, text in compiled().items() if key != ""}
    assert catalogue == source(), (
        "django.po changed after django.mo was compiled: run manage.py compilemessages"
    )


@pytest.mark.parametrize(
    "msgid",
    [
        "Is this really your shipper?",
        "A real shipper never asks for an OTP, a transfer beyond the cash-on-delivery amount "
        "printed on the parcel, or a click on a link.",
    ],
)
def test_django_reads_the_compiled_vietnamese(msgid):
    expected = next(entry.msgstr[0] for entry in messages() if entry.msgid == msgid)
    with translation.override("vi"):
        assert translation.gettext(msgid) == expected != msgid
