import pytest

from registry import phones
from registry.phones import CONVERSION_2018, InvalidPhoneNumber, conversion, display, normalize

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
    ("abc", "letters"),
    # Letters are never read as keypad digits (the library would make this +84912666661).
    ("0912 ooo oo1", "letters"),
    ("0912 345 67O", "letters"),
    ("1900-SHIP", "letters"),
    ("+84 912 345 678 ext 1", "letters"),
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


# DESIGN.md, "Verdict": the 2018 conversion of 11-digit mobile numbers, in full.
TABLE_2018 = {
    "0162": "032", "0163": "033", "0164": "034", "0165": "035", "0166": "036", "0167": "037",
    "0168": "038", "0169": "039",
    "0120": "070", "0121": "079", "0122": "077", "0126": "076", "0128": "078",
    "0123": "083", "0124": "084", "0125": "085", "0127": "081", "0129": "082",
    "0186": "056", "0188": "058",
    "0199": "059",
}  # fmt: skip


def test_the_module_holds_the_whole_2018_table_and_nothing_else():
    assert {"0" + old: "0" + new for old, new in CONVERSION_2018.items()} == TABLE_2018


@pytest.mark.parametrize(("old", "new"), TABLE_2018.items())
def test_a_pre_2018_mobile_reads_as_the_number_it_became(old, new):
    e164 = "+84" + new[1:] + "1234567"
    written = [
        f"{old} 123 4567",
        f"{old}1234567",
        f"{old}.123.4567",
        f"+84 {old[1:]} 123 4567",
        f"84{old[1:]}1234567",
        f"0084{old[1:]}1234567",
        f"{old}1234567".translate(str.maketrans("0123456789", "０１２３４５６７８９")),
    ]
    assert {form: normalize(form) for form in written} == {form: e164 for form in written}
    assert conversion(f"{old} 123 4567") == (old, new)


def test_the_example_of_the_design():
    assert normalize("0168 123 4567") == "+84381234567"
    assert conversion("0168 123 4567").old_prefix == "0168"
    assert conversion("0168 123 4567").new_prefix == "038"


@pytest.mark.parametrize(
    "raw", ["0381234567", "0912 345 678", "024 3974 1234", "01991234567999", "abc", "", 12]
)
def test_a_number_that_was_not_converted_says_so(raw):
    assert conversion(raw) is None


@pytest.mark.parametrize("raw", ["0161 123 4567", "0130 123 4567", "0187 123 4567", "0198 1234567"])
def test_an_11_digit_number_outside_the_table_stays_invalid(raw):
    with pytest.raises(InvalidPhoneNumber):
        normalize(raw)
    assert conversion(raw) is None
