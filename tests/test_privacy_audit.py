"""The privacy audit: a recipient's number goes through every path that takes one (carrier
API, call intent, partner verification, the web lookup, a scam report, the admin), then the
whole database, the sessions, the cache, every log line at DEBUG (SQL included) and what the
logging config writes to its streams are searched for that number, in every way people write
it. It must be nowhere: only its keyed digest may be.
"""

import base64
import io
import json
import logging
import pickle
import re
import unicodedata
from urllib.parse import unquote_plus

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.db import connection

from registry.models import DeliveryAssignment
from registry.pii import recipient_digest
from tests.api_client import call, make_key
from verification.models import CallIntent, ScamWarning

RECIPIENT = "+84901234567"  # 0901 234 567
# Every way the number was typed in the flow below, and more that people write.
WRITTEN = [
    "0901234567",
    "901234567",
    "+84901234567",
    "84901234567",
    "0084901234567",
    "0901 234 567",
    "090 123 4567",
    "+84 901 234 567",
    "0901.234.567",
    "0901-234-567",
    "(+84) 901-234-567",
    "０９０１ ２３４ ５６７",
]
# The national significant number with anything a person puts between digits (spaces, dots,
# dashes, brackets, a plus, a slash, an underscore): catches every form above and others.
_SEPARATOR = r"[\s.\-()+/_]{0,3}"
PATTERN = re.compile(_SEPARATOR.join("901234567"))


def occurrences(text: str) -> list[str]:
    """Each place `text` holds the recipient's number, with a little context. Full-width
    digits count as digits (NFKC), and URL-encoded text is read decoded too."""
    found = []
    for haystack in {text, unquote_plus(text)}:
        normal = unicodedata.normalize("NFKC", haystack)
        for match in PATTERN.finditer(normal):
            found.append(normal[max(0, match.start() - 40) : match.end() + 40])
    return found


class Audit:
    """Everything the system kept or said while the flow ran."""

    def __init__(self, caplog, capsys, streams: list[io.StringIO]):
        self.caplog, self.capsys, self.streams = caplog, capsys, streams
        self.responses: list[str] = []

    def record(self, response):
        self.responses.append(
            f"{response.status_code} {dict(response.items())} {response.content.decode()}"
        )
        return response

    def database(self) -> dict[str, str]:
        """Every row of every table, all columns, as text: {"database: <table>": rows}."""
        tables = {}
        with connection.cursor() as cursor:
            for table in connection.introspection.table_names():
                cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
                rows = [str(tuple(_text(value) for value in row)) for row in cursor.fetchall()]
                tables[f"database: {table}"] = "\n".join(rows)
        return tables

    def sessions(self) -> str:
        return "\n".join(str(session.get_decoded()) for session in Session.objects.all())

    def cache(self) -> str:
        return "\n".join(f"{key!r}: {value!r}" for key, value in _cache_entries())

    def logs(self) -> str:
        return "\n".join(str(vars(record)) for record in self.caplog.records)

    def output(self) -> str:
        captured = self.capsys.readouterr()
        return "\n".join([captured.out, captured.err, *(s.getvalue() for s in self.streams)])

    def leaks(self) -> dict[str, list[str]]:
        sources = {
            **self.database(),
            "sessions": self.sessions(),
            "cache": self.cache(),
            "log records": self.logs(),
            "stdout/stderr and log streams": self.output(),
            "responses": "\n".join(self.responses),
        }
        return {name: found for name, text in sources.items() if (found := occurrences(text))}


def _text(value) -> str:
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _cache_entries():
    """(key, value) of every entry of our cache: the local-memory store, or our prefix of
    the Redis database."""
    backend = cache._cache
    if isinstance(backend, dict):  # LocMemCache keeps its pickled entries in a dict
        for key, value in list(backend.items()):
            yield key, _unpickle(value)
        return
    client = backend.get_client(None)
    for key in client.scan_iter(match=f"{settings.CACHE_KEY_PREFIX}:*"):
        value = client.get(key) if client.type(key) == b"string" else client.type(key)
        yield key, _unpickle(value)


def _unpickle(value):
    if isinstance(value, bytes):
        try:
            return pickle.loads(value)  # noqa: S301  our own cache entries
        except Exception:  # noqa: BLE001  an integer counter, stored as plain digits
            return value
    return value


@pytest.fixture
def audit(caplog, capsys):
    """Every logger at DEBUG into caplog (even those that do not propagate), SQL statements
    logged with their parameters, and each stream handler of the logging config writing
    into a buffer of its own."""
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    caplog.set_level(logging.DEBUG)
    swapped, attached = [], []
    for logger in loggers:
        if logger.name != "root":
            caplog.set_level(logging.DEBUG, logger=logger.name)
        if not logger.propagate:
            logger.addHandler(caplog.handler)
            attached.append(logger)
        for handler in logger.handlers:
            # The handlers of the logging config have a name; pytest's own have none.
            if isinstance(handler, logging.StreamHandler) and handler.get_name():
                buffer = io.StringIO()
                swapped.append((handler, handler.setStream(buffer), buffer))
    debug_cursor, connection.force_debug_cursor = connection.force_debug_cursor, True
    try:
        yield Audit(caplog, capsys, [buffer for _handler, _old, buffer in swapped])
    finally:
        connection.force_debug_cursor = debug_cursor
        for handler, old, _buffer in swapped:
            handler.setStream(old)
        for logger in attached:
            logger.removeHandler(caplog.handler)


def receipt_payload(token: str) -> str:
    payload = token.split(".")[1]
    return base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()


ASSIGNMENTS_URL = "/api/v1/carrier/assignments/"


def run_the_flow(client, audit, staff_a, alice, committing) -> dict:
    """The recipient's number through every path that takes one. Returns what the flow
    answered, so the test can check the number was really used."""
    key_a = make_key(staff_a.carrier, "alpha-dispatch")
    partner = make_key(None, "partner-app")
    seen = {}
    with committing(execute=True):
        body = {
            "assignments": [
                {
                    "tracking_code": "TRK-P-1",
                    "employee_code": "A001",
                    "recipient_phone": "0901 234 567",
                },
                {
                    "tracking_code": "TRK-P-2",
                    "employee_code": "A001",
                    "recipient_phone": "+84 901 234 567",
                },
            ]
        }
        seen["assignments"] = audit.record(
            call(client, "POST", ASSIGNMENTS_URL, key_a, body)
        ).json()
    with committing(execute=True):
        intent = {
            "employee_code": "A001",
            "phone": "0912 345 678",
            "recipient_phone": "0084 901 234 567",
            "tracking_code": "TRK-P-1",
        }
        seen["intent"] = audit.record(
            call(client, "POST", "/api/v1/carrier/call-intents/", key_a, intent)
        )
    with committing(execute=True):
        asked = {
            "number": "0912345678",
            "tracking_code": "TRK-P-1",
            "recipient_phone": "84901234567",
        }
        seen["verification"] = audit.record(
            call(client, "POST", "/api/v1/verifications/", partner, asked)
        ).json()
    with committing(execute=True):
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        form = {
            "number": "0912 345 678",
            "tracking_code": "TRK-P-1",
            "recipient_phone": "090 123 4567",
        }
        seen["page"] = audit.record(client.post("/", form)).content.decode()
    with committing(execute=True):
        # A recipient who writes their own number in the description despite the advice.
        report = {
            "number": "0966 777 888",
            "channel": "call",
            "description": "Asked for an OTP, call me on 0901.234.567",
        }
        seen["web report"] = audit.record(
            client.post("/report/", report, REMOTE_ADDR="198.51.100.9")
        )
        seen["api report"] = audit.record(call(client, "POST", "/api/v1/reports/", partner, report))
    with committing(execute=True):
        client.force_login(alice)
        added = {
            "tracking_code": "TRK-P-3",
            "staff": str(staff_a.pk),
            "status": "pending",
            "recipient_phone": "0901.234.567",
            **{f"window_{end}_{part}": "" for end in ("start", "end") for part in (0, 1)},
        }
        seen["admin"] = audit.record(client.post("/admin/registry/deliveryassignment/add/", added))
    return seen


def test_the_audit_recognises_the_number_however_it_is_written():
    for written in WRITTEN:
        assert occurrences(f"stored: {written};"), written
    assert occurrences("/lookup?phone=0901+234+567")
    assert occurrences("0901%20234%20567")
    for other in ["0901 234 568", "+84912345678", recipient_digest(RECIPIENT), "2024-09-01 12:34"]:
        assert not occurrences(other), other


def test_the_audit_finds_a_number_left_in_a_table_the_cache_a_log_or_a_stream(client, audit, db):
    # A report's description is scrubbed now (test_reports), a warning's text is not.
    ScamWarning.objects.create(
        title_vi="x", title_en="x", body_vi="gọi lại 090 123 4567", body_en="call 090 123 4567"
    )
    logging.getLogger("registry.services").debug("recipient %s", "0901-234-567")
    logging.getLogger("django.request").info("GET /?phone=0901234567")
    cache.set("planted", {"phone": "+84 901 234 567"})

    leaks = audit.leaks()

    assert set(leaks) == {
        "database: verification_scamwarning",
        "cache",
        "log records",
        "stdout/stderr and log streams",
    }


def test_no_trace_of_a_recipient_number_anywhere(
    client, audit, staff_a, alice, django_capture_on_commit_callbacks
):
    seen = run_the_flow(client, audit, staff_a, alice, django_capture_on_commit_callbacks)

    # The number was really used, and every path took it.
    digest = recipient_digest(RECIPIENT)
    assert seen["assignments"] == {"created": 2, "updated": 0, "errors": []}
    assert seen["intent"].status_code == 201
    assert seen["verification"]["calling_now"] is True
    assert seen["verification"]["assignment"]["matches"] is True
    assert "The carrier confirms this staff member is calling you right now." in seen["page"]
    assert seen["web report"].status_code == 200 and seen["api report"].status_code == 201
    assert seen["admin"].status_code == 302
    assert set(
        DeliveryAssignment.objects.filter(tracking_code__startswith="TRK-P-").values_list(
            "recipient_digest", flat=True
        )
    ) == {digest}
    assert CallIntent.objects.get().recipient_digest == digest

    # ...and it is nowhere: not in a table, a session, the cache, a log line or a stream.
    assert audit.leaks() == {}
    # Nor in the receipt, which anyone the recipient shows it to can read.
    claims = json.loads(receipt_payload(seen["verification"]["receipt"]))
    assert claims["level"] == "A"
    assert not occurrences(json.dumps(claims, ensure_ascii=False))
    assert not occurrences(seen["verification"]["receipt"])
