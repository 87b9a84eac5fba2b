"""Every write to the registry. The admin, the file import, the carrier API and the
management commands all come through these functions; nothing else writes registry rows."""

import hmac
import logging
import time
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, Permission
from django.core.cache import cache
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from simple_history.models import HistoricalRecords

from config.celery import enqueue_on_commit
from core import outbound
from core.exceptions import ApplicationError

from . import apikeys, freshness, partitions, phones, selectors
from .models import (
    Carrier,
    CarrierOperator,
    ClientAPIKey,
    DeliveryAssignment,
    OfficialChannel,
    OpenParcel,
    StaffImport,
    StaffMember,
    StaffPhone,
    new_parcel_token,
)
from .pii import recipient_digest

logger = logging.getLogger(__name__)


class RegistryError(ApplicationError):
    """A write refused for a reason the caller can fix: a conflict with what is stored is a
    409, a thing this caller cannot see a 404, anything else a 400."""

    CONFLICT_CODES = frozenset({"phone_in_use", "duplicate_channel"})
    NOT_FOUND_CODES = frozenset({"unknown_parcel"})

    def __init__(self, code: str, message, details: dict | None = None):
        status = (
            409 if code in self.CONFLICT_CODES else 404 if code in self.NOT_FOUND_CODES else 400
        )
        super().__init__(code, message, details, status)


def _validate(obj, exclude: Iterable[str] = ()) -> None:
    """Field-level checks (lengths, choices, blanks) before any row is written; the
    database constraints stay the last word on uniqueness."""
    try:
        obj.full_clean(exclude=list(exclude), validate_unique=False)
    except ValidationError as exc:
        fields = exc.message_dict
        field = next(iter(fields))
        raise RegistryError(
            "invalid", f"{field}: {' '.join(fields[field])}", {"fields": fields}
        ) from None


def _normalize_phone(raw: str) -> str:
    try:
        return phones.normalize(raw)
    except phones.InvalidPhoneNumber as exc:
        raise RegistryError(
            "invalid_number",
            _("%(number)s: %(reason)s") % {"number": raw, "reason": exc.message},
            {"number": raw, "reason": exc.reason},
        ) from None


@transaction.atomic
def carrier_save(
    *,
    slug: str,
    name: str,
    is_active: bool | None = None,
    hotlines: Iterable[str] = (),
    webhook: tuple[str, str] | None = None,
) -> tuple[Carrier, bool]:
    """Create the carrier `slug`, or update it: idempotent, and hotlines are only ever added.
    `is_active=None` and `webhook=None` (URL, secret) leave an existing carrier's as they are."""
    numbers = [_normalize_phone(raw) for raw in hotlines]
    carrier = Carrier.objects.filter(slug=slug).first()
    for number in numbers:
        _refuse_as_hotline(number, carrier)
    created = carrier is None
    if created:
        carrier = Carrier(slug=slug)
    carrier.name = name
    if is_active is not None:
        carrier.is_active = is_active
    if webhook is not None:
        carrier.webhook_url, carrier.webhook_secret = webhook
        if carrier.webhook_url:
            try:
                outbound.checked_address(carrier.webhook_url)
            except outbound.UnsafeUrl as exc:
                raise RegistryError(
                    "invalid_webhook_url", str(exc), {"field": "webhook_url"}
                ) from None
    _validate(carrier)
    carrier.save()
    for number in numbers:
        OfficialChannel.objects.get_or_create(
            carrier=carrier, kind=OfficialChannel.Kind.HOTLINE, value=number
        )
    freshness.carriers_changed()
    freshness.numbers_changed(_carrier_numbers(carrier))
    return carrier, created


def _carrier_numbers(carrier: Carrier) -> list[str]:
    """Every number whose verdict depends on this carrier: its staff phones and hotlines."""
    staff_numbers = StaffPhone.objects.filter(carrier=carrier).values_list("number", flat=True)
    hotlines = carrier.channels.filter(kind=OfficialChannel.Kind.HOTLINE).values_list(
        "value", flat=True
    )
    return [*staff_numbers, *hotlines]


def channel_save(
    *,
    carrier: Carrier,
    kind: str,
    value: str,
    label: str = "",
    channel: OfficialChannel | None = None,
) -> OfficialChannel:
    """Add a channel, or change `channel`. A hotline's value is stored as E.164."""
    if kind == OfficialChannel.Kind.HOTLINE:
        value = _normalize_phone(value)
        _refuse_as_hotline(value, carrier)
    channel = channel or OfficialChannel()
    channel.carrier, channel.kind, channel.value, channel.label = (
        carrier,
        kind,
        value.strip(),
        label,
    )
    _validate(channel)
    if (
        OfficialChannel.objects.filter(carrier=carrier, kind=kind, value=channel.value)
        .exclude(pk=channel.pk)
        .exists()
    ):
        raise RegistryError("duplicate_channel", _("This carrier already has this channel."))
    previous = OfficialChannel.objects.filter(pk=channel.pk).values_list("value", flat=True)
    _channel_changed([*previous, channel.value])
    channel.save()
    return channel


def _refuse_as_hotline(number: str, carrier: Carrier | None) -> None:
    """A hotline belongs to one carrier, and is never a staff phone: otherwise a carrier
    could make another's shipper, or another's hotline, answer "official hotline of" itself."""
    owner = (
        OfficialChannel.objects.filter(kind=OfficialChannel.Kind.HOTLINE, value=number)
        .exclude(carrier=carrier)
        .values_list("carrier__name", flat=True)
        .first()
    )
    if owner is not None:
        raise RegistryError(
            "hotline_taken",
            _("%(number)s is already a hotline of %(carrier)s.")
            % {"number": phones.display(number), "carrier": owner},
            {"number": number},
        )
    if StaffPhone.objects.filter(number=number, status=StaffPhone.Status.ACTIVE).exists():
        raise RegistryError(
            "number_is_staff_phone",
            _("%(number)s is an active staff phone: a hotline cannot be a staff phone.")
            % {"number": phones.display(number)},
            {"number": number},
        )


def _refuse_hotlines_as_staff_phones(numbers: list[str]) -> None:
    hotlines = sorted(
        OfficialChannel.objects.filter(
            kind=OfficialChannel.Kind.HOTLINE, value__in=numbers
        ).values_list("value", flat=True)
    )
    if hotlines:
        raise RegistryError(
            "number_is_hotline",
            _("%(numbers)s is an official hotline: a hotline cannot be a staff phone.")
            % {"numbers": ", ".join(phones.display(number) for number in hotlines)},
            {"numbers": hotlines},
        )


def channel_delete(*, channel: OfficialChannel) -> None:
    _channel_changed([channel.value])
    channel.delete()


def _channel_changed(values: list[str]) -> None:
    freshness.carriers_changed()
    freshness.numbers_changed(values)  # a hotline's value is its number


# Official channels are the registry operators' (superusers'): an operator sees theirs only.
OPERATOR_PERMISSIONS = [
    (model, action)
    for model in ("staffmember", "staffphone", "deliveryassignment")
    for action in ("view", "add", "change")
] + [("officialchannel", "view"), ("carrier", "view")]


@transaction.atomic
def operator_assign(*, user, carrier: Carrier) -> CarrierOperator:
    """Make `user` an admin operator of `carrier` (and of no other carrier)."""
    operator, _created = CarrierOperator.objects.update_or_create(
        user=user, defaults={"carrier": carrier}
    )
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    wanted = Permission.objects.filter(content_type__app_label="registry").filter(
        codename__in=[f"{action}_{model}" for model, action in OPERATOR_PERMISSIONS]
    )
    user.user_permissions.add(*wanted)
    return operator


def _numbers_active_elsewhere(
    carrier: Carrier, numbers: Iterable[str], staff: StaffMember | None = None
) -> list[str]:
    """Which of `numbers` are active phones of another staff member of `carrier`."""
    active = StaffPhone.objects.filter(
        carrier=carrier, number__in=list(numbers), status=StaffPhone.Status.ACTIVE
    )
    if staff is not None and staff.pk:
        active = active.exclude(staff=staff)
    return sorted(active.values_list("number", flat=True))


@transaction.atomic
def staff_upsert(
    *,
    carrier: Carrier,
    employee_code: str,
    full_name: str,
    status: str = StaffMember.Status.ACTIVE,
    region: str = "",
    phone_numbers: list[str] | None = None,
) -> tuple[StaffMember, bool]:
    """Create or replace a staff member by employee code within `carrier`.

    With `phone_numbers`, that list is the whole truth: numbers not yet registered are added,
    revoked ones on the list come back, active ones left out are revoked. One invalid number
    rejects the call before anything is written.
    """
    numbers = list(dict.fromkeys(_normalize_phone(raw) for raw in phone_numbers or []))
    staff = (
        StaffMember.objects.select_for_update()
        .filter(carrier=carrier, employee_code=employee_code)
        .first()
    )
    created = staff is None
    if created:
        staff = StaffMember(carrier=carrier, employee_code=employee_code)
    staff.full_name, staff.status, staff.region = full_name, status, region
    _validate(staff, exclude=["carrier"])
    staff.save()
    if phone_numbers is not None:
        _replace_phones(staff, numbers)
    if status == StaffMember.Status.TERMINATED:
        _revoke_phones(staff.phones.filter(status=StaffPhone.Status.ACTIVE))
    _staff_changed(staff)
    return staff, created


def _staff_changed(staff: StaffMember) -> None:
    freshness.numbers_changed(staff.phones.values_list("number", flat=True))


def _replace_phones(staff: StaffMember, numbers: list[str]) -> None:
    _refuse_hotlines_as_staff_phones(numbers)
    taken = _numbers_active_elsewhere(staff.carrier, numbers, staff)
    if taken:
        raise RegistryError(
            "phone_in_use",
            _("%(numbers)s is already an active phone of another staff member of this carrier.")
            % {"numbers": ", ".join(taken)},
            {"numbers": taken},
        )
    current = {phone.number: phone for phone in staff.phones.order_by("-created_at")}
    _revoke_phones(staff.phones.filter(status=StaffPhone.Status.ACTIVE).exclude(number__in=numbers))
    enrolled = []
    for number in numbers:
        phone = current.get(number)
        if phone is None:
            phone = StaffPhone(staff=staff, carrier=staff.carrier, number=number)
            phone.save()
        elif phone.status != StaffPhone.Status.ACTIVE:
            phone.status, phone.revoked_at = StaffPhone.Status.ACTIVE, None
            phone.save(update_fields=["status", "revoked_at"])
        else:
            continue
        enrolled.append(number)
    _tell_carriers_sharing(staff.carrier, enrolled)


def _tell_carriers_sharing(carrier: Carrier, numbers: list[str]) -> None:
    """One shipper may work for several carriers, so a number may be active at two; but the
    carrier that had it first must know that another now vouches for it too."""
    if not numbers:
        return
    # Alerts are the verification app's, and registry imports nothing of it: config names
    # the function to call (settings.SHARED_NUMBER_ALERT).
    alert_shared_number = import_string(settings.SHARED_NUMBER_ALERT)

    shared = (
        selectors.phones_active_now()
        .filter(number__in=numbers)
        .exclude(carrier=carrier)
        .select_related("carrier")
        .order_by("carrier__name", "number")
    )
    for phone in shared:
        alert_shared_number(carrier=phone.carrier, number=phone.number, shared_with=carrier)


def _revoke_phones(phones_qs) -> None:
    # One save per phone rather than a bulk update, so that history records each revocation.
    for phone in phones_qs:
        phone_revoke(phone=phone)


@transaction.atomic
def staff_set_status(*, staff: StaffMember, status: str) -> StaffMember:
    """Suspend, terminate or reactivate. Terminating also revokes every phone, so that the
    number can be given to someone else and shows as `revoked` from the next lookup on."""
    if status not in StaffMember.Status.values:
        raise RegistryError("invalid_status", _("Unknown staff status: %s") % status)
    if staff.status != status:
        staff.status = status
        staff.save(update_fields=["status", "updated_at"])
    if status == StaffMember.Status.TERMINATED:
        _revoke_phones(staff.phones.filter(status=StaffPhone.Status.ACTIVE))
    _staff_changed(staff)
    return staff


def staff_revoke(*, staff: StaffMember) -> StaffMember:
    return staff_set_status(staff=staff, status=StaffMember.Status.TERMINATED)


def staff_reactivate(*, staff: StaffMember) -> StaffMember:
    return staff_set_status(staff=staff, status=StaffMember.Status.ACTIVE)


@transaction.atomic
def phone_add(
    *,
    staff: StaffMember,
    number: str,
    valid_from: date | None = None,
    valid_until: date | None = None,
) -> StaffPhone:
    e164 = _normalize_phone(number)
    _refuse_hotlines_as_staff_phones([e164])
    if _numbers_active_elsewhere(staff.carrier, [e164]):
        raise RegistryError(
            "phone_in_use",
            _("%(number)s is already an active phone of this carrier.") % {"number": e164},
            {"numbers": [e164]},
        )
    phone = StaffPhone(
        staff=staff,
        carrier=staff.carrier,
        number=e164,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    _validate(phone, exclude=["staff", "carrier"])
    phone.save()
    _tell_carriers_sharing(staff.carrier, [phone.number])
    freshness.numbers_changed([phone.number])
    return phone


@transaction.atomic
def phone_update(
    *, phone: StaffPhone, valid_from: date | None, valid_until: date | None
) -> StaffPhone:
    phone.valid_from, phone.valid_until = valid_from, valid_until
    _validate(phone, exclude=["staff", "carrier"])
    phone.save(update_fields=["valid_from", "valid_until"])
    freshness.numbers_changed([phone.number])
    return phone


def phone_revoke(*, phone: StaffPhone) -> StaffPhone:
    if phone.status != StaffPhone.Status.REVOKED:
        phone.status, phone.revoked_at = StaffPhone.Status.REVOKED, timezone.now()
        phone.save(update_fields=["status", "revoked_at"])
        freshness.numbers_changed([phone.number])
    return phone


def parcel_token_ensure(*, assignment: DeliveryAssignment) -> str:
    """The assignment's parcel token, given one if it has none yet (a row older than the
    column). Two printers racing on the same parcel agree: only an empty token is written,
    and whoever lost reads the winner's."""
    if not assignment.parcel_token:
        DeliveryAssignment.objects.filter(pk=assignment.pk, parcel_token="").update(
            parcel_token=new_parcel_token()
        )
        assignment.parcel_token = (
            DeliveryAssignment.objects.filter(pk=assignment.pk)
            .values_list("parcel_token", flat=True)
            .get()
        )
    return assignment.parcel_token


@transaction.atomic
def label_prepare(
    *, carrier: Carrier, tracking_code: str, recipient_phone: str
) -> DeliveryAssignment:
    """The assignment a label is printed for, checked against the recipient's number: the
    parcel must be `carrier`'s (another carrier's answers exactly like a code nobody has),
    and the number the one its digest was made of. An assignment without a digest takes this
    number's. Nothing of the recipient but that digest is written."""
    assignment = (
        DeliveryAssignment.objects.select_for_update()
        .select_related("carrier")
        .filter(carrier=carrier, tracking_code=tracking_code)
        .first()
    )
    if assignment is None:
        raise RegistryError(
            "unknown_parcel", _("No parcel of this carrier has this tracking code.")
        )
    digest = recipient_digest(_normalize_phone(recipient_phone))
    if not assignment.recipient_digest:
        assignment.recipient_digest = digest
        assignment.save(update_fields=["recipient_digest", "updated_at"])
    elif not hmac.compare_digest(assignment.recipient_digest, digest):
        raise RegistryError(
            "recipient_mismatch",
            _("This is not the recipient's phone number the carrier gave for this parcel."),
            {"field": "recipient_phone"},
        )
    parcel_token_ensure(assignment=assignment)
    return assignment


def api_key_create(*, name: str, carrier: Carrier | None = None) -> tuple[ClientAPIKey, str]:
    """A new key; the raw key is returned once and only its hash is stored."""
    api_key = ClientAPIKey(name=name, carrier=carrier)
    _validate(api_key, exclude=["id", "prefix", "hashed_key"])
    api_key, raw_key = ClientAPIKey.objects.create_key(name=name, carrier=carrier)
    return api_key, raw_key


def api_key_update(
    *,
    api_key: ClientAPIKey,
    name: str,
    expiry_date: datetime | None,
    revoked: bool,
    rate_limit: str,
) -> ClientAPIKey:
    """Change a key; its cached verification is dropped so the change holds from the next
    request on, on every worker."""
    api_key.name, api_key.expiry_date = name, expiry_date
    api_key.revoked, api_key.rate_limit = revoked, rate_limit
    _validate(api_key, exclude=["id", "prefix", "hashed_key"])
    api_key.save()
    apikeys.forget(api_key.prefix)
    return api_key


def api_key_revoke(*, api_key: ClientAPIKey) -> ClientAPIKey:
    return api_key_update(
        api_key=api_key,
        name=api_key.name,
        expiry_date=api_key.expiry_date,
        revoked=True,
        rate_limit=api_key.rate_limit,
    )


# A delivery window is about a parcel on its way: a bound years away is a typing error or a
# probe, and one at the edge of the calendar (9999-12-31 at -23:59) cannot even be shown in
# UTC, which broke the admin's list for everyone who could see the row.
WINDOW_RANGE = timedelta(days=366)


def assignment_window_error(start: datetime | None, end: datetime | None) -> str | None:
    """Why a delivery window is refused, or None: each bound within WINDOW_RANGE of now,
    and the end not before the start."""
    now = timezone.now()
    for bound in (start, end):
        if bound is None:
            continue
        try:
            in_range = abs(bound.astimezone(UTC) - now) <= WINDOW_RANGE
        except OverflowError:
            in_range = False
        if not in_range:
            return _("A delivery window must be within a year of today.")
    if start and end and end < start:
        return _("The delivery window ends before it starts.")
    return None


MAX_ASSIGNMENTS_PER_CALL = 1000


@dataclass
class BulkResult:
    created: int = 0
    updated: int = 0
    errors: list[dict] = field(default_factory=list)

    def fail(self, index: int, code: str, message: str) -> None:
        self.errors.append({"index": index, "code": code, "message": str(message)})


@dataclass(frozen=True)
class AssignmentRow:
    """An item that passed assignment_item_check: the row to write, and whether it brings a
    recipient digest (without one, a known assignment keeps the digest it has)."""

    assignment: DeliveryAssignment
    with_digest: bool


@transaction.atomic
def assignment_upsert(
    *,
    carrier: Carrier,
    tracking_code: str,
    staff: StaffMember,
    recipient_phone: str | None = None,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    status: str = DeliveryAssignment.Status.PENDING,
) -> tuple[DeliveryAssignment, bool]:
    """Create or update the assignment of `tracking_code` within `carrier`: a batch of one,
    so that the admin and seed_demo follow the carrier API's rules to the letter."""
    item = {
        "tracking_code": tracking_code,
        "employee_code": staff.employee_code if staff.carrier_id == carrier.pk else None,
        "recipient_phone": recipient_phone,
        "window_start": window_start,
        "window_end": window_end,
        "status": status,
    }
    result = assignments_bulk_upsert(carrier=carrier, items=[item])
    if result.errors:
        raise RegistryError(result.errors[0]["code"], result.errors[0]["message"])
    # The code as the validator stored it (stripped of surrounding blanks).
    assignment = DeliveryAssignment.objects.get(
        carrier=carrier, tracking_code=tracking_code.strip()
    )
    return assignment, bool(result.created)


@transaction.atomic
def assignments_bulk_upsert(*, carrier: Carrier, items: list[dict]) -> BulkResult:
    """Upsert up to MAX_ASSIGNMENTS_PER_CALL assignments of `carrier` by tracking code.

    Each item is checked on its own (assignment_item_check): valid ones are saved, invalid
    ones come back by index. A known tracking code counts as updated even when nothing
    changed. A constant number of queries whatever the batch size: the staff, the known
    codes, one insert of the new ones, one pipeline of updates of the known ones (an
    INSERT … ON CONFLICT needs a unique index the partitioned table cannot have), and the
    numbers of the staff concerned, whose cached proofs go. An item without
    `recipient_phone` keeps the digest already stored."""
    if len(items) > MAX_ASSIGNMENTS_PER_CALL:
        raise RegistryError(
            "too_many_items",
            _("At most %(max)d assignments per call.") % {"max": MAX_ASSIGNMENTS_PER_CALL},
        )
    result = BulkResult()
    rows = _assignment_rows(carrier, items, result)
    _assignments_write(carrier, rows, result)
    result.errors.sort(key=lambda error: error["index"])
    return result


def _assignment_rows(carrier: Carrier, items: list[dict], result: BulkResult) -> dict:
    """The valid items by tracking code; the refused ones go to `result`."""
    codes = {item.get("employee_code") for item in items if _storable(item.get("employee_code"))}
    staff_by_code = {
        staff.employee_code: staff
        for staff in StaffMember.objects.filter(carrier=carrier, employee_code__in=codes).only(
            "id", "employee_code", "status", "carrier_id"
        )
    }
    now = timezone.now()
    rows: dict[str, AssignmentRow] = {}
    for index, item in enumerate(items):
        try:
            row = assignment_item_check(item, staff_by_code=staff_by_code, taken=rows, now=now)
        except ApplicationError as refused:
            result.fail(index, refused.code, refused.message)
            continue
        rows[row.assignment.tracking_code] = row
    return rows


def assignment_item_check(
    item: dict, *, staff_by_code: dict[str, StaffMember], taken, now: datetime
) -> AssignmentRow:
    """The one set of rules of an assignment, whoever writes it (carrier API, admin,
    seed_demo): the row to write, or an ApplicationError naming the first rule broken. `taken`
    holds the tracking codes already in the same batch."""
    tracking_code = _text(item, "tracking_code", 64)
    if tracking_code is None:
        raise RegistryError("invalid_tracking_code", _("tracking_code must be 1 to 64 characters."))
    if tracking_code in taken:
        raise RegistryError(
            "duplicate_tracking_code", _("This tracking code is already in this batch.")
        )
    staff = _item_staff(item, staff_by_code)
    status = _item_status(item)
    window_start, window_end = _item_window(item)
    digest = _item_recipient_digest(item)
    assignment = DeliveryAssignment(
        carrier_id=staff.carrier_id,
        tracking_code=tracking_code,
        staff=staff,
        recipient_digest=digest,
        window_start=window_start,
        window_end=window_end,
        status=status,
        created_at=now,
        updated_at=now,
    )
    return AssignmentRow(assignment, with_digest=bool(digest))


def _item_staff(item: dict, staff_by_code: dict[str, StaffMember]) -> StaffMember:
    # Any JSON value may stand where a text belongs: only a string is ever a key.
    employee_code = item.get("employee_code")
    staff = staff_by_code.get(employee_code) if isinstance(employee_code, str) else None
    if staff is None:
        raise RegistryError("unknown_employee", _("No staff member with this employee code."))
    if staff.status != StaffMember.Status.ACTIVE:
        raise RegistryError("staff_not_active", _("This staff member is not active."))
    return staff


# Read once: the enum builds its list of values anew on every access, 1000 times a batch.
_ASSIGNMENT_STATUSES = frozenset(DeliveryAssignment.Status.values)


def _item_status(item: dict) -> str:
    status = item.get("status") or DeliveryAssignment.Status.PENDING
    if not isinstance(status, str) or status not in _ASSIGNMENT_STATUSES:
        raise RegistryError(
            "invalid_status",
            _("status must be one of: %s") % ", ".join(sorted(_ASSIGNMENT_STATUSES)),
        )
    return status


def _item_window(item: dict) -> tuple[datetime | None, datetime | None]:
    try:
        window_start = _window_bound(item.get("window_start"))
        window_end = _window_bound(item.get("window_end"))
    except ValueError:
        raise RegistryError(
            "invalid_window", _("window_start and window_end must be ISO 8601 times.")
        ) from None
    refused = (window_start or window_end) and assignment_window_error(window_start, window_end)
    if refused:
        raise RegistryError("invalid_window", refused)
    return window_start, window_end


def _window_bound(value) -> datetime | None:
    """A bound as the API sends it (ISO 8601 text) or as a form cleans it (a datetime)."""
    if value in (None, ""):
        return None
    parsed = value if isinstance(value, datetime) else None
    if isinstance(value, str):
        parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)  # in TIME_ZONE, Asia/Ho_Chi_Minh
    return parsed


def _item_recipient_digest(item: dict) -> str:
    """The digest of the recipient's number, "" without one: the number goes no further."""
    if item.get("recipient_phone") in (None, ""):
        return ""
    return recipient_digest(phones.normalize_field(item["recipient_phone"], "recipient_phone"))


def _storable(value) -> bool:
    """A string the database can hold: PostgreSQL text refuses NUL, even in a lookup."""
    return isinstance(value, str) and "\x00" not in value


def _text(item: dict, key: str, max_length: int) -> str | None:
    value = item.get(key)
    if not _storable(value) or not value.strip() or len(value) > max_length:
        return None
    return value.strip()


# Any constant of our own: the first key of the two-key advisory locks of assignment writes.
_ASSIGNMENTS_LOCK = 16_001


def _assignments_write(carrier: Carrier, rows: dict, result: BulkResult) -> None:
    """Insert the new codes and update the known ones, keeping (carrier, tracking code)
    unique across the day partitions (registry/partitions.py).

    Rows are created in today's partition, whose unique index refuses a second writer's
    copy of a code: that writer's insert fails, and it looks the codes up again in turn
    with the others (the per-carrier lock), finding the code known. Only near local
    midnight can two writers put one code on two days, where no index sees both: then
    every writer takes the lock before it looks. SQLite has the real unique constraint
    and one writer at a time."""
    if connection.vendor != "postgresql" or partitions.near_day_boundary(timezone.now()):
        _lock_assignments_of(carrier)
        _assignments_save(carrier, rows, result)
        return
    try:
        with transaction.atomic():
            _assignments_save(carrier, rows, result)
    except IntegrityError:
        _lock_assignments_of(carrier)
        _assignments_save(carrier, rows, result)


def _lock_assignments_of(carrier: Carrier) -> None:
    """Hold, until the transaction ends, the right to look up and create assignments of
    `carrier` (PostgreSQL; a no-op elsewhere)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_ASSIGNMENTS_LOCK, carrier.pk])


def _assignments_save(carrier: Carrier, rows: dict, result: BulkResult) -> None:
    # In tracking-code order, inserts then updates: two writers of overlapping codes wait
    # for each other in the same order and never deadlock.
    codes = sorted(rows)
    known = _known_assignments(carrier, codes)
    result.updated, result.created = len(known), len(rows) - len(known)
    DeliveryAssignment.objects.bulk_create(
        [rows[code].assignment for code in codes if code not in known]
    )
    for code, (pk, created_at, _staff_id) in known.items():
        rows[code].assignment.pk, rows[code].assignment.created_at = pk, created_at
    if known:
        _assignments_update([rows[code] for code in codes if code in known])
    _open_parcels_save(carrier, [rows[code].assignment for code in codes])
    # The proofs cached for the staff the parcels were assigned to, and for those a known
    # parcel was taken from: a reassigned parcel proves nothing for its former shipper.
    staff_ids = {row.assignment.staff_id for row in rows.values()}
    staff_ids.update(staff_id for _pk, _created_at, staff_id in known.values())
    _proofs_of_staff_changed(staff_ids)


def _open_parcels_save(carrier: Carrier, assignments: list[DeliveryAssignment]) -> None:
    """The open parcels (OpenParcel) as these assignments now are: an open one there, with
    the staff member it is assigned to; a closed one gone."""
    closed = [
        a.tracking_code for a in assignments if a.status not in DeliveryAssignment.OPEN_STATUSES
    ]
    if closed:
        OpenParcel.objects.filter(carrier=carrier, tracking_code__in=closed).delete()
    OpenParcel.objects.bulk_create(
        [
            OpenParcel(carrier=carrier, tracking_code=a.tracking_code, staff_id=a.staff_id)
            for a in assignments
            if a.status in DeliveryAssignment.OPEN_STATUSES
        ],
        update_conflicts=True,
        unique_fields=["carrier", "tracking_code"],
        update_fields=["staff"],
    )


def _proofs_of_staff_changed(staff_ids) -> None:
    freshness.proofs_changed(
        StaffPhone.objects.filter(staff_id__in=staff_ids).values_list("number", flat=True)
    )


def _known_assignments(carrier: Carrier, codes: list[str]) -> dict[str, tuple]:
    """{tracking code: (id, created_at, staff_id)} of the codes `carrier` already has, on
    any day.
    On PostgreSQL the codes are bound as one array, so that the statement is the same for
    every batch and psycopg prepares its plan (90 partitions to plan for) once."""
    if connection.vendor != "postgresql":
        found = DeliveryAssignment.objects.filter(carrier=carrier, tracking_code__in=codes)
        rows = found.values_list("tracking_code", "pk", "created_at", "staff_id")
    else:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT tracking_code, id, created_at, staff_id FROM registry_deliveryassignment "
                "WHERE carrier_id = %s AND tracking_code = ANY(%s)",
                [carrier.pk, codes],
            )
            rows = cursor.fetchall()
    return {code: (pk, created_at, staff_id) for code, pk, created_at, staff_id in rows}


_ASSIGNMENT_FIELDS = ["staff", "window_start", "window_end", "status", "updated_at"]
_UPDATE_KNOWN_SQL = """
    UPDATE registry_deliveryassignment
    SET staff_id = %s, window_start = %s, window_end = %s, status = %s, updated_at = %s,
        recipient_digest = COALESCE(%s, recipient_digest)
    WHERE id = %s AND created_at = %s"""


def _assignments_update(rows: list[AssignmentRow]) -> None:
    """Save known assignments' fields (and the digest of those that bring one) at once.

    On PostgreSQL one prepared UPDATE per row by its primary key (id, created_at), which
    finds its day's partition and row by index whatever the statistics say, all sent in one
    pipeline (psycopg's executemany). Django's bulk_update writes a CASE over every row for
    every field, which PostgreSQL evaluates row by row: 4 s for 1000 assignments on the
    benchmark's 500,000, and an UPDATE joined to the rows as arrays was planned as a
    nested loop over an unanalysed day partition (1.7 s)."""
    if connection.vendor != "postgresql":
        for with_digest in (True, False):
            group = [row.assignment for row in rows if row.with_digest == with_digest]
            fields = _ASSIGNMENT_FIELDS + ["recipient_digest"] * with_digest
            if group:
                DeliveryAssignment.objects.bulk_update(group, fields)
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            _UPDATE_KNOWN_SQL,
            [
                (
                    a.staff_id,
                    a.window_start,
                    a.window_end,
                    a.status,
                    a.updated_at,
                    a.recipient_digest if row.with_digest else None,
                    a.pk,
                    a.created_at,
                )
                for row in rows
                for a in [row.assignment]
            ],
        )


def assignments_purge_expired(*, keep_days: int, today: date | None = None) -> list[date]:
    """Retention: forget the assignments (and so who received the parcels) of every local
    day before the last `keep_days`; the days purged. On PostgreSQL whole day partitions
    are detached and dropped, no row is updated; on SQLite the same days' rows are deleted.
    Running it twice purges nothing more."""
    first_kept = (today or timezone.localdate()) - timedelta(days=keep_days)
    # Their open parcels go first: should the purge stop half-way, an assignment left
    # behind proves nothing, rather than a forgotten one still proving something.
    expiring = DeliveryAssignment.objects.filter(
        carrier=OuterRef("carrier"),
        tracking_code=OuterRef("tracking_code"),
        created_at__lt=partitions.day_start(first_kept),
    )
    still_open = OpenParcel.objects.filter(Exists(expiring))
    staff_ids = set(still_open.values_list("staff_id", flat=True).distinct())
    still_open.delete()
    _proofs_of_staff_changed(staff_ids)
    if partitions.is_partitioned():
        return partitions.drop_before(first_kept)
    expired = DeliveryAssignment.objects.filter(created_at__lt=partitions.day_start(first_kept))
    days = sorted(
        {timezone.localdate(created) for created in expired.values_list("created_at", flat=True)}
    )
    expired.delete()
    return days


def assignment_partitions_ensure(*, today: date | None = None) -> list[str]:
    """Today's and the next days' assignment partitions (PostgreSQL); the ones created."""
    return partitions.ensure_ahead(today=today)


def history_purge(*, older_than_days: int) -> int:
    """Retention of the change history of staff and phones: records older than
    `older_than_days` go (the rows themselves stay). Running it twice changes nothing more."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted = 0
    for model in (StaffMember, StaffPhone):
        count, _by_model = model.history.filter(history_date__lt=cutoff).delete()
        deleted += count
    return deleted


# Staff files too long for a request (the admin's import, registry.resources), imported by a
# worker: registry.tasks.import_staff_file takes the StaffImport's id after commit.

PROGRESS_TTL = 86400


@transaction.atomic
def staff_import_create(
    *,
    carrier: Carrier,
    uploaded_by,
    file_name: str,
    file_format: str,
    content: bytes,
    total_rows: int,
    language: str = "",
) -> StaffImport:
    """Keep an uploaded staff file for a worker to import once this transaction commits."""
    from .tasks import import_staff_file

    staff_import = StaffImport.objects.create(
        carrier=carrier,
        uploaded_by=uploaded_by,
        file_name=file_name[:255],
        file_format=file_format,
        content=content,
        total_rows=total_rows,
        language=language,
    )
    enqueue_on_commit(import_staff_file, staff_import.pk)
    return staff_import


def staff_import_run(*, import_id: int) -> StaffImport | None:
    """Import a stored staff file: all of it or nothing, in one transaction, every row
    through the admin's resource (hence staff_upsert), with a row-by-row report.

    Safe to run twice, and from two workers at once: a finished import is left alone, and
    the worker importing a file keeps its row locked until it commits, so that another task
    for it finds it locked and does nothing. A `running` import whose row nobody has locked
    was left by a worker that died (its transaction rolled back): it is imported again."""
    with transaction.atomic():
        staff_import = (
            StaffImport.objects.select_for_update(skip_locked=True).filter(pk=import_id).first()
        )
        if staff_import is None or staff_import.finished:
            return staff_import or StaffImport.objects.filter(pk=import_id).first()
        staff_import.status, staff_import.started_at = StaffImport.Status.RUNNING, timezone.now()
        staff_import.save(update_fields=["status", "started_at"])
    _progress_write(import_id, 0)
    try:
        with transaction.atomic():
            staff_import = (
                StaffImport.objects.select_for_update(skip_locked=True)
                .filter(pk=import_id, status=StaffImport.Status.RUNNING)
                .first()
            )
            if staff_import is not None:  # else another worker took it in between
                _staff_import_file(staff_import)
    except Exception as exc:  # noqa: BLE001  the operator learns it failed; the log says why
        logger.exception("staff import %s stopped", import_id)
        language = (
            StaffImport.objects.filter(pk=import_id).values_list("language", flat=True).first()
        )
        with translation.override(language or settings.LANGUAGE_CODE):
            error = _(
                "The import stopped on an unexpected error (%(error)s): nothing was imported."
            ) % {"error": type(exc).__name__}
        StaffImport.objects.filter(pk=import_id, status=StaffImport.Status.RUNNING).update(
            status=StaffImport.Status.FAILED, error=error, finished_at=timezone.now(), content=b""
        )
    return StaffImport.objects.filter(pk=import_id).first()


def _staff_import_file(staff_import: StaffImport) -> None:
    """The import itself, inside staff_import_run's transaction."""
    from .resources import StaffImportResource, read_dataset

    report = _StaffImportReport(staff_import.pk, staff_import.total_rows)
    language = staff_import.language or settings.LANGUAGE_CODE
    with translation.override(language), _history_user(staff_import.uploaded_by):
        dataset = read_dataset(bytes(staff_import.content), staff_import.file_format)
        resource = StaffImportResource(carrier=staff_import.carrier, on_row=report.add)
        # The resource rolls the whole file back (to a savepoint of this transaction) on any
        # error; the import's row is then written as failed, with its report.
        result = resource.import_data(
            dataset,
            dry_run=False,
            raise_errors=False,
            file_name=staff_import.file_name,
            user=staff_import.uploaded_by,
            retain_instance_in_row_result=True,
        )
        failed = result.has_errors() or result.has_validation_errors()
        staff_import.report = report.as_json(result, failed=failed)
        staff_import.error = report.summary() if failed else ""
    staff_import.status = StaffImport.Status.FAILED if failed else StaffImport.Status.DONE
    staff_import.total_rows, staff_import.rows_processed = len(dataset), report.processed
    staff_import.finished_at = timezone.now()
    staff_import.content = b""  # imported, or to be corrected and uploaded again
    staff_import.save(
        update_fields=[
            "status",
            "total_rows",
            "rows_processed",
            "report",
            "error",
            "finished_at",
            "content",
        ]
    )


class _StaffImportReport:
    """Collects the report row by row, and publishes the progress as it goes."""

    def __init__(self, import_id: int, total_rows: int):
        self.import_id = import_id
        self.every = max(1, total_rows // 100)
        self.rows: list[dict] = []
        self.processed = 0
        self.last_published = time.monotonic()

    def add(self, number: int, employee_code: str, row_result) -> None:
        self.processed = number
        if row_result.import_type != row_result.IMPORT_TYPE_SKIP:  # blank lines
            entry = {
                "row": number,
                "employee_code": employee_code,
                "result": row_result.import_type,
            }
            errors = _row_result_errors(row_result)
            if errors:
                entry["errors"] = errors
            self.rows.append(entry)
        now = time.monotonic()
        if number % self.every == 0 or now - self.last_published >= 1:
            _progress_write(self.import_id, number)
            self.last_published = now

    def as_json(self, result, *, failed: bool) -> dict:
        return {
            "totals": dict(result.totals),
            "errors": [str(error.error) for error in result.base_errors],
            # Of a failed import only the rows to correct: the others were not imported.
            "rows": [row for row in self.rows if "errors" in row] if failed else self.rows,
        }

    def summary(self) -> str:
        bad_rows = sum(1 for row in self.rows if "errors" in row)
        if not bad_rows:
            return _("Nothing was imported: the file has an error.")
        return ngettext(
            "Nothing was imported: %(count)d row has errors.",
            "Nothing was imported: %(count)d rows have errors.",
            bad_rows,
        ) % {"count": bad_rows}


def _row_result_errors(row_result) -> dict[str, list[str]]:
    """{column: [messages]} of a refused row; NON_FIELD_ERRORS for the row as a whole."""
    error = row_result.validation_error
    if error is not None:
        by_field = error.message_dict if hasattr(error, "error_dict") else {}
        return {
            field: [str(message) for message in messages] for field, messages in by_field.items()
        } or {NON_FIELD_ERRORS: [str(message) for message in error.messages]}
    if row_result.errors:
        return {NON_FIELD_ERRORS: [str(error.error) for error in row_result.errors]}
    return {}


def _progress_write(import_id: int, processed: int) -> None:
    # The cache, not the import's row: the import's transaction stays open until its last row
    # and what it writes, that row included, is seen by nobody else before it commits. (A
    # second database connection would do on PostgreSQL, but SQLite, the embedded default,
    # locks the whole database while the import writes.) "at" tells the sweep it is alive.
    try:
        cache.set(
            selectors.staff_import_progress_key(import_id),
            {"processed": processed, "at": time.time()},
            PROGRESS_TTL,
        )
    except Exception:  # noqa: BLE001  a cache outage must not fail the import
        logger.warning("cache unavailable: progress of staff import %s not shown", import_id)


@contextmanager
def _history_user(user):
    """django-simple-history takes who made a change from the current request; a worker has
    none, so the uploader stands in, as they do for a file imported in the request."""
    context = HistoricalRecords.context
    previous = getattr(context, "request", None)
    context.request = SimpleNamespace(user=user or AnonymousUser())
    try:
        yield
    finally:
        if previous is not None:
            context.request = previous
        elif hasattr(context, "request"):
            del context.request
