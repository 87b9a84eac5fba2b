"""Serializer fields the API modules share."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from registry import phones


class StrictCharField(serializers.CharField):
    """A CharField that takes JSON strings only. DRF's own turns `0` into `"0"`, while the
    schema promises `type: string`: a number where a name or a code belongs is the client's
    mistake, answered with a 400 rather than stored as text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field(
    {"type": "string", "maxLength": phones.MAX_INPUT_LENGTH, "example": "0912 345 678"}
)
class PhoneText(StrictCharField):
    """A phone number as typed, for a service that normalises it itself (and says why it is
    not a number). A text that can never be a number is refused here in the same terms, a
    400 `invalid_number`, rather than as a generic `invalid` text: 10,000 digits, or a NUL.
    What is not a string at all stays a plain `invalid`."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", phones.MAX_INPUT_LENGTH)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str) and len(data) > phones.MAX_INPUT_LENGTH:
            reason = "too_long"
        elif isinstance(data, str) and "\x00" in data:
            reason = "not_a_number"
        else:
            return super().to_internal_value(data)
        raise serializers.ValidationError(phones.REASONS[reason], code="invalid_number")


class BoundedListField(serializers.ListField):
    """A ListField that counts its items before it validates them. DRF's checks
    `max_length` only once every item passed its own validation: ten thousand phone numbers
    were each parsed before the 400 said there may be twenty."""

    def to_internal_value(self, data):
        if self.max_length is not None and isinstance(data, list) and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)
