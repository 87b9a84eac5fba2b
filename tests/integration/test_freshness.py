"""Writes made while Redis could not be told: a staff member terminated and a key revoked
while Redis is frozen. Their stale cache entries could not be dropped, so what bounds the
staleness is the entries' own lifetime: at most 60 s (it was 300 s for keys)."""

import os
import signal

import pytest
from django.core.cache import cache as django_cache

from core import resilient_cache
from registry import services as registry_services
from registry.freshness import verdict_key
from registry.models import ClientAPIKey
from tests.api_client import call, make_key
from tests.integration.test_faults import redis_server  # noqa: F401  (a fixture)

pytestmark = pytest.mark.integration
LOOKUP = "/api/v1/numbers/0912345678/"


def _ttl(key: str) -> int:
    client = django_cache._cache.get_client(write=False)  # noqa: SLF001
    return client.ttl(django_cache.make_and_validate_key(key))


@pytest.mark.django_db(transaction=True)
def test_writes_made_while_redis_was_frozen_are_seen_within_sixty_seconds(
    client,
    redis_server,  # noqa: F811
    staff_a,
):
    raw = make_key(None, "partner")
    assert call(client, "GET", LOOKUP, raw).json()["status"] == "verified"
    prefix = raw.partition(".")[0]
    cached = [verdict_key("+84912345678"), f"apikey:{prefix}"]
    assert all(django_cache.get(key) is not None for key in cached)

    os.kill(redis_server.process.pid, signal.SIGSTOP)
    try:
        registry_services.staff_revoke(staff=staff_a)
        registry_services.api_key_revoke(api_key=ClientAPIKey.objects.get(prefix=prefix))
        # The database answers while the cache is away: both writes show at once.
        assert call(client, "GET", LOOKUP, make_key(None, "other")).json()["status"] == "revoked"
        assert call(client, "GET", LOOKUP, raw).status_code == 401
    finally:
        os.kill(redis_server.process.pid, signal.SIGCONT)
    resilient_cache.resume()  # what the readiness probe does once Redis answers again

    # An entry a write could not drop is still there, stale (the key's: its delete was not
    # even sent), and ends on its own within 60 s. (-2: gone, the verdict's delete reached
    # Redis once it woke up.)
    verdict_ttl, key_ttl = (_ttl(key) for key in cached)
    assert 0 < key_ttl <= 60 and verdict_ttl <= 60, (verdict_ttl, key_ttl)
