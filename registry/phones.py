"""The one place phone numbers are parsed, normalised and formatted.

Everything that accepts a number from outside (admin, import, API, web form) goes through
`normalize`, which returns E.164 or raises `InvalidPhoneNumber` with a reason code.
"""

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from django.utils.translation import gettext_lazy as _

DEFAULT_REGION = "VN"
MAX_INPUT_LENGTH = 64

REASONS = {
    "not_a_number": _("This is not a phone number."),
    "too_short": _("This phone number is too short."),
    "too_long": _("This phone number is too long."),
    "invalid_country_code": _("This country calling code does not exist."),
    "invalid_number": _("This is not a valid phone number."),
}

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


@dataclass
class InvalidPhoneNumber(ValueError):
    reason: str

    @property
    def message(self) -> str:
        return str(REASONS[self.reason])

    def __str__(self) -> str:
        return self.reason


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
    return _parse(text, region)


# The common case, a Vietnamese mobile written with +84, 84, 0084 or 0, spaces, dots or
# dashes, is recognised with the library's own pattern for VN mobiles, without the cost of a
# full parse (a 1000-item assignment batch parses 1000 recipients). Anything else is parsed.
_VN_MOBILE = re.compile(
    phonenumbers.PhoneMetadata.metadata_for_region("VN").mobile.national_number_pattern
)
_VN_WRITTEN = re.compile(r"(?:\+84|0084|84|0)(\d{9})")
_SEPARATORS = str.maketrans("", "", " .-")


@lru_cache(maxsize=8192)
def _parse(text: str, region: str) -> str:
    # Cached: a lookup parses the same number more than once, and the same numbers are
    # looked up again and again. Invalid input raises, and exceptions are not cached.
    if region == "VN":
        written = _VN_WRITTEN.fullmatch(text.translate(_SEPARATORS))
        if written and _VN_MOBILE.fullmatch(written.group(1)):
            return "+84" + written.group(1)
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
