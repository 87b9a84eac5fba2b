"""The carrier dashboard's numbers: the last 30 days, one carrier."""

from datetime import date, timedelta

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from registry.models import Carrier

from . import stats
from .models import DailyLookupStat, ImpersonationAlert, ScamReport, WebhookDelivery

DAYS = 30
# Lazy: each title is translated in the language of the request that shows it.
SERIES = [
    ("staff_lookups", _("Lookups of your staff numbers")),
    ("impersonation_lookups", _("Lookups where a caller claimed you from another number")),
    ("reports", _("Scam reports naming you")),
    ("alerts_delivered", _("Alerts delivered to your webhook")),
    ("parcel_page_visits", _("Visits to your parcel pages (the QR code on your labels)")),
]


def _per_day(queryset, field: str) -> dict[date, int]:
    tz = timezone.get_current_timezone()
    rows = queryset.annotate(day=TruncDate(field, tzinfo=tz)).values("day").annotate(n=Count("id"))
    return {row["day"]: row["n"] for row in rows}


def series(carrier: Carrier, today: date | None = None) -> dict:
    """{"days": [...], "<series>": [count per day, …], "top_numbers": [...]} for 30 days."""
    today = today or timezone.localdate()
    days = [today - timedelta(days=offset) for offset in range(DAYS - 1, -1, -1)]
    since = timezone.make_aware(timezone.datetime.combine(days[0], timezone.datetime.min.time()))

    lookups = {
        (row.day, row.outcome): row.count
        for row in DailyLookupStat.objects.filter(carrier=carrier, day__gte=days[0])
    }
    # The rollup runs every few minutes; the counters in the cache are fresher.
    live = stats.read(stats.recent_days(), [carrier.slug], list(DailyLookupStat.Outcome.values))
    for (day, _slug, outcome), value in live.items():
        lookups[(day, outcome)] = max(value, lookups.get((day, outcome), 0))

    reports = _per_day(
        ScamReport.objects.filter(claimed_carrier=carrier, created_at__gte=since), "created_at"
    )
    delivered = _per_day(
        WebhookDelivery.objects.filter(
            alert__carrier=carrier,
            status=WebhookDelivery.Status.DELIVERED,
            delivered_at__gte=since,
        ),
        "delivered_at",
    )
    top = (
        ScamReport.objects.filter(claimed_carrier=carrier, created_at__gte=since)
        .exclude(status=ScamReport.Status.REJECTED)
        .values("number")
        .annotate(reporters=Count("reporter", distinct=True), reports=Count("id"))
        .order_by("-reporters", "-reports", "number")[:10]
    )
    return {
        "days": days,
        "staff_lookups": [lookups.get((day, "staff"), 0) for day in days],
        "impersonation_lookups": [lookups.get((day, "impersonation"), 0) for day in days],
        "reports": [reports.get(day, 0) for day in days],
        "alerts_delivered": [delivered.get(day, 0) for day in days],
        "parcel_page_visits": [lookups.get((day, "parcel_page"), 0) for day in days],
        "top_numbers": list(top),
        "shared_numbers": list(
            ImpersonationAlert.objects.filter(
                carrier=carrier, kind=ImpersonationAlert.Kind.SHARED_NUMBER
            )
            .select_related("other_carrier")
            .order_by("-first_seen")[:50]
        ),
    }


def bars(values: list[int], width: int = 600, height: int = 120) -> dict:
    """Geometry of an SVG bar chart, drawn on the server: no script, no CDN."""
    peak = max(values) or 1
    step = width / len(values)
    return {
        "width": width,
        "height": height,
        "peak": max(values),
        "total": sum(values),
        "bars": [
            {
                "x": round(index * step + 1, 1),
                "w": round(step - 2, 1),
                "h": round(value / peak * (height - 4), 1),
                "y": round(height - value / peak * (height - 4), 1),
                "value": value,
            }
            for index, value in enumerate(values)
        ],
    }
