"""Generic serializer fields the API modules share (the phone field is registry.phone_fields)."""

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A CharField that takes JSON strings only. DRF's own turns `0` into `"0"`, while the
    schema promises `type: string`: a number where a name or a code belongs is the client's
    mistake, answered with a 400 rather than stored as text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class BoundedListField(serializers.ListField):
    """A ListField that counts its items before it validates them. DRF's checks
    `max_length` only once every item passed its own validation: ten thousand phone numbers
    were each parsed before the 400 said there may be twenty."""

    def to_internal_value(self, data):
        if self.max_length is not None and isinstance(data, list) and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)
