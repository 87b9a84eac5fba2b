"""Reads behind the verdict. Cached where the services that write say what became stale
(registry.freshness)."""

from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef

from registry import phones
from registry.freshness import CARRIERS_KEY
from registry.models import Carrier, OfficialChannel, StaffPhone
from registry.selectors import phones_active_now

from .models import NumberClearance, ScamReport

DIRECTORY_SECONDS = 300


def carrier_directory() -> list[dict]:
    """Active carriers with their official channels, as the public sees them."""
    directory = cache.get(CARRIERS_KEY)
    if directory is None:
        directory = [
            {
                "slug": carrier.slug,
                "name": carrier.name,
                "channels": [
                    {
                        "kind": channel.kind,
                        "value": channel.value,
                        "label": channel.label,
                        "display": phones.display(channel.value)
                        if channel.kind == OfficialChannel.Kind.HOTLINE
                        else channel.value,
                    }
                    for channel in carrier.channels.all()
                ],
            }
            for carrier in Carrier.objects.filter(is_active=True).prefetch_related("channels")
        ]
        cache.set(CARRIERS_KEY, directory, DIRECTORY_SECONDS)
    return directory


def carrier_in_directory(slug: str) -> dict | None:
    return next((entry for entry in carrier_directory() if entry["slug"] == slug), None)


def hotline_carriers(e164: str) -> list[dict]:
    return [
        {"slug": slug, "name": name}
        for slug, name in OfficialChannel.objects.filter(
            kind=OfficialChannel.Kind.HOTLINE, value=e164, carrier__is_active=True
        )
        .values_list("carrier__slug", "carrier__name")
        .distinct()
    ]


def registrations(e164: str) -> list[StaffPhone]:
    """Every registration of the number, each marked `active_now` by the one rule of what
    an active phone is (registry.selectors.phones_active_now)."""
    return list(
        StaffPhone.objects.filter(number=e164)
        .select_related("staff", "carrier")
        .annotate(active_now=Exists(phones_active_now().filter(pk=OuterRef("pk"))))
        .order_by("carrier__name", "staff__employee_code")
    )


def report_count(e164: str) -> int:
    """Distinct reporters of the number, leaving out reports rejected as spam and those made
    before a superuser last cleared the number."""
    cleared = NumberClearance.objects.filter(number=e164, cleared_at__gte=OuterRef("created_at"))
    return (
        ScamReport.objects.filter(number=e164)
        .exclude(status=ScamReport.Status.REJECTED)
        .exclude(Exists(cleared))
        .aggregate(reporters=Count("reporter", distinct=True))["reporters"]
    )
