"""The proofs a verification reads (a staff number's open parcels and announced calls) are
cached per number like its verdict: a number asked about again costs no query, and every
write that changes a proof shows on the very next verification, on any parcel."""

import datetime

import pytest
from django.utils import timezone

from registry import services as registry_services
from registry.pii import recipient_digest
from verification import selectors, services
from verification.services import Lookup, verify

RECIPIENT = "0901 000 999"


def check(number, tracking_code="VN123", recipient_phone=None):
    return verify(
        number,
        Lookup(tracking_code=tracking_code, recipient_phone=recipient_phone),
        with_details=True,
    )


def assign(staff, code="VN123", status="out_for_delivery", carrier=None):
    registry_services.assignment_upsert(
        carrier=carrier or staff.carrier,
        tracking_code=code,
        staff=staff,
        recipient_phone=RECIPIENT,
        status=status,
    )


def announce(staff, phone="0912345678"):
    services.call_intent_create(
        carrier=staff.carrier,
        employee_code=staff.employee_code,
        phone=phone,
        recipient_phone=RECIPIENT,
    )


@pytest.fixture
def other_staff(carrier_a):
    staff, _ = registry_services.staff_upsert(
        carrier=carrier_a,
        employee_code="A2",
        full_name="Lê Văn Cường",
        phone_numbers=["0977000111"],
    )
    return staff


@pytest.fixture
def writes(django_capture_on_commit_callbacks):
    """Writes whose cache drops run, as they do when a request's transaction commits."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_a_number_asked_about_again_costs_no_query_whatever_the_parcel(
    staff_a, django_assert_num_queries
):
    assign(staff_a)
    assert check("0912345678")["assignment"]["matches"] is True
    with django_assert_num_queries(0):
        assert check("0912345678", "VN999")["assignment"]["matches"] is False
        assert check("0912345678", "VN123")["assignment"]["matches"] is True


def test_a_parcel_assigned_after_a_no_shows_on_the_next_verification(staff_a, writes):
    assert check("0912345678")["assignment"]["matches"] is False
    with writes():
        assign(staff_a)
    assert check("0912345678")["assignment"] == {
        "tracking_code": "VN123",
        "matches": True,
        "carrier": "alpha-post",
    }


def test_a_reassigned_parcel_proves_nothing_for_its_former_shipper(staff_a, other_staff, writes):
    assign(staff_a)
    assert check("0912345678")["assignment"]["matches"] is True
    assert check("0977000111")["assignment"]["matches"] is False
    with writes():
        assign(other_staff)
    assert check("0912345678")["assignment"]["matches"] is False
    assert check("0977000111")["assignment"]["matches"] is True


@pytest.mark.parametrize("status", ["delivered", "failed", "cancelled"])
def test_a_closed_parcel_no_longer_matches_on_the_next_verification(staff_a, writes, status):
    assign(staff_a)
    assert check("0912345678")["assignment"]["matches"] is True
    with writes():
        assign(staff_a, status=status)
    assert check("0912345678")["assignment"]["matches"] is False


def test_a_number_moved_to_another_shipper_loses_the_former_shipper_s_parcels(
    staff_a, other_staff, writes
):
    assign(staff_a)
    assert check("0912345678")["assignment"]["matches"] is True
    with writes():
        registry_services.phone_revoke(phone=staff_a.phones.get(number="+84912345678"))
        registry_services.phone_add(staff=other_staff, number="0912345678")
    assert check("0912345678")["assignment"]["matches"] is False


def test_a_call_announced_after_a_no_shows_on_the_next_verification(staff_a, writes):
    assert check("0912345678", None, RECIPIENT)["calling_now"] is False
    with writes():
        announce(staff_a)
    assert check("0912345678", None, RECIPIENT)["calling_now"] is True


def test_a_cached_call_stops_counting_when_it_expires(staff_a):
    announce(staff_a)
    proofs = selectors.number_proofs("+84912345678")
    digest = recipient_digest("+84901000999")
    (_digest, expires_at, _proof), *_others = proofs.calls
    before, after = expires_at - datetime.timedelta(seconds=1), expires_at
    assert [p.kind for p in proofs.about(tracking_code="", digest=digest, now=before)] == ["call"]
    assert proofs.about(tracking_code="", digest=digest, now=after) == []
    assert proofs.about(tracking_code="", digest="another", now=before) == []


def test_cached_proofs_answer_what_the_one_parcel_query_answers(staff_a, carrier_b, shared_shipper):
    """A shipper at two carriers, a parcel code known to both, a call of each."""
    staff_b = carrier_b.staff.get(employee_code="B002")
    staff_a2 = staff_a.carrier.staff.get(employee_code="A002")
    for staff in (staff_a2, staff_b):
        assign(staff, "SAME1")
        announce(staff, phone=shared_shipper)
    assign(staff_b, "ONLYB")
    digest = recipient_digest("+84901000999")
    proofs = selectors.number_proofs(shared_shipper)
    now = timezone.now()
    for code in ["SAME1", "ONLYB", "NOPE", ""]:
        for asked_digest in [digest, "", "another"]:
            assert proofs.about(tracking_code=code, digest=asked_digest, now=now) == (
                selectors.parcel_and_call(shared_shipper, tracking_code=code, digest=asked_digest)
            ), (code, asked_digest)


def test_a_number_with_too_many_open_parcels_is_asked_parcel_by_parcel(
    staff_a, monkeypatch, django_assert_num_queries
):
    monkeypatch.setattr(selectors, "PROOFS_KEPT_AT_MOST", 2)
    for code in ["VN1", "VN2", "VN3"]:
        assign(staff_a, code)
    assert selectors.number_proofs("+84912345678").complete is False
    assert check("0912345678", "VN3")["assignment"]["matches"] is True
    # The verdict and the marker come from the cache; the parcel is asked of the database.
    with django_assert_num_queries(1):
        assert check("0912345678", "VN9")["assignment"]["matches"] is False


@pytest.mark.parametrize(
    ("body", "with_proofs"),
    [
        ({"number": "0912345678"}, False),
        ({"number": "0912345678", "tracking_code": "  "}, False),
        ({"number": "0912345678", "tracking_code": "VN123"}, True),
        ({"number": "0912345678", "recipient_phone": RECIPIENT}, True),
        ({"number": "not a number", "tracking_code": "VN123"}, None),
    ],
)
def test_only_a_question_about_a_parcel_or_a_call_fetches_the_proofs(body, with_proofs):
    keys = services.verification_keys(body)
    if with_proofs is None:
        assert keys == []
    else:
        assert ("proofs:+84912345678" in keys) is with_proofs
        assert "verdict:+84912345678" in keys


def test_a_miss_caches_the_verdict_and_the_proofs_in_one_write(staff_a, monkeypatch):
    from core import resilient_cache

    writes = []
    for name in ("set", "set_many"):
        real = getattr(resilient_cache, name)
        monkeypatch.setattr(
            resilient_cache,
            name,
            lambda *args, real=real, name=name: writes.append((name, args)) or real(*args),
        )

    def written():  # a write of nothing costs no round trip (set_many returns at once)
        return [(name, args) for name, args in writes if args[0]]

    assign(staff_a)
    assert check("0912345678")["assignment"]["matches"] is True
    [(name, (values, _timeout))] = written()
    assert name == "set_many"
    assert set(values) == {"verdict:+84912345678", "proofs:+84912345678"}
    assert check("0912345678", "VN9")["assignment"]["matches"] is False
    assert len(written()) == 1, "the second verification found both in the cache"


def test_a_refused_verification_still_caches_the_verdict_it_computed(
    staff_a, django_assert_num_queries
):
    from core.exceptions import ApplicationError

    with pytest.raises(ApplicationError):
        check("0912345678", recipient_phone="not a number")
    with django_assert_num_queries(1):  # the proofs only: the verdict was kept
        assert check("0912345678")["status"] == "verified"
