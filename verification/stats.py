"""Lookup counts for the carrier dashboard, kept as counters in the cache so that a lookup
writes no database row and costs no round trip of its own (the increments ride along with
the next request's, core.resilient_cache.add_later); the rollup beat job copies them into
DailyLookupStat."""

from datetime import date, timedelta

from django.utils import timezone

from core import resilient_cache


def counter_key(day: date, carrier_slug: str, outcome: str) -> str:
    return f"stats:{day.isoformat()}:{carrier_slug}:{outcome}"


def count(carrier_slug: str, outcome: str) -> None:
    resilient_cache.add_later(counter_key(timezone.localdate(), carrier_slug, outcome))


def read(days: list[date], carrier_slugs: list[str], outcomes: list[str]) -> dict[tuple, int]:
    keys = {
        counter_key(day, slug, outcome): (day, slug, outcome)
        for day in days
        for slug in carrier_slugs
        for outcome in outcomes
    }
    # The fetch also sends this process's pending counts.
    found, _counts = resilient_cache.fetch(list(keys), [])
    return {keys[key]: value for key, value in found.items()}


def recent_days() -> list[date]:
    today = timezone.localdate()
    return [today - timedelta(days=1), today]
