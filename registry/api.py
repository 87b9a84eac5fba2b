"""The carrier API: carriers' dispatch systems and shipper apps write staff, assignments and
call intents. Every view acts inside the carrier its key is bound to."""

import re
import unicodedata

from django.http import HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import exceptions, renderers, serializers, status
from rest_framework.response import Response

from core.fields import BoundedListField, StrictCharField
from core.openapi import errors

from . import labels, selectors, services
from .apikeys import ApiView, HasCarrierKey
from .models import Carrier, DeliveryAssignment, StaffMember
from .phone_fields import PhoneField


class CarrierAPIView(ApiView):
    permission_classes = [HasCarrierKey]

    @property
    def carrier(self) -> Carrier:
        if not hasattr(self, "_carrier"):
            self._carrier = Carrier.objects.get(pk=self.request.auth.carrier_id)
        return self._carrier


class StaffIn(serializers.Serializer):
    full_name = StrictCharField(max_length=200)
    phones = BoundedListField(child=PhoneField(), max_length=20)
    status = serializers.ChoiceField(choices=StaffMember.Status.choices)
    region = StrictCharField(max_length=100, required=False, allow_blank=True, default="")


class StaffPhoneOut(serializers.Serializer):
    number = serializers.CharField()
    status = serializers.CharField()


class StaffOut(serializers.Serializer):
    employee_code = serializers.CharField()
    full_name = serializers.CharField()
    status = serializers.CharField()
    region = serializers.CharField()
    phones = StaffPhoneOut(many=True)


def _staff_out(staff: StaffMember) -> dict:
    return StaffOut(
        {
            "employee_code": staff.employee_code,
            "full_name": staff.full_name,
            "status": staff.status,
            "region": staff.region,
            "phones": staff.phones.order_by("status", "number"),
        }
    ).data


def _path_code(raw: str) -> str:
    """The employee code of the path, read as a field of the body is: trimmed (`A001 ` is
    A001, as for call intents and in the admin; `%20` was a staff member coded " "), not
    blank, at most 64 characters and no NUL, which PostgreSQL text cannot hold (it reached
    the query: a 500)."""
    try:
        return StrictCharField(max_length=64).run_validation(raw)
    except serializers.ValidationError as exc:
        raise serializers.ValidationError({"employee_code": exc.detail}) from None


class StaffView(CarrierAPIView):
    @extend_schema(
        operation_id="carrier_staff_put",
        summary="Create or replace a staff member",
        description="The `phones` list is the whole truth: numbers left out are revoked. One "
        "invalid phone rejects the whole request (400 `invalid_number`) and saves nothing.",
        request=StaffIn,
        responses={
            201: StaffOut,
            200: StaffOut,
            **errors(400, 401, 403, 404, 409, 413, 415, 429),
        },
    )
    def put(self, request, employee_code: str):
        employee_code = _path_code(employee_code)
        data = StaffIn(data=request.data)
        data.is_valid(raise_exception=True)
        staff, created = services.staff_upsert(
            carrier=self.carrier,
            employee_code=employee_code,
            full_name=data.validated_data["full_name"],
            status=data.validated_data["status"],
            region=data.validated_data["region"],
            phone_numbers=data.validated_data["phones"],
        )
        return Response(
            _staff_out(staff), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    @extend_schema(
        operation_id="carrier_staff_delete",
        summary="Terminate a staff member",
        description="Their numbers answer `revoked` from the next lookup on. History is kept.",
        responses={204: OpenApiResponse(description="Terminated"), **errors(401, 403, 404, 429)},
    )
    def delete(self, request, employee_code: str):
        try:
            employee_code = _path_code(employee_code)
        except serializers.ValidationError:
            staff = None  # no staff member can hold such a code
        else:
            staff = selectors.staff_get(carrier=self.carrier, employee_code=employee_code)
        if staff is None:
            raise exceptions.NotFound(_("No staff member with this employee code."))
        services.staff_revoke(staff=staff)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AssignmentIn(serializers.Serializer):
    tracking_code = StrictCharField(max_length=64)
    employee_code = StrictCharField(max_length=64)
    recipient_phone = StrictCharField(required=False, help_text="Stored only as a keyed digest")
    window_start = serializers.DateTimeField(required=False)
    window_end = serializers.DateTimeField(required=False)
    status = serializers.ChoiceField(choices=DeliveryAssignment.Status.choices, required=False)


class AssignmentBatchIn(serializers.Serializer):
    assignments = AssignmentIn(many=True, help_text="At most 1000 items")


class AssignmentBatchOut(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    errors = inline_serializer(
        "AssignmentError",
        {
            "index": serializers.IntegerField(),
            "code": serializers.CharField(),
            "message": serializers.CharField(),
        },
        many=True,
    )


class AssignmentsView(CarrierAPIView):
    @extend_schema(
        operation_id="carrier_assignments_upsert",
        summary="Upsert delivery assignments by tracking code",
        description="Valid items are saved; invalid ones come back in `errors` by index "
        "(`invalid_number`, `unknown_employee`, `staff_not_active`, `invalid_window`, "
        "`invalid_status`, `invalid_tracking_code`, `duplicate_tracking_code`). More than 1000 "
        "items, or a body not of this shape: 400 and nothing is saved.",
        request=AssignmentBatchIn,
        responses={200: AssignmentBatchOut, **errors(400, 401, 403, 413, 415, 429)},
    )
    def post(self, request):
        body = request.data
        items = body.get("assignments") if isinstance(body, dict) else None
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise serializers.ValidationError(
                {"assignments": ['Send {"assignments": [{...}, ...]}: a list of objects.']}
            )
        result = services.assignments_bulk_upsert(carrier=self.carrier, items=items)
        return Response(
            {"created": result.created, "updated": result.updated, "errors": result.errors}
        )


def _printable(value: str) -> str:
    """Text that goes on a label: no control characters (a newline would break the layout,
    a NUL cannot be sent to a printer)."""
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise serializers.ValidationError(_("Control characters cannot be printed."))
    return value


class LabelIn(serializers.Serializer):
    tracking_code = StrictCharField(
        max_length=64, help_text="An assignment of the key's carrier; printable ASCII"
    )
    recipient_name = StrictCharField(
        max_length=200,
        validators=[_printable],
        help_text="Printed as initials only (N. V. A.); never stored",
    )
    recipient_phone = PhoneField(
        help_text="Printed with its last three digits only; must be the assignment's recipient"
    )
    address_lines = BoundedListField(
        child=StrictCharField(max_length=labels.MAX_ADDRESS_LENGTH, validators=[_printable]),
        min_length=1,
        max_length=labels.MAX_ADDRESS_LINES,
        help_text="1 to 4 lines of at most 80 characters, printed as sent; never stored",
    )
    cod_amount = serializers.IntegerField(
        min_value=0,
        max_value=10**12,
        required=False,
        help_text="Cash on delivery in whole VND, printed when sent",
    )
    format = serializers.ChoiceField(choices=["pdf", "zpl"], default="pdf")

    def validate_tracking_code(self, value: str) -> str:
        if not labels.is_printable_code(value):
            raise serializers.ValidationError(
                _("This tracking code cannot be printed as a Code 128 barcode (ASCII only).")
            )
        return value


class _LabelRenderer(renderers.BaseRenderer):
    """Lets a client ask for the label's type in Accept; the view writes the bytes itself."""

    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class PdfRenderer(_LabelRenderer):
    media_type, format = labels.CONTENT_TYPES["pdf"], "pdf"


class ZplRenderer(_LabelRenderer):
    media_type, format = labels.CONTENT_TYPES["zpl"], "zpl"


def parcel_url(request, token: str) -> str:
    return request.build_absolute_uri(reverse("parcel", args=[token]))


def label_response(request, *, carrier: Carrier, data: dict) -> HttpResponse:
    """Check the parcel and its recipient (registry.services.label_prepare), draw the label
    and answer it. Shared by the API and the admin's print form: what the carrier sent is
    drawn, then dropped; nothing of it is logged."""
    assignment = services.label_prepare(
        carrier=carrier,
        tracking_code=data["tracking_code"],
        recipient_phone=data["recipient_phone"],
    )
    url = parcel_url(request, assignment.parcel_token)
    content = labels.content_for(
        assignment,
        recipient_name=data["recipient_name"],
        recipient_phone=data["recipient_phone"],
        address_lines=data["address_lines"],
        cod_amount=data.get("cod_amount"),
        parcel_url=url,
    )
    label_format = data.get("format") or "pdf"
    response = HttpResponse(
        labels.render(content, label_format), content_type=labels.CONTENT_TYPES[label_format]
    )
    safe_code = re.sub(r"[^A-Za-z0-9._-]", "_", assignment.tracking_code)
    response["Content-Disposition"] = f'inline; filename="label-{safe_code}.{label_format}"'
    response["X-Parcel-Url"] = url
    # The body holds the recipient's address: no cache on the way may keep it.
    response["Cache-Control"] = "no-store"
    return response


class LabelsView(CarrierAPIView):
    renderer_classes = [renderers.JSONRenderer, PdfRenderer, ZplRenderer]

    @extend_schema(
        operation_id="carrier_labels_create",
        summary="Print a parcel's privacy label (PDF or ZPL)",
        description="Draws the label of an assignment of the key's carrier from what is sent: "
        "the recipient's name as initials, the number with its last three digits only, the "
        "address lines as sent, the COD amount, a Code 128 barcode of the tracking code and a "
        "QR code of the parcel page. Nothing sent is stored or logged; an assignment without a "
        "recipient number takes this one's keyed digest. `pdf` (default): one page of "
        "100 x 150 mm. `zpl`: for Zebra-compatible printers (203 dpi, `^CI28` UTF-8). The "
        "header `X-Parcel-Url` holds the parcel page's absolute URL. An unknown tracking code, "
        "or another carrier's: 404 `unknown_parcel`; another recipient number than the "
        "assignment's: 400 `recipient_mismatch`.",
        request=LabelIn,
        parameters=[
            OpenApiParameter(
                "X-Parcel-Url",
                OpenApiTypes.URI,
                OpenApiParameter.HEADER,
                response=[200],
                description="The parcel page's absolute URL (the label's QR code)",
            )
        ],
        responses={
            (200, "application/pdf"): OpenApiResponse(
                OpenApiTypes.BINARY,
                description="The label: a PDF page of 100 x 150 mm, or ZPL II text (UTF-8)",
            ),
            (200, "application/x-zpl"): OpenApiResponse(OpenApiTypes.BINARY),
            **errors(400, 401, 403, 404, 413, 415, 429),
        },
    )
    def post(self, request):
        data = LabelIn(data=request.data)
        data.is_valid(raise_exception=True)
        return label_response(request, carrier=self.carrier, data=data.validated_data)
