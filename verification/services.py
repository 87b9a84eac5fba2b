"""What the public asks. The verdict rules (DESIGN.md, "Verdict") live here, and only here."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _

from registry import freshness, phones
from registry import selectors as registry_selectors
from registry.freshness import verdict_key
from registry.models import Carrier, DeliveryAssignment
from registry.pii import recipient_digest
from registry.services import RegistryError

from . import receipts, selectors
from .models import CallIntent, ScamReport

OFFICIAL, VERIFIED, REVOKED, REPORTED, UNKNOWN = (
    "official",
    "verified",
    "revoked",
    "reported",
    "unknown",
)
STATUSES = [OFFICIAL, VERIFIED, REVOKED, REPORTED, UNKNOWN]
OPEN_ASSIGNMENT = [DeliveryAssignment.Status.PENDING, DeliveryAssignment.Status.OUT_FOR_DELIVERY]


def mask_name(full_name: str) -> str:
    """`Nguyễn Văn An` → `N. V. An`: every part but the last becomes its initial and a dot."""
    parts = full_name.split()
    return " ".join([f"{part[0]}." for part in parts[:-1]] + parts[-1:])


def _compute_number_verdict(e164: str) -> dict:
    """status, carriers, staff and report_count of a number: the part of a verdict that
    depends on the number alone, and so can be cached per number."""
    report_count = selectors.report_count(e164)
    verdict = {
        "status": UNKNOWN,
        "carriers": [],
        "staff": [],
        "report_count": report_count,
        "staff_ids": [],
    }
    official = selectors.hotline_carriers(e164)
    if official:
        return {**verdict, "status": OFFICIAL, "carriers": official}
    registrations = selectors.registrations(e164)
    active = [phone for phone in registrations if phone.active_now]
    if active:
        return {
            **verdict,
            "status": VERIFIED,
            "carriers": _distinct_carriers(active),
            "staff": [
                {
                    "carrier": phone.carrier.slug,
                    "display_name": mask_name(phone.staff.full_name),
                    "employee_code": phone.staff.employee_code,
                }
                for phone in active
            ],
            "staff_ids": [phone.staff_id for phone in active],
        }
    if registrations:
        return {**verdict, "status": REVOKED, "carriers": _distinct_carriers(registrations)}
    if report_count >= settings.REPORT_THRESHOLD:
        return {**verdict, "status": REPORTED}
    return verdict


def _distinct_carriers(registrations) -> list[dict]:
    carriers = {phone.carrier.slug: phone.carrier.name for phone in registrations}
    return [{"slug": slug, "name": name} for slug, name in carriers.items()]


def number_verdict(e164: str) -> dict:
    """The cached number verdict; registry.freshness drops it on every write that changes it."""
    key = verdict_key(e164)
    verdict = cache.get(key)
    if verdict is None:
        verdict = _compute_number_verdict(e164)
        cache.set(key, verdict, settings.VERDICT_CACHE_SECONDS)
    return verdict


def _normalize(raw, field: str) -> str:
    try:
        return phones.normalize(raw)
    except phones.InvalidPhoneNumber as exc:
        raise RegistryError(
            "invalid_number", f"{field}: {exc.message}", {"field": field, "reason": exc.reason}
        ) from None


def _claimed(slug: str, verdict: dict) -> dict:
    entry = selectors.carrier_in_directory(slug)
    if entry is None:
        raise RegistryError(
            "unknown_carrier",
            _("No active carrier with this slug: %s") % slug[:50],
            {"field": "claimed_carrier"},
        )
    matches = verdict["status"] in (OFFICIAL, VERIFIED) and any(
        carrier["slug"] == slug for carrier in verdict["carriers"]
    )
    return {
        "slug": entry["slug"],
        "name": entry["name"],
        "matches": matches,
        "hotlines": [
            {"number": channel["value"], "display": channel["display"]}
            for channel in entry["channels"]
            if channel["kind"] == "hotline"
        ],
    }


@dataclass
class Lookup:
    """What a caller may ask beyond the number."""

    claimed_carrier: str | None = None
    tracking_code: str | None = None
    recipient_phone: str | None = None


def verify(number: str, lookup: Lookup | None = None, *, with_receipt: bool = False) -> dict:
    """The verdict on `number`, as the API and the web page show it.

    With `with_receipt` (a POST verification) it also answers `assignment` and
    `calling_now`, and carries a signed receipt of the answer."""
    lookup = lookup or Lookup()
    e164 = _normalize(number, "number")
    verdict = number_verdict(e164)
    staff_ids = verdict["staff_ids"]
    answer = {
        "number": e164,
        "status": verdict["status"],
        "carriers": verdict["carriers"],
        "staff": verdict["staff"],
        "report_count": verdict["report_count"],
        "checked_at": timezone.now(),
        "claimed_carrier": _claimed(lookup.claimed_carrier, verdict)
        if lookup.claimed_carrier
        else None,
    }
    if not with_receipt:
        return answer

    answer["assignment"] = None
    if lookup.tracking_code:
        answer["assignment"] = {
            "tracking_code": lookup.tracking_code,
            # An unknown tracking code answers false like a mismatch: nothing tells whether
            # the parcel exists.
            "matches": bool(staff_ids)
            and DeliveryAssignment.objects.filter(
                tracking_code=lookup.tracking_code,
                staff_id__in=staff_ids,
                status__in=OPEN_ASSIGNMENT,
            ).exists(),
        }
    answer["calling_now"] = None
    if lookup.recipient_phone:
        digest = recipient_digest(_normalize(lookup.recipient_phone, "recipient_phone"))
        answer["calling_now"] = (
            bool(staff_ids)
            and CallIntent.objects.filter(
                phone=e164,
                recipient_digest=digest,
                staff_id__in=staff_ids,
                expires_at__gt=timezone.now(),
            ).exists()
        )
    answer["receipt"] = receipts.sign(receipt_claims(answer))
    return answer


def assurance_level(answer: dict) -> str:
    """In the spirit of STIR/SHAKEN attestation: A the carrier says this staff phone is
    calling this recipient now, B the number belongs to the staff assigned to the parcel,
    C a registered staff number only."""
    if answer["status"] != VERIFIED:
        return "none"
    if answer.get("calling_now"):
        return "A"
    if (answer.get("assignment") or {}).get("matches"):
        return "B"
    return "C"


def receipt_claims(answer: dict) -> dict:
    """What a receipt repeats of an answer. Recipient data never enters it."""
    claimed = answer["claimed_carrier"]
    staff = sorted(
        answer["staff"], key=lambda entry: entry["carrier"] != (claimed or {}).get("slug")
    )
    carriers = answer["carriers"]
    assignment = answer.get("assignment")
    return {
        "number": answer["number"],
        "status": answer["status"],
        "carrier": staff[0]["carrier"] if staff else (carriers[0]["slug"] if carriers else None),
        "employee_code": staff[0]["employee_code"] if staff else None,
        "assignment_matches": assignment["matches"] if assignment else None,
        "calling_now": answer.get("calling_now"),
        "level": assurance_level(answer),
    }


def call_intent_create(
    *,
    carrier: Carrier,
    employee_code: str,
    phone: str,
    recipient_phone: str,
    tracking_code: str = "",
) -> CallIntent:
    """Record that a staff phone of `carrier` is calling a recipient now. Only an active
    phone of an active staff member of that carrier is accepted."""
    staff_phone = phones.normalize(phone)
    recipient = phones.normalize(recipient_phone)
    staff = registry_selectors.staff_get(carrier=carrier, employee_code=employee_code)
    if (
        staff is None
        or not registry_selectors.phones_active_now()
        .filter(staff=staff, number=staff_phone)
        .exists()
    ):
        raise RegistryError(
            "phone_not_registered",
            _("This phone is not an active phone of an active staff member of this carrier."),
        )
    now = timezone.now()
    return CallIntent.objects.create(
        carrier=carrier,
        staff=staff,
        phone=staff_phone,
        recipient_digest=recipient_digest(recipient),
        tracking_code=tracking_code,
        expires_at=now + timedelta(seconds=settings.CALL_INTENT_TTL_SECONDS),
    )


def report_submit(
    *,
    number: str,
    reporter: str,
    claimed_carrier: Carrier | None = None,
    channel: str = ScamReport.Channel.CALL,
    description: str = "",
) -> ScamReport:
    """A recipient's scam report. `reporter` is already a digest (reporter_digest)."""
    report = ScamReport(
        number=_normalize(number, "number"),
        reporter=reporter,
        claimed_carrier=claimed_carrier,
        channel=channel,
        description=description.strip(),
    )
    _validate_report(report)
    report.save()
    freshness.numbers_changed([report.number])
    return report


def report_reject(*, report: ScamReport) -> ScamReport:
    """Moderation: a report rejected as spam no longer counts."""
    if report.status != ScamReport.Status.REJECTED:
        report.status = ScamReport.Status.REJECTED
        report.save(update_fields=["status"])
        freshness.numbers_changed([report.number])
    return report


def reporter_digest(kind: str, identity: str) -> str:
    """Who reported, as a keyed digest: distinct reporters are counted, never stored."""
    return recipient_digest(f"reporter:{kind}:{identity}")


def _validate_report(report: ScamReport) -> None:
    from django.core.exceptions import ValidationError

    try:
        report.full_clean(exclude=["claimed_carrier"])
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise RegistryError("invalid", f"{field}: {' '.join(messages)}", {"field": field}) from None
