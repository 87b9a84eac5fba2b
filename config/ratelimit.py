"""Fixed-window rate limits as atomic counters in the cache (Redis in production).

One INCR per request, whatever the limit, and no race between reading and writing the count
(DRF's own throttle keeps a list of timestamps per client, which races and grows with the
limit)."""

import time

from django.conf import settings
from django.core.cache import cache

from .rates import Rate


def hit(bucket: str, rate: Rate) -> int:
    """Count one request in `bucket`; 0 when allowed, else the seconds until the window
    resets (what Retry-After says)."""
    now = time.time()
    window = int(now // rate.seconds)
    key = f"rl:{bucket}:{rate.seconds}:{window}"
    # add() is a no-op when the key exists, so the first request of a window creates it
    # with its expiry and every request (that one included) counts through an atomic incr.
    cache.add(key, 0, timeout=rate.seconds + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr: this request opens the window
        cache.add(key, 1, timeout=rate.seconds + 1)
        count = 1
    if count <= rate.count:
        return 0
    return max(1, int((window + 1) * rate.seconds - now + 0.999))


def client_ip(request) -> str:
    """REMOTE_ADDR, unless TRUSTED_PROXY_COUNT proxies in front of us each append the
    address they saw to X-Forwarded-For: then the entry that many from the right. Entries
    further left are whatever the client wrote, so they never count."""
    remote = request.META.get("REMOTE_ADDR", "")
    trusted = settings.TRUSTED_PROXY_COUNT
    if trusted <= 0:
        return remote
    chain = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    chain = [part for part in chain if part]
    if len(chain) < trusted:
        return remote
    return chain[-trusted]


class RateLimited(Exception):
    """Raised by a service that keeps its own limit (scam reports per reporter)."""

    def __init__(self, retry_after: int):
        super().__init__(f"rate limited, retry after {retry_after}s")
        self.retry_after = retry_after
