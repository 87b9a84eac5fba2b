"""Properties of phone normalisation (registry.phones.normalize), for any input at all.

Derandomized: CI tries the same inputs every run. No database, so the budgets are generous.
"""

import re

import phonenumbers
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from registry.phones import MAX_INPUT_LENGTH, REASONS, InvalidPhoneNumber, normalize

PROPERTIES = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=1500,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
E164 = re.compile(r"\+[1-9][0-9]{6,14}")

# What people type: digits in ASCII and full width, the plus signs, the separators.
PHONE_CHARACTERS = "0123456789０１２３４５６７８９+＋ .-()/\t"
any_text = st.one_of(
    st.text(),  # any Unicode text without surrogates, NUL included
    st.text(alphabet=PHONE_CHARACTERS, max_size=30),
    st.text(alphabet=PHONE_CHARACTERS + "abcxyz#*,;\x00", min_size=MAX_INPUT_LENGTH - 4),
    st.text(min_size=MAX_INPUT_LENGTH, max_size=20_000),
)

# Prefixes of Vietnamese mobile networks after the leading 0 (Viettel, Vinaphone, MobiFone,
# Vietnamobile, Gmobile, Itel) under which every seven digits make a valid number.
MOBILE_PREFIXES = [
    "32", "33", "34", "35", "36", "37", "38", "39", "56", "58", "59", "70", "76", "77", "78",
    "79", "81", "82", "83", "84", "85", "86", "87", "88", "90", "91", "93", "94", "96", "97",
    "98",
]  # fmt: skip
vietnamese_mobile = st.builds(
    lambda prefix, rest: prefix + rest,
    st.sampled_from(MOBILE_PREFIXES),
    st.text(alphabet="0123456789", min_size=7, max_size=7),
)
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _normalize_or_reason(raw: str) -> tuple[str, str]:
    try:
        return "e164", normalize(raw)
    except InvalidPhoneNumber as exc:
        return "reason", exc.reason


@PROPERTIES
@given(any_text)
@example("\x00")
@example("0912\x00345678")
@example("0" * 10_000)
@example("+84" + "9" * 61)
def test_any_text_gives_a_valid_e164_or_a_reason_and_nothing_else(raw):
    kind, value = _normalize_or_reason(raw)
    if kind == "reason":
        assert value in REASONS
        assert str(REASONS[value])
    else:
        assert E164.fullmatch(value), value
        assert phonenumbers.is_valid_number(phonenumbers.parse(value, None))


@PROPERTIES
@given(any_text)
@example("０９１２ ３４５ ６７８")
def test_normalising_a_normalised_number_changes_nothing(raw):
    kind, value = _normalize_or_reason(raw)
    if kind == "e164":
        assert normalize(value) == value


@st.composite
def written_forms(draw, national: str) -> str:
    """`national` (9 digits after the 0) as a person might write it: with or without the
    country code, grouped with spaces, dots or dashes, in full-width digits, padded."""
    digits = draw(st.sampled_from(["0", "84", "0084", "+84"])) + national
    start = 1 if digits.startswith("+") else 0
    text = digits[:start]
    for index, digit in enumerate(digits[start:]):
        if index:
            text += draw(st.sampled_from(["", "", "", " ", ".", "-"]))
        text += digit
    if draw(st.booleans()):
        text = text.translate(FULL_WIDTH)
    return draw(st.sampled_from(["", " ", "\t"])) + text + draw(st.sampled_from(["", " "]))


@settings(PROPERTIES, max_examples=300)  # ten formats each
@given(st.data(), vietnamese_mobile)
def test_every_written_form_of_a_vietnamese_mobile_gives_the_same_e164(data, national):
    e164 = "+84" + national
    forms = [
        "0" + national,
        "+84" + national,
        "84" + national,
        "0084" + national,
        f"0{national[:2]} {national[2:5]} {national[5:]}",
        f"+84 {national[:2]}.{national[2:5]}.{national[5:]}",
        f"0{national[:3]}-{national[3:6]}-{national[6:]}".translate(FULL_WIDTH),
    ]
    forms += [data.draw(written_forms(national)) for _ in range(3)]
    assert {form: normalize(form) for form in forms} == {form: e164 for form in forms}
