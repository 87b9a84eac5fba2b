"""A verification body read directly (verification.api._verification_input) must mean what
VerificationIn says it means: where the direct reading answers, it answers what the
serializer would, and whatever the serializer refuses it leaves to the serializer."""

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError

from verification.api import VerificationIn, _verification_input

FIELDS = ["number", "tracking_code", "recipient_phone", "claimed_carrier"]
texts = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=" \t\n0123456789+-.()abcxyzBN", max_size=70),
    st.from_regex(r"\s*0\d{9}\s*", fullmatch=True),
)
values = st.one_of(texts, st.none(), st.integers(), st.booleans(), st.lists(st.integers()))
bodies = st.one_of(
    st.dictionaries(st.sampled_from([*FIELDS, "extra"]), values, max_size=5),
    st.lists(texts, max_size=2),
    texts,
)


def serializer_reading(data):
    serializer = VerificationIn(data=data)
    if not serializer.is_valid():
        return ValidationError
    return dict(serializer.validated_data)


def direct_reading(data):
    try:
        return dict(_verification_input(data))
    except ValidationError:
        return ValidationError


@settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=600,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(bodies)
@example({"number": " 0912 345 678 ", "tracking_code": " BN1 ", "recipient_phone": ""})
@example({"number": "   "})
@example({"number": "0912345678", "tracking_code": "x" * 65})
@example({"number": "0912345678", "claimed_carrier": None})
@example({"number": "0912\x00345678"})
@example({"number": "０９１２３４５６７８"})
@example({"number": 912345678})
@example({"tracking_code": "BN1"})
def test_the_direct_reading_agrees_with_the_serializer(data):
    assert direct_reading(data) == serializer_reading(data)


@pytest.mark.parametrize(
    "body",
    [
        {"number": "0912 345 678", "tracking_code": "BN1", "recipient_phone": "0901 234 567"},
        {"number": "+84912345678", "claimed_carrier": "ghn", "extra": 1},
    ],
)
def test_a_usual_body_is_read_without_the_serializer(body, monkeypatch):
    # The point of the direct reading: the usual body never builds a serializer.
    monkeypatch.setattr(
        VerificationIn, "__init__", lambda *args, **kwargs: pytest.fail("serializer built")
    )
    assert _verification_input(body)["number"] == body["number"]
