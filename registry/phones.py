"""The one place phone numbers are parsed, normalised and formatted.

Everything that accepts a number from outside (admin, import, API, web form) goes through
`normalize`, which returns E.164 or raises `InvalidPhoneNumber` with a reason code.

Numbers are read as people write them: a pre-2018 11-digit mobile (`0168 123 4567`, still in
many contact lists) is the 10-digit number it became in the 2018 conversion, and letters are
never digits (the library would read `0912 ooo oo1` on a phone keypad as 0912 666 661).
"""

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

import phonenumbers
from django.utils.translation import gettext_lazy as _

from core.exceptions import ApplicationError

DEFAULT_REGION = "VN"
MAX_INPUT_LENGTH = 64

REASONS = {
    "not_a_number": _("This is not a phone number."),
    "too_short": _("This phone number is too short."),
    "too_long": _("This phone number is too long."),
    "invalid_country_code": _("This country calling code does not exist."),
    "invalid_number": _("This is not a valid phone number."),
    "letters": _("A phone number has only digits: letters are not read as digits."),
}

# The 2018 conversion of 11-digit mobile numbers (Ministry of Information and
# Communications, Circular 22/2014, carried out from 15 September 2018): the old prefix after
# the leading 0, and the new one.
CONVERSION_2018 = {
    "162": "32", "163": "33", "164": "34", "165": "35", "166": "36", "167": "37",
    "168": "38", "169": "39",
    "120": "70", "121": "79", "122": "77", "126": "76", "128": "78",
    "123": "83", "124": "84", "125": "85", "127": "81", "129": "82",
    "186": "56", "188": "58",
    "199": "59",
}  # fmt: skip

_PARSE_ERRORS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "invalid_country_code",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "not_a_number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too_short",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too_short",
    phonenumbers.NumberParseException.TOO_LONG: "too_long",
}

_POSSIBILITY_ERRORS = {
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "invalid_country_code",
    phonenumbers.ValidationResult.TOO_SHORT: "too_short",
    phonenumbers.ValidationResult.TOO_LONG: "too_long",
}


class InvalidPhoneNumber(ApplicationError, ValueError):
    """Not a phone number, and why: `reason` is one of REASONS. With `field`, the message
    names the field it came in ("recipient_phone: …")."""

    def __init__(self, reason: str, field: str | None = None):
        message, details = REASONS[reason], {"reason": reason}
        if field is not None:
            message, details = f"{field}: {message}", {"field": field, **details}
        super().__init__("invalid_number", message, details)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


def normalize_field(raw: object, field: str) -> str:
    """normalize(raw), refused in terms that name the field the number came in."""
    try:
        return normalize(raw)
    except InvalidPhoneNumber as exc:
        raise InvalidPhoneNumber(exc.reason, field) from None


def normalize(raw: object, region: str = DEFAULT_REGION) -> str:
    """E.164 form of `raw`: `0912 345 678`, `+84 912…`, `84912…`, `0084…`, full-width digits,
    dots, dashes and parentheses all give `+84912345678`."""
    if not isinstance(raw, str):
        raise InvalidPhoneNumber("not_a_number")
    if len(raw) > MAX_INPUT_LENGTH:
        # Checked before parsing: the parser's cost grows with its input.
        raise InvalidPhoneNumber("too_long")
    text = raw.strip()
    if not text:
        raise InvalidPhoneNumber("not_a_number")
    if any(character.isalpha() for character in text):
        raise InvalidPhoneNumber("letters")
    return _parse(text, region)


class Conversion(NamedTuple):
    """A pre-2018 number and the one it became, as prefixes a person recognises."""

    old_prefix: str  # "0168"
    new_prefix: str  # "038"


def conversion(raw: object) -> Conversion | None:
    """The 2018 conversion `normalize` applied to `raw`, if any, so a page can say
    "0168… is now 038…"."""
    if not isinstance(raw, str) or len(raw) > MAX_INPUT_LENGTH:
        return None
    old = _OLD_MOBILE.fullmatch(_compact(raw.strip()))
    if old is None or old.group(1) not in CONVERSION_2018:
        return None
    return Conversion(old_prefix="0" + old.group(1), new_prefix="0" + CONVERSION_2018[old.group(1)])


# The common case, a Vietnamese mobile written with +84, 84, 0084 or 0, spaces, dots or
# dashes, is recognised with the library's own pattern for VN mobiles, without the cost of a
# full parse (a 1000-item assignment batch parses 1000 recipients). Anything else is parsed.
_VN_MOBILE = re.compile(
    phonenumbers.PhoneMetadata.metadata_for_region("VN").mobile.national_number_pattern
)
_VN_WRITTEN = re.compile(r"(?:\+84|0084|84|0)(\d{9})")
_SEPARATORS = str.maketrans("", "", " .-")
_OLD_MOBILE = re.compile(r"(?:\+84|0084|84|0)(1[0-9][0-9])([0-9]{7})")


def _compact(text: str) -> str:
    """Full-width digits and plus as ASCII, without the separators people put in."""
    return unicodedata.normalize("NFKC", text).translate(_SEPARATORS)


@lru_cache(maxsize=8192)
def _parse(text: str, region: str) -> str:
    # Cached: a lookup parses the same number more than once, and the same numbers are
    # looked up again and again. Invalid input raises, and exceptions are not cached.
    if region == "VN":
        compact = text.translate(_SEPARATORS)
        written = _VN_WRITTEN.fullmatch(compact)
        if written and _VN_MOBILE.fullmatch(written.group(1)):
            return "+84" + written.group(1)
        old = _OLD_MOBILE.fullmatch(_compact(text))
        if old and old.group(1) in CONVERSION_2018:
            return "+84" + CONVERSION_2018[old.group(1)] + old.group(2)
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(_PARSE_ERRORS.get(exc.error_type, "not_a_number")) from None
    possibility = phonenumbers.is_possible_number_with_reason(parsed)
    if possibility in _POSSIBILITY_ERRORS:
        raise InvalidPhoneNumber(_POSSIBILITY_ERRORS[possibility])
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber("invalid_number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def display(e164: str) -> str:
    """How a person in Vietnam writes the number: national format for Vietnamese numbers,
    international for the rest."""
    parsed = phonenumbers.parse(e164, None)
    if phonenumbers.region_code_for_number(parsed) == DEFAULT_REGION:
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


# Nine digits or more, single separators between them: every Vietnamese mobile and landline
# in any usual writing, and not the amounts, dates and short codes a scam report also holds.
_NUMBER_IN_TEXT = re.compile(r"\+?\d(?:[\s.\-()]{0,2}\d){8,}")
VISIBLE_DIGITS = 3


def mask_numbers_in_text(text: str) -> str:
    """Free text (a scam report's description) with every phone number in it masked but its
    last three digits: `0912 345 678` → `**** *** 678`. Written by a recipient, it may hold
    their own number or a neighbour's, which the registry must not keep."""

    def mask(match: re.Match) -> str:
        run = match.group()
        hidden = sum(char.isdigit() for char in run) - VISIBLE_DIGITS
        masked = []
        for char in run:
            if char.isdigit() and hidden > 0:
                char, hidden = "*", hidden - 1
            masked.append(char)
        return "".join(masked)

    return _NUMBER_IN_TEXT.sub(mask, text)
