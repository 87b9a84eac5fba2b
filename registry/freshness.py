"""Which cached answers a write made stale.

Verdicts are cached per number, and beside each the proofs a verification can find about
the number (its staff's open parcels and announced calls); the carrier directory as a
whole. The services that write call these functions (no signals): the cache entries go
when the transaction commits, so the very next lookup, on any worker, reads the new truth
from the database."""

from django.db import transaction

from core import resilient_cache

CARRIERS_KEY = "carriers:v1"


def verdict_key(e164: str) -> str:
    return f"verdict:{e164}"


def proofs_key(e164: str) -> str:
    return f"proofs:{e164}"


def _delete_after_commit(keys: list[str]) -> None:
    # core.resilient_cache.delete_many shrugs off an outage: a committed write is never undone by
    # the cache, and the entries expire on their own (VERDICT_CACHE_SECONDS).
    if keys:
        transaction.on_commit(lambda: resilient_cache.delete_many(keys))


def numbers_changed(numbers) -> None:
    """Whatever the numbers are (a staff phone, a hotline, reported) changed: their verdicts
    and, since whose staff they are may have changed, their proofs."""
    numbers = set(numbers)
    _delete_after_commit(
        [verdict_key(number) for number in numbers] + [proofs_key(number) for number in numbers]
    )


def proofs_changed(numbers) -> None:
    """A parcel was assigned, reassigned or closed, or a call announced, for the staff of
    these numbers."""
    _delete_after_commit([proofs_key(number) for number in set(numbers)])


def carriers_changed() -> None:
    _delete_after_commit([CARRIERS_KEY])
