import pytest

from registry import phones
from registry.phones import InvalidPhoneNumber, display, normalize

ACCEPTED = [
    ("0912345678", "+84912345678"),
    ("0912 345 678", "+84912345678"),
    ("091.234.5678", "+84912345678"),
    ("091-234-5678", "+84912345678"),
    ("(091) 234 5678", "+84912345678"),
    ("+84912345678", "+84912345678"),
    ("+84 912 345 678", "+84912345678"),
    ("(+84) 912-345-678", "+84912345678"),
    ("+84 (0) 912 345 678", "+84912345678"),
    ("84912345678", "+84912345678"),
    ("0084912345678", "+84912345678"),
    ("00 84 912 345 678", "+84912345678"),
    ("０９１２３４５６７８", "+84912345678"),
    ("＋８４ ９１２ ３４５ ６７８", "+84912345678"),
    ("  0912345678  ", "+84912345678"),
    ("024 3974 1234", "+842439741234"),
    ("(024) 3974-1234", "+842439741234"),
    ("84 24 3974 1234", "+842439741234"),
    ("1900 1234", "+8419001234"),
    ("1900545436", "+841900545436"),
    ("1800 1234", "+8418001234"),
    ("+44 20 7946 0958", "+442079460958"),
    ("+1 650 253 0000", "+16502530000"),
]

REJECTED = [
    ("", "not_a_number"),
    ("   ", "not_a_number"),
    ("abc", "not_a_number"),
    ("+", "not_a_number"),
    ("12", "too_short"),
    ("+84 1", "too_short"),
    ("0912345678999999", "too_long"),
    ("0" * 65, "too_long"),
    ("+999 123 456", "invalid_country_code"),
    ("0123456789", "invalid_number"),
    ("0912 34567", "invalid_number"),
]


@pytest.mark.parametrize(("raw", "e164"), ACCEPTED)
def test_it_normalizes_common_formats_to_e164(raw, e164):
    assert normalize(raw) == e164


@pytest.mark.parametrize(("raw", "reason"), REJECTED)
def test_it_rejects_with_a_reason_code(raw, reason):
    with pytest.raises(InvalidPhoneNumber) as caught:
        normalize(raw)
    assert caught.value.reason == reason
    assert caught.value.message


def test_it_rejects_non_strings():
    with pytest.raises(InvalidPhoneNumber) as caught:
        normalize(912345678)
    assert caught.value.reason == "not_a_number"


def test_it_rejects_long_input_before_parsing_even_if_it_holds_a_number():
    with pytest.raises(InvalidPhoneNumber) as caught:
        normalize("0912345678" + " " * 60)
    assert caught.value.reason == "too_long"


def test_normalizing_is_idempotent():
    for raw, e164 in ACCEPTED:
        assert normalize(normalize(raw)) == e164


def test_it_displays_vietnamese_numbers_in_national_format():
    assert display("+84912345678") == "0912 345 678"
    assert display("+842439741234") == "024 3974 1234"
    assert display("+442079460958") == "+44 20 7946 0958"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("0912345678", "*******678"),
        ("gọi 0912 345 678 nhé", "gọi **** *** 678 nhé"),
        ("+84-912-345-678", "+**-***-***-678"),
        ("(024) 3825 1234", "(***) **** *234"),
        ("０９１２３４５６７８", "*******６７８"),  # full-width digits are digits too
        ("phí 30.000đ ngày 01/12/2026, mã 12345678", "phí 30.000đ ngày 01/12/2026, mã 12345678"),
    ],
)
def test_numbers_in_free_text_keep_only_their_last_three_digits(text, masked):
    assert phones.mask_numbers_in_text(text) == masked
