"""What the OpenAPI schema needs beyond the views: the error shape. (The API key scheme is
described next to its authentication, registry.apikeys.)"""

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorSerializer = inline_serializer(
    "Error",
    {
        "error": inline_serializer(
            "ErrorBody",
            {
                "code": serializers.CharField(help_text="snake_case, stable: branch on it"),
                "message": serializers.CharField(help_text="for people; may be translated"),
                "details": serializers.DictField(required=False),
            },
        )
    },
)


def errors(*statuses: int) -> dict:
    described = {
        400: "Bad input (`invalid`, `invalid_number`, `malformed_body`, …)",
        401: "Missing or invalid API key (`missing_api_key`, `invalid_api_key`)",
        403: "The key may not do this (`carrier_key_required`)",
        404: "Not found (`not_found`); also any path the API does not know, such as a "
        "number or an employee code holding a slash",
        409: "Conflicts with the registry (`phone_in_use`)",
        413: "Body over 1 MB (`body_too_large`)",
        415: "Not JSON (`unsupported_media_type`)",
        429: "Rate limited (`rate_limited`); see the Retry-After header",
        503: "Temporarily unavailable (`service_unavailable`)",
    }
    return {
        status: OpenApiResponse(ErrorSerializer, description=described[status])
        for status in statuses
    }
