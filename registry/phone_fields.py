"""The phone number fields of forms and serializers: a number as typed, checked in the
terms of registry.phones."""

from django import forms
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.fields import StrictCharField

from . import phones


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


@extend_schema_field({"type": "string", "example": "0912 345 678"})
class PhoneField(serializers.Field):
    """A phone number in any common format, given back as E.164; an invalid one is a 400
    `invalid_number` whose message names it."""

    def to_internal_value(self, data):
        try:
            return phones.normalize(data)
        except phones.InvalidPhoneNumber as exc:
            raise serializers.ValidationError(
                f"{str(data)[:64]}: {exc.message}", code="invalid_number"
            ) from None

    def to_representation(self, value):
        return value


class PhoneFormField(forms.CharField):
    """A number typed in a form, cleaned to E.164; refused with the reason in words."""

    def clean(self, value):
        value = super().clean(value)
        if value in self.empty_values:
            return value
        try:
            return phones.normalize(value)
        except phones.InvalidPhoneNumber as exc:
            raise forms.ValidationError(exc.message, code=exc.reason) from None
