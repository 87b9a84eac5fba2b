"""Lookup counts for the carrier dashboard, kept as counters in the cache so that a lookup
writes no database row; `rollup` copies them into DailyLookupStat (a beat job)."""

import logging
from datetime import date, timedelta

from django.core.cache import cache
from django.utils import timezone

logger = logging.getLogger(__name__)

KEEP_SECONDS = 3 * 86400  # the rollup runs often; counters outlive a day's end comfortably


def counter_key(day: date, carrier_slug: str, outcome: str) -> str:
    return f"stats:{day.isoformat()}:{carrier_slug}:{outcome}"


def count(carrier_slug: str, outcome: str) -> None:
    key = counter_key(timezone.localdate(), carrier_slug, outcome)
    try:
        cache.add(key, 0, KEEP_SECONDS)
        cache.incr(key)
    except Exception:  # noqa: BLE001  statistics never fail a lookup
        logger.warning("cache unavailable: a lookup was not counted")


def read(days: list[date], carrier_slugs: list[str], outcomes: list[str]) -> dict[tuple, int]:
    keys = {
        counter_key(day, slug, outcome): (day, slug, outcome)
        for day in days
        for slug in carrier_slugs
        for outcome in outcomes
    }
    found = cache.get_many(list(keys))
    return {keys[key]: value for key, value in found.items()}


def recent_days() -> list[date]:
    today = timezone.localdate()
    return [today - timedelta(days=1), today]
