"""Which cached answers a write made stale.

Verdicts are cached per number and the carrier directory as a whole. The services that
write call these functions (no signals): the cache entries go when the transaction commits,
so the very next lookup, on any worker, reads the new truth from the database."""

import logging

from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

CARRIERS_KEY = "carriers:v1"


def verdict_key(e164: str) -> str:
    return f"verdict:{e164}"


def _delete_after_commit(keys: list[str]) -> None:
    def delete():
        try:
            cache.delete_many(keys)
        except Exception:  # noqa: BLE001  a cache outage must not undo a committed write
            logger.warning("cache unavailable: %d stale keys left to expire", len(keys))

    if keys:
        transaction.on_commit(delete)


def numbers_changed(numbers) -> None:
    _delete_after_commit([verdict_key(number) for number in set(numbers)])


def carriers_changed() -> None:
    _delete_after_commit([CARRIERS_KEY])
