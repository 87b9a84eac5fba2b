"""What the public asks. The verdict rules (DESIGN.md, "Verdict") live here, and only here."""

import hashlib
import hmac
import http.client
import json
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from config.celery import enqueue_on_commit
from core import metrics, outbound, ratelimit, resilient_cache
from core.exceptions import ApplicationError
from core.rates import parse_rate
from registry import freshness, phones
from registry import selectors as registry_selectors
from registry.freshness import proofs_key, verdict_key
from registry.models import Carrier
from registry.pii import recipient_digest

from . import receipts, selectors, stats
from .models import (
    CallIntent,
    DailyLookupStat,
    ImpersonationAlert,
    NumberClearance,
    ScamReport,
    WebhookDelivery,
)

OFFICIAL, VERIFIED, REVOKED, REPORTED, UNKNOWN = (
    "official",
    "verified",
    "revoked",
    "reported",
    "unknown",
)
STATUSES = [OFFICIAL, VERIFIED, REVOKED, REPORTED, UNKNOWN]


def mask_name(full_name: str) -> str:
    """`Nguyễn Văn An` → `N. V. An`: every part but the last becomes its initial and a dot."""
    parts = full_name.split()
    return " ".join([f"{part[0]}." for part in parts[:-1]] + parts[-1:])


@dataclass(frozen=True)
class NumberVerdict:
    """The part of a verdict that depends on the number alone, and so is cached per number:
    read-only, and nothing in it that the answer does not show."""

    status: str = UNKNOWN
    carriers: tuple[dict, ...] = ()
    staff: tuple[dict, ...] = ()
    report_count: int = 0

    def is_of(self, carrier_slug: str) -> bool:
        """The number is this carrier's: an official channel of it, or its staff's now."""
        return self.status in (OFFICIAL, VERIFIED) and any(
            carrier["slug"] == carrier_slug for carrier in self.carriers
        )


def _compute_number_verdict(e164: str) -> NumberVerdict:
    facts = selectors.number_facts(e164)
    count = facts.report_count
    if facts.hotline_carriers:
        return NumberVerdict(OFFICIAL, tuple(facts.hotline_carriers), report_count=count)
    active = [registration for registration in facts.registrations if registration.active_now]
    if active:
        staff = tuple(
            {
                "carrier": registration.carrier_slug,
                "display_name": mask_name(registration.full_name),
                "employee_code": registration.employee_code,
            }
            for registration in active
        )
        return NumberVerdict(VERIFIED, _distinct_carriers(active), staff, count)
    if facts.registrations:
        return NumberVerdict(REVOKED, _distinct_carriers(facts.registrations), report_count=count)
    if count >= settings.REPORT_THRESHOLD:
        return NumberVerdict(REPORTED, report_count=count)
    return NumberVerdict(report_count=count)


def _distinct_carriers(registrations) -> tuple[dict, ...]:
    carriers = {r.carrier_slug: r.carrier_name for r in registrations}
    return tuple({"slug": slug, "name": name} for slug, name in carriers.items())


def number_verdict(
    e164: str, prefetched: dict | None = None, computed: dict | None = None
) -> NumberVerdict:
    """The cached number verdict; registry.freshness drops it on every write that changes it.
    `prefetched`: cache values the caller already fetched (a missing key is a known miss);
    `computed`: where a verdict computed on a miss goes, for the caller to cache with what
    else it computes (verify); without it, the verdict is cached at once."""
    key = verdict_key(e164)
    verdict = prefetched.get(key) if prefetched is not None else resilient_cache.get(key)
    if not isinstance(verdict, NumberVerdict):  # a miss, or an entry of an older release
        verdict = _compute_number_verdict(e164)
        if computed is None:
            resilient_cache.set(key, verdict, settings.VERDICT_CACHE_SECONDS)
        else:
            computed[key] = verdict
    return verdict


def verdict_keys(raw) -> list[str]:
    """The cache key of the verdict of the number `raw` stands for, to fetch in the same
    round trip as the rate limits; none for a text that is no number."""
    e164 = _number_or_none(raw)
    return [verdict_key(e164)] if e164 else []


def verification_keys(data) -> list[str]:
    """verdict_keys of the body's number, and the key of the number's proofs when the body
    asks about a parcel or the recipient's number (only then does a verification read
    them: a plain lookup does not fetch and unpickle them for nothing)."""
    e164 = _number_or_none(data.get("number"))
    if e164 is None:
        return []
    asks = any(
        isinstance(value := data.get(field), str) and value.strip()
        for field in ("tracking_code", "recipient_phone")
    )
    return [verdict_key(e164), proofs_key(e164)] if asks else [verdict_key(e164)]


def _number_or_none(raw) -> str | None:
    try:
        return phones.normalize(raw)
    except phones.InvalidPhoneNumber:
        return None


class VerificationError(ApplicationError):
    """A question or a report refused for a reason the caller can fix (always a 400)."""


def _unknown_carrier(slug: str) -> VerificationError:
    return VerificationError(
        "unknown_carrier",
        _("No active carrier with this slug: %s") % slug[:50],
        {"field": "claimed_carrier"},
    )


def _claimed(slug: str, verdict: NumberVerdict, prefetched: dict | None) -> dict:
    entry = selectors.carrier_in_directory(slug, prefetched)
    if entry is None:
        raise _unknown_carrier(slug)
    return {
        "slug": entry["slug"],
        "name": entry["name"],
        "matches": verdict.is_of(slug),
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


@dataclass(frozen=True)
class AlertSource:
    """Who asked: an API key, or the client address of a caller without one. Impersonation
    alerts are capped per carrier, hour and source (IMPERSONATION_ALERTS_PER_SOURCE_HOUR).
    `label` is what the carrier is told: a key's prefix (no secret), or for an address an
    opaque tag (an address is personal data; an operator matches the tag to the digest)."""

    kind: str  # "key" or "address"
    identity: str  # the key's id, or the address
    prefix: str = ""  # the key's

    @classmethod
    def key(cls, key_id, prefix: str) -> "AlertSource":
        return cls("key", str(key_id), prefix)

    @classmethod
    def address(cls, address: str) -> "AlertSource":
        return cls("address", address)

    @property
    def digest(self) -> str:
        return _source_digest(self.kind, self.identity)

    @property
    def label(self) -> str:
        return f"key {self.prefix}" if self.kind == "key" else f"address #{self.digest[:12]}"


def _source_digest(kind: str, identity: str) -> str:
    return recipient_digest(f"alert-source:{kind}:{identity}")


def verify(
    number: str,
    lookup: Lookup | None = None,
    *,
    with_details: bool = False,
    prefetched: dict | None = None,
    origin: AlertSource | None = None,
) -> dict:
    """The verdict on `number`, as the API and the web page show it; `origin` is who asked
    (for the cap on impersonation alerts).

    With `with_details` (a verification with a parcel and the recipient's number) it also
    answers `assignment` and `calling_now`."""
    # What a miss computes (the verdict, the number's proofs) is cached at the end, in one
    # round trip.
    computed = {}
    try:
        return _verify(number, lookup or Lookup(), with_details, prefetched, origin, computed)
    finally:
        resilient_cache.set_many(computed, settings.VERDICT_CACHE_SECONDS)


def _verify(
    number: str,
    lookup: Lookup,
    with_details: bool,
    prefetched: dict | None,
    origin: AlertSource | None,
    computed: dict,
) -> dict:
    e164 = phones.normalize_field(number, "number")
    verdict = number_verdict(e164, prefetched, computed)
    answer = {
        "number": e164,
        "status": verdict.status,
        "carriers": list(verdict.carriers),
        "staff": list(verdict.staff),
        "report_count": verdict.report_count,
        "checked_at": timezone.localtime(),
        "claimed_carrier": _claimed(lookup.claimed_carrier, verdict, prefetched)
        if lookup.claimed_carrier
        else None,
    }
    _record_lookup(answer, origin)
    if not with_details:
        return answer

    digest = None
    if lookup.recipient_phone:
        digest = recipient_digest(phones.normalize_field(lookup.recipient_phone, "recipient_phone"))
    proofs = []
    if verdict.status == VERIFIED and (lookup.tracking_code or digest):
        # Only a registered staff number can have proofs.
        proofs = _proofs_about(
            e164,
            tracking_code=lookup.tracking_code or "",
            digest=digest or "",
            prefetched=prefetched,
            computed=computed,
        )
    assigned = _proof_of(proofs, "assignment", lookup.claimed_carrier)
    calling = _proof_of(proofs, "call", lookup.claimed_carrier)
    answer["assignment"] = (
        # An unknown tracking code answers false like a mismatch: nothing tells whether the
        # parcel exists.
        {
            "tracking_code": lookup.tracking_code,
            "matches": assigned is not None,
            "carrier": assigned.carrier_slug if assigned else None,
        }
        if lookup.tracking_code
        else None
    )
    answer["calling_now"] = calling is not None if digest else None
    answer["proof"] = _receipt_subject(answer, calling=calling, assigned=assigned)
    return answer


def _proofs_about(
    e164: str, *, tracking_code: str, digest: str, prefetched: dict | None, computed: dict
) -> list[selectors.Proof]:
    """The proofs about the number for this parcel and recipient, from the number's cached
    proofs (read in one query on a miss, and dropped by registry.freshness like its verdict):
    a number asked about again within VERDICT_CACHE_SECONDS, with any parcel, costs no
    query. Proofs read on a miss go to `computed`, for verify to cache. A number with too
    many open parcels to cache is asked about this one."""
    key = proofs_key(e164)
    proofs = prefetched.get(key) if prefetched is not None else resilient_cache.get(key)
    if not isinstance(proofs, selectors.NumberProofs):
        proofs = computed[key] = selectors.number_proofs(e164)
    if not proofs.complete:
        return selectors.parcel_and_call(e164, tracking_code=tracking_code, digest=digest)
    return proofs.about(tracking_code=tracking_code, digest=digest, now=timezone.now())


def _proof_of(
    proofs: list[selectors.Proof], kind: str, claimed_carrier: str | None
) -> selectors.Proof | None:
    """The first proof of `kind` by carrier name. A proof counts for the carrier that made
    it only: with a claimed carrier, only that carrier's."""
    return next(
        (
            proof
            for proof in proofs
            if proof.kind == kind and claimed_carrier in (None, proof.carrier_slug)
        ),
        None,
    )


def _receipt_subject(
    answer: dict, *, calling: selectors.Proof | None, assigned: selectors.Proof | None
) -> dict:
    """The assurance level, in the spirit of STIR/SHAKEN attestation, and the carrier and
    employee code of the record that gave it: A the carrier says this staff phone is calling
    this recipient now (its call intent), B the number belongs to the staff assigned to the
    parcel (its assignment), C a registered staff number only (the claimed carrier's
    registration when it matches, else the first by carrier name)."""
    if answer["status"] != VERIFIED:
        carriers = answer["carriers"]
        return {
            "level": "none",
            "carrier": carriers[0]["slug"] if carriers else None,
            "employee_code": None,
        }
    for level, proof in (("A", calling), ("B", assigned)):
        if proof is not None:
            return {
                "level": level,
                "carrier": proof.carrier_slug,
                "employee_code": proof.employee_code,
            }
    claimed = (answer["claimed_carrier"] or {}).get("slug")
    staff = answer["staff"]  # sorted by carrier name
    registration = next((entry for entry in staff if entry["carrier"] == claimed), staff[0])
    return {
        "level": "C",
        "carrier": registration["carrier"],
        "employee_code": registration["employee_code"],
    }


GENUINE, NOT_THIS_CARRIER, WRONG_PARCEL = "genuine", "not-this-carrier", "wrong-parcel"
WEB_VERDICTS = [GENUINE, OFFICIAL, NOT_THIS_CARRIER, WRONG_PARCEL, REVOKED, REPORTED, UNKNOWN]


def web_verdict(answer: dict) -> str:
    """What the result page answers about the caller's claim (DESIGN.md, "Whose proof is
    it"): a registered number is no comfort when the caller named another carrier, or when
    it is not the shipper of the parcel the recipient asked about."""
    status = answer["status"]
    claimed = answer.get("claimed_carrier")
    if claimed and status in (VERIFIED, OFFICIAL) and not claimed["matches"]:
        return NOT_THIS_CARRIER
    if status == VERIFIED:
        assignment = answer.get("assignment")
        return WRONG_PARCEL if assignment and not assignment["matches"] else GENUINE
    return status


def receipt_for(answer: dict) -> str:
    """The signed receipt of a verification's answer (a compact JWS)."""
    return receipts.sign(receipt_claims(answer))


def _record_lookup(answer: dict, origin: AlertSource | None) -> None:
    """Counts for the carrier dashboard, and an alert when a caller claimed a carrier
    with a number that is not the carrier's."""
    if answer["status"] == VERIFIED:
        for carrier in answer["carriers"]:
            stats.count(carrier["slug"], DailyLookupStat.Outcome.STAFF)
    metrics.VERDICTS.labels(answer["status"]).inc()
    claimed = answer["claimed_carrier"]
    if claimed and not claimed["matches"]:
        stats.count(claimed["slug"], DailyLookupStat.Outcome.IMPERSONATION)
        carrier = Carrier.objects.get(slug=claimed["slug"])
        alert_record(carrier=carrier, number=answer["number"], source="lookup", origin=origin)


def receipt_claims(answer: dict) -> dict:
    """What a receipt repeats of a verification's answer. Recipient data never enters it."""
    assignment = answer["assignment"]
    return {
        "number": answer["number"],
        "status": answer["status"],
        "carrier": answer["proof"]["carrier"],
        "employee_code": answer["proof"]["employee_code"],
        "assignment_matches": assignment["matches"] if assignment else None,
        "calling_now": answer["calling_now"],
        "level": answer["proof"]["level"],
    }


def call_intents_expire() -> int:
    """Delete call intents past their expiry: they answer nothing any more."""
    deleted, _by_model = CallIntent.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted


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
        raise VerificationError(
            "phone_not_registered",
            _("This phone is not an active phone of an active staff member of this carrier."),
        )
    now = timezone.now()
    intent = CallIntent.objects.create(
        carrier=carrier,
        staff=staff,
        phone=staff_phone,
        recipient_digest=recipient_digest(recipient),
        tracking_code=tracking_code,
        expires_at=now + timedelta(seconds=settings.CALL_INTENT_TTL_SECONDS),
    )
    freshness.proofs_changed([staff_phone])
    return intent


def report_submit(
    *,
    number: str,
    reporter: str,
    claimed_carrier: Carrier | None = None,
    channel: str = ScamReport.Channel.CALL,
    description: str = "",
    origin: AlertSource | None = None,
) -> ScamReport:
    """A recipient's scam report. `reporter` is already a digest (reporter_digest). A report
    naming a carrier that the number is not of raises an impersonation alert to that carrier
    (capped per `origin`, who sent it)."""
    report = ScamReport(
        number=phones.normalize_field(number, "number"),
        reporter=reporter,
        claimed_carrier=claimed_carrier,
        channel=channel,
        description=phones.mask_numbers_in_text(description.strip()),
    )
    _validate_report(report)
    with transaction.atomic():
        report.save()
        if claimed_carrier is not None and not number_verdict(report.number).is_of(
            claimed_carrier.slug
        ):
            alert_record(
                carrier=claimed_carrier, number=report.number, source="report", origin=origin
            )
    freshness.numbers_changed([report.number])
    return report


def report_receive(
    *,
    reporter_kind: str,
    reporter_id: str,
    number: str,
    claimed_carrier: str = "",
    channel: str = ScamReport.Channel.CALL,
    description: str = "",
    origin: AlertSource | None = None,
) -> ScamReport:
    """A report from the web form (`ip`) or the API (`key`): within the per-reporter limit
    (REPORT_RATE_LIMIT), naming a known carrier if any."""
    reporter = reporter_digest(reporter_kind, reporter_id)
    retry_after = ratelimit.hit(f"report:{reporter}", parse_rate(settings.REPORT_RATE_LIMIT))
    if retry_after:
        raise ratelimit.RateLimited(retry_after)
    carrier = None
    if claimed_carrier:
        carrier = Carrier.objects.filter(slug=claimed_carrier, is_active=True).first()
        if carrier is None:
            raise _unknown_carrier(claimed_carrier)
    return report_submit(
        number=number,
        reporter=reporter,
        claimed_carrier=carrier,
        channel=channel,
        description=description,
        origin=origin,
    )


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
        raise VerificationError(
            "invalid", f"{field}: {' '.join(messages)}", {"field": field}
        ) from None


def report_mark_reviewed(*, report: ScamReport) -> ScamReport:
    """The carrier looked into a possible spoofing of its staff number."""
    if report.reviewed_at is None:
        report.reviewed_at = timezone.now()
        report.save(update_fields=["reviewed_at"])
    return report


def number_clear(*, number: str, reason: str, user) -> NumberClearance:
    """A superuser clears a wrongly reported number: the reports so far stop counting; the
    reason and who decided are kept."""
    if not reason.strip():
        raise VerificationError("invalid", _("A reason is required."), {"field": "reason"})
    clearance = NumberClearance.objects.create(
        number=phones.normalize_field(number, "number"), reason=reason.strip(), cleared_by=user
    )
    freshness.numbers_changed([clearance.number])
    return clearance


ALERT_EVENTS = {
    ImpersonationAlert.Kind.IMPERSONATION: "impersonation.detected",
    ImpersonationAlert.Kind.SHARED_NUMBER: "shared_number",
    ImpersonationAlert.Kind.DIGEST: "impersonation_digest",
}


@transaction.atomic
def alert_record(
    *, carrier: Carrier, number: str, source: str, origin: AlertSource | None = None
) -> ImpersonationAlert:
    """Count one more sighting of `number` impersonating `carrier`. The first sighting of
    the day creates the alert and, when the carrier has a webhook, its delivery; later ones
    only count, so a campaign does not flood the carrier. Nor do many numbers from one
    `origin`: past IMPERSONATION_ALERTS_PER_SOURCE_HOUR new alerts in an hour, they are only
    counted in that hour's digest (alert_digests_send tells the carrier once)."""
    counter = _sighting_counter(source)
    bump = _one_more_sighting(counter)
    today = timezone.localdate()
    existing = ImpersonationAlert.objects.filter(
        kind=ImpersonationAlert.Kind.IMPERSONATION, carrier=carrier, number=number, day=today
    )
    if existing.update(**bump):
        return existing.get()
    cap_key = _cap_key(carrier, origin) if origin is not None else None
    if cap_key and not _within_cap(cap_key):
        metrics.IMPERSONATION_ALERTS.labels("digest").inc()
        return _digest_count(carrier=carrier, origin=origin, source=source)
    alert, created = ImpersonationAlert.objects.get_or_create(
        kind=ImpersonationAlert.Kind.IMPERSONATION,
        carrier=carrier,
        number=number,
        day=today,
        defaults={"first_source": source, counter: 1},
    )
    if not created:  # another request created it meanwhile: a sighting, not a new alert
        if cap_key:
            resilient_cache.uncount(cap_key)
        existing.update(**bump)
    else:
        metrics.IMPERSONATION_ALERTS.labels("alert").inc()
        if carrier.webhook_url:
            webhook_enqueue(alert=alert)
    return alert


def _hour_start(moment):
    return moment.replace(minute=0, second=0, microsecond=0)


def _cap_key(carrier: Carrier, origin: AlertSource) -> str:
    hour = _hour_start(timezone.now())
    return f"alertcap:{carrier.pk}:{hour:%Y%m%d%H}:{origin.digest}"


def _within_cap(key: str) -> bool:
    """One more new alert from this source and hour: an atomic INCR in the cache (in this
    process while the cache is down, so the cap degrades to one per process)."""
    _values, counts = resilient_cache.fetch([], [(key, 3600 + 60)])
    return counts[key] <= settings.IMPERSONATION_ALERTS_PER_SOURCE_HOUR


def _sighting_counter(source: str) -> str:
    """Which count of an alert a sighting from `source` adds to."""
    return "reports" if source == ImpersonationAlert.Source.REPORT else "lookups"


def _one_more_sighting(counter: str) -> dict:
    # F() so that concurrent sightings add up instead of overwriting each other.
    return {counter: F(counter) + 1, "last_seen": timezone.now()}


def _digest_count(*, carrier: Carrier, origin: AlertSource, source: str) -> ImpersonationAlert:
    counter = _sighting_counter(source)
    hour = _hour_start(timezone.now())
    alert, created = ImpersonationAlert.objects.get_or_create(
        kind=ImpersonationAlert.Kind.DIGEST,
        carrier=carrier,
        hour=hour,
        source=origin.digest,
        defaults={
            "day": timezone.localdate(hour),
            "first_source": source,
            "source_label": origin.label,
            counter: 1,
        },
    )
    if not created:
        ImpersonationAlert.objects.filter(pk=alert.pk).update(**_one_more_sighting(counter))
    return alert


# A sighting counted into an hour's digest commits within milliseconds of the hour's end:
# the digest goes out once the hour has been over this long, so nothing counts in after.
DIGEST_GRACE = timedelta(minutes=1)


def alert_digests_send(*, now=None) -> int:
    """Enqueue the webhook of each digest whose hour is over, once. Safe to run twice or
    concurrently: a digest is locked while its delivery is written."""
    closed = _hour_start((now or timezone.now()) - DIGEST_GRACE)
    due = ImpersonationAlert.objects.filter(
        kind=ImpersonationAlert.Kind.DIGEST, hour__lt=closed, deliveries__isnull=True
    ).exclude(carrier__webhook_url="")
    sent = 0
    for pk in list(due.values_list("pk", flat=True)[:1000]):
        with transaction.atomic():
            alert = (
                ImpersonationAlert.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("carrier")
                .filter(pk=pk)
                .first()
            )
            if alert is not None and not alert.deliveries.exists():
                webhook_enqueue(alert=alert)
                sent += 1
    return sent


@transaction.atomic
def alert_shared_number(*, carrier: Carrier, number: str, shared_with: Carrier):
    """`shared_with` registered `number`, active at `carrier`, as its own staff phone: tell
    `carrier` once for this number and pair of carriers (in the admin, and by webhook)."""
    alert, created = ImpersonationAlert.objects.get_or_create(
        kind=ImpersonationAlert.Kind.SHARED_NUMBER,
        carrier=carrier,
        number=number,
        other_carrier=shared_with,
        defaults={
            "day": timezone.localdate(),
            "first_source": ImpersonationAlert.Source.REGISTRATION,
        },
    )
    if created and carrier.webhook_url:
        webhook_enqueue(alert=alert)
    return alert


def webhook_enqueue(*, alert: ImpersonationAlert) -> WebhookDelivery:
    from .tasks import deliver_webhook

    delivery = WebhookDelivery.objects.create(
        alert=alert, url=alert.carrier.webhook_url, payload={}
    )
    delivery.payload = {
        "id": str(delivery.event_id),
        "type": ALERT_EVENTS[alert.kind],
        "carrier": alert.carrier.slug,
        **_alert_payload(alert),
        "created_at": delivery.created_at.isoformat(),
    }
    delivery.save(update_fields=["payload"])
    enqueue_on_commit(deliver_webhook, delivery.pk)
    return delivery


def _alert_payload(alert: ImpersonationAlert) -> dict:
    """What an event says of its alert. A digest names no number: it counts them."""
    if alert.kind == ImpersonationAlert.Kind.DIGEST:
        return {
            "hour": timezone.localtime(alert.hour).isoformat(),
            "source": alert.source_label,
            "cap": settings.IMPERSONATION_ALERTS_PER_SOURCE_HOUR,
            "count": alert.lookups + alert.reports,
            "lookups": alert.lookups,
            "reports": alert.reports,
        }
    payload = {
        "number": alert.number,
        "first_source": alert.first_source,
        "day": alert.day.isoformat(),
    }
    if alert.other_carrier is not None:
        payload["shared_with"] = alert.other_carrier.slug
    return payload


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`: the time is signed too,
    so a receiver can refuse replays of old events."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def webhook_attempt(*, delivery_id: int) -> WebhookDelivery | None:
    """POST one delivery once. Its status afterwards: `delivered`, `pending` (try again
    later) or `failed` (gave up after WEBHOOK_MAX_ATTEMPTS). A delivery already delivered or
    failed is left alone, so a repeated task does nothing."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update()
            .select_related("alert__carrier")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
            return delivery
        delivery.attempts += 1
        delivery.save(update_fields=["attempts"])
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    secret = delivery.alert.carrier.webhook_secret
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "shipper-registry-webhooks/1",
        "X-Registry-Event-Id": str(delivery.event_id),
        "X-Registry-Signature": webhook_signature(secret, int(time.time()), body),
    }
    try:
        status = outbound.post(delivery.url, body, headers, settings.WEBHOOK_TIMEOUT_SECONDS)
        # A redirect is a failure too: following it would send the event where nobody checked.
        error = "" if 200 <= status < 300 else f"HTTP {status}"
    except outbound.UnsafeUrl as exc:
        error = f"refused: {exc}"[:500]
    except (OSError, ValueError, http.client.HTTPException) as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    if not error:
        delivery.status, delivery.delivered_at, delivery.last_error = (
            WebhookDelivery.Status.DELIVERED,
            timezone.now(),
            "",
        )
    else:
        delivery.last_error = error
        if delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            delivery.status = WebhookDelivery.Status.FAILED
        else:
            # Exponential backoff: 1, 2, 4… times WEBHOOK_RETRY_BASE_SECONDS.
            backoff = settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (delivery.attempts - 1)
            delivery.next_attempt_at = timezone.now() + timedelta(seconds=backoff)
    delivery.save(update_fields=["status", "delivered_at", "last_error", "next_attempt_at"])
    return delivery


def records_purge() -> dict[str, int]:
    """Retention: scam reports after REPORT_RETENTION_DAYS, alerts not seen for
    ALERT_RETENTION_DAYS, webhook deliveries done with (delivered or failed) after
    WEBHOOK_DELIVERY_RETENTION_DAYS. Running it twice changes nothing more."""
    now = timezone.now()
    reports = ScamReport.objects.filter(
        created_at__lt=now - timedelta(days=settings.REPORT_RETENTION_DAYS)
    )
    numbers = set(reports.values_list("number", flat=True))
    deleted_reports, _by_model = reports.delete()
    freshness.numbers_changed(numbers)  # their report counts change
    deliveries = WebhookDelivery.objects.exclude(status=WebhookDelivery.Status.PENDING).filter(
        created_at__lt=now - timedelta(days=settings.WEBHOOK_DELIVERY_RETENTION_DAYS)
    )
    deleted_deliveries, _by_model = deliveries.delete()
    # An alert goes with its deliveries, except one still being tried (the sweep needs it).
    alerts = ImpersonationAlert.objects.filter(
        last_seen__lt=now - timedelta(days=settings.ALERT_RETENTION_DAYS)
    ).exclude(deliveries__status=WebhookDelivery.Status.PENDING)
    deleted_alerts = alerts.count()
    alerts.delete()
    return {"reports": deleted_reports, "alerts": deleted_alerts, "deliveries": deleted_deliveries}


def stats_rollup(*, days) -> int:
    """Copy the lookup counters of `days` from the cache into DailyLookupStat. Sets rather
    than adds, so running it twice changes nothing."""
    slugs = dict(Carrier.objects.values_list("slug", "pk"))
    counts = stats.read(days, list(slugs), list(DailyLookupStat.Outcome.values))
    rows = [
        DailyLookupStat(carrier_id=slugs[slug], day=day, outcome=outcome, count=value)
        for (day, slug, outcome), value in counts.items()
    ]
    DailyLookupStat.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["carrier", "day", "outcome"],
        update_fields=["count"],
    )
    return len(rows)


def webhook_retry(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Give a failed delivery a fresh round of attempts, same event id."""
    from .tasks import deliver_webhook

    delivery.status, delivery.attempts = WebhookDelivery.Status.PENDING, 0
    delivery.next_attempt_at = timezone.now()
    delivery.save(update_fields=["status", "attempts", "next_attempt_at"])
    enqueue_on_commit(deliver_webhook, delivery.pk)
    return delivery
