"""The partner lookup API: one number at a time, never a list."""

import orjson
from django.http import HttpResponse, JsonResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from core.fields import StrictCharField
from core.openapi import errors
from core.ratelimit import client_ip
from registry import phones
from registry.api import CarrierAPIView
from registry.apikeys import ApiView, HasApiKey, KeyInfo
from registry.phone_fields import PhoneField, PhoneText

from . import receipts, selectors, services
from .models import ScamReport


class CarrierRef(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class VerdictStaffOut(serializers.Serializer):
    carrier = serializers.CharField(help_text="slug of the carrier")
    display_name = serializers.CharField(help_text="masked: `N. V. An`")
    employee_code = serializers.CharField()


class HotlineOut(serializers.Serializer):
    number = serializers.CharField(help_text="E.164")
    display = serializers.CharField(help_text="as people write it")


class ClaimedCarrierOut(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    matches = serializers.BooleanField(help_text="the number is this carrier's")
    hotlines = HotlineOut(many=True)


VERDICT_FIELDS = [
    "number",
    "status",
    "carriers",
    "staff",
    "report_count",
    "checked_at",
    "claimed_carrier",
]


VERIFICATION_FIELDS = [*VERDICT_FIELDS, "assignment", "calling_now", "receipt"]


class VerdictOut(serializers.Serializer):
    number = serializers.CharField(help_text="E.164")
    status = serializers.ChoiceField(choices=services.STATUSES)
    carriers = CarrierRef(many=True)
    staff = VerdictStaffOut(many=True, help_text="empty unless status is verified")
    report_count = serializers.IntegerField(help_text="distinct reporters")
    checked_at = serializers.DateTimeField()
    claimed_carrier = ClaimedCarrierOut(allow_null=True, help_text="null without claimed_carrier")


class AssignmentOut(serializers.Serializer):
    tracking_code = serializers.CharField()
    matches = serializers.BooleanField(
        help_text="the number is the staff assigned to this parcel by the parcel's carrier"
    )
    carrier = serializers.CharField(
        allow_null=True, help_text="slug of the carrier whose parcel matched; null if none"
    )


class VerificationOut(VerdictOut):
    assignment = AssignmentOut(allow_null=True, help_text="null without tracking_code")
    calling_now = serializers.BooleanField(
        allow_null=True, help_text="null without recipient_phone"
    )
    receipt = serializers.CharField(
        help_text="compact JWS (ES256); verify with /.well-known/jwks.json"
    )


class VerificationIn(serializers.Serializer):
    number = PhoneText(help_text="the calling number, any format")
    tracking_code = StrictCharField(max_length=64, required=False, allow_blank=True)
    recipient_phone = PhoneText(
        required=False, allow_blank=True, help_text="your own number; never stored"
    )
    claimed_carrier = StrictCharField(
        max_length=50,
        required=False,
        allow_blank=True,
        help_text="slug of the carrier the caller named",
    )


# The text fields of a verification and their longest accepted length, as VerificationIn
# declares them.
_VERIFICATION_TEXTS = {
    "number": phones.MAX_INPUT_LENGTH,
    "tracking_code": 64,
    "recipient_phone": phones.MAX_INPUT_LENGTH,
    "claimed_carrier": 50,
}


def _verification_input(data) -> dict:
    """VerificationIn's validated data. A usual body (an object of short ASCII strings, a
    number given) is read directly: the serializer's per-request copy of its fields cost
    0.2 ms, a tenth of a verification. Anything else goes through the serializer, which
    refuses it in its own words; tests/verification/test_lean_input.py proves both readings
    agree wherever the direct one answers."""
    fields = {}
    if type(data) is dict:
        for name, longest in _VERIFICATION_TEXTS.items():
            raw = data.get(name)
            if raw is None and name not in data:
                continue
            if type(raw) is not str or len(raw) > longest or not raw.isascii() or "\x00" in raw:
                break
            fields[name] = raw.strip()
        else:
            if fields.get("number"):
                return fields
    serializer = VerificationIn(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _origin(request) -> services.AlertSource:
    """The key that asked, or the address of a caller without one."""
    if isinstance(request.auth, KeyInfo):
        return services.AlertSource.key(request.auth.id, request.auth.prefix)
    return services.AlertSource.address(client_ip(request))


def _answer_json(payload: dict) -> HttpResponse:
    """An answer as JSON, encoded by orjson: the same bytes DRF's renderer writes (compact,
    UTF-8, datetimes in ISO 8601) for a tenth of its cost."""
    return HttpResponse(
        orjson.dumps(payload, option=orjson.OPT_UTC_Z), content_type="application/json"
    )


class PartnerAPIView(ApiView):
    """The lookup endpoints, the hottest of the API: JSON only, so nothing to negotiate."""

    permission_classes = [HasApiKey]

    def perform_content_negotiation(self, request, force=False):
        # DRF would parse Accept to choose among the renderers; these views have one.
        renderer = self.renderer_classes[0]()
        return renderer, renderer.media_type


class NumberView(PartnerAPIView):
    def prefetch_keys(self, request, number: str) -> list[str]:
        return services.verdict_keys(number)

    @extend_schema(
        operation_id="numbers_retrieve",
        summary="Who is this number?",
        parameters=[
            OpenApiParameter(
                "claimed_carrier", str, description="slug of the carrier the caller named"
            )
        ],
        responses={200: VerdictOut, **errors(400, 401, 404, 429, 503)},
    )
    def get(self, request, number: str):
        lookup = services.Lookup(
            claimed_carrier=request.query_params.get("claimed_carrier") or None
        )
        answer = services.verify(
            number,
            lookup,
            prefetched=request._request.prefetched.values,
            origin=_origin(request),
        )
        # The hot path of the product: a plain dict, not a serializer (VerdictOut documents it).
        return _answer_json({field: answer[field] for field in VERDICT_FIELDS})


class VerificationsView(PartnerAPIView):
    def prefetch_keys(self, request) -> list[str]:
        return services.verification_keys(request.data if isinstance(request.data, dict) else {})

    @extend_schema(
        operation_id="verifications_create",
        summary="Verify a call, with a parcel and your own number",
        request=VerificationIn,
        responses={200: VerificationOut, **errors(400, 401, 413, 415, 429, 503)},
    )
    def post(self, request):
        fields = _verification_input(request.data)
        lookup = services.Lookup(
            claimed_carrier=fields.get("claimed_carrier") or None,
            tracking_code=fields.get("tracking_code") or None,
            recipient_phone=fields.get("recipient_phone") or None,
        )
        answer = services.verify(
            fields["number"],
            lookup,
            with_details=True,
            prefetched=request._request.prefetched.values,
            origin=_origin(request),
        )
        answer["receipt"] = services.receipt_for(answer)
        return _answer_json({field: answer[field] for field in VERIFICATION_FIELDS})


class ChannelOut(serializers.Serializer):
    kind = serializers.CharField()
    value = serializers.CharField(help_text="E.164 for a hotline")
    label = serializers.CharField()
    display = serializers.CharField()


class CarrierOut(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    channels = ChannelOut(many=True)


class CarriersView(ApiView):
    authentication_classes = []

    @extend_schema(
        operation_id="carriers_list",
        summary="Carriers and their official channels",
        auth=[],
        responses={200: CarrierOut(many=True), **errors(429)},
    )
    def get(self, request):
        return Response(selectors.carrier_directory())


def jwks(request):
    """The public keys that verify receipts: the current one and the previous one."""
    return JsonResponse(
        {"keys": receipts.public_keys()}, headers={"Cache-Control": "public, max-age=300"}
    )


class ReportIn(serializers.Serializer):
    number = PhoneText(help_text="the number that called, any format")
    claimed_carrier = StrictCharField(
        max_length=50,
        required=False,
        allow_blank=True,
        default="",
        help_text="slug of the carrier the caller named",
    )
    channel = serializers.ChoiceField(choices=ScamReport.Channel.choices, default="call")
    description = StrictCharField(
        max_length=1000, required=False, allow_blank=True, default="", trim_whitespace=True
    )


class ReportOut(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    channel = serializers.CharField()
    claimed_carrier = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()


class ReportsView(ApiView):
    @extend_schema(
        operation_id="reports_create",
        summary="Report a number that pretended to be a shipper",
        description="A key is optional; without one the client is throttled per IP. Reports "
        "count per distinct reporter: repeating a report does not add to the count.",
        request=ReportIn,
        auth=[{"ApiKey": []}, {}],
        responses={201: ReportOut, **errors(400, 401, 413, 415, 429)},
    )
    def post(self, request):
        data = ReportIn(data=request.data)
        data.is_valid(raise_exception=True)
        if isinstance(request.auth, KeyInfo):
            reporter_kind, reporter_id = "key", request.auth.id
        else:
            reporter_kind, reporter_id = "ip", client_ip(request)
        report = services.report_receive(
            reporter_kind=reporter_kind,
            reporter_id=reporter_id,
            origin=_origin(request),
            **data.validated_data,
        )
        out = {
            "id": report.pk,
            "number": report.number,
            "channel": report.channel,
            "claimed_carrier": report.claimed_carrier.slug if report.claimed_carrier else None,
            "created_at": report.created_at,
        }
        return Response(ReportOut(out).data, status=201)


class CallIntentIn(serializers.Serializer):
    employee_code = StrictCharField(max_length=64)
    phone = PhoneField(help_text="The staff phone that is calling")
    recipient_phone = PhoneField(help_text="Stored only as a keyed digest")
    tracking_code = StrictCharField(max_length=64, required=False, allow_blank=True, default="")


class CallIntentOut(serializers.Serializer):
    employee_code = serializers.CharField()
    phone = serializers.CharField()
    expires_at = serializers.DateTimeField()


class CallIntentsView(CarrierAPIView):
    @extend_schema(
        operation_id="carrier_call_intents_create",
        summary="Announce that a staff phone is calling a recipient now",
        description="Makes `calling_now` true for that recipient for 15 minutes. The phone must "
        "be an active phone of an active staff member of the key's carrier (400 "
        "`phone_not_registered` otherwise).",
        request=CallIntentIn,
        responses={201: CallIntentOut, **errors(400, 401, 403, 413, 415, 429)},
    )
    def post(self, request):
        data = CallIntentIn(data=request.data)
        data.is_valid(raise_exception=True)
        intent = services.call_intent_create(carrier=self.carrier, **data.validated_data)
        out = {
            "employee_code": intent.staff.employee_code,
            "phone": intent.phone,
            "expires_at": intent.expires_at,
        }
        return Response(CallIntentOut(out).data, status=status.HTTP_201_CREATED)
