"""Fixed-window rate limits as atomic counters in the cache (Redis in production).

One INCR per request, whatever the limit, and no race between reading and writing the count
(DRF's own throttle keeps a list of timestamps per client, which races and grows with the
limit)."""

import time
from dataclasses import dataclass

from django.conf import settings

from . import resilient_cache
from .rates import Rate


@dataclass(frozen=True)
class Window:
    """The current fixed window of `rate` for `bucket`: its counter key in the cache."""

    bucket: str
    rate: Rate
    started: float

    @classmethod
    def now(cls, bucket: str, rate: Rate) -> "Window":
        return cls(bucket, rate, time.time())

    @property
    def index(self) -> int:
        return int(self.started // self.rate.seconds)

    @property
    def key(self) -> str:
        return f"rl:{self.bucket}:{self.rate.seconds}:{self.index}"

    @property
    def counter(self) -> tuple[str, int]:
        """(key, ttl) for resilient_cache.fetch: the key outlives its window by a second."""
        return self.key, self.rate.seconds + 1

    def retry_after(self, count: int) -> int:
        """0 when `count` is within the limit, else the seconds until the window resets."""
        if count <= self.rate.count:
            return 0
        return max(1, int((self.index + 1) * self.rate.seconds - time.time() + 0.999))


def hit(bucket: str, rate: Rate) -> int:
    """Count one request in `bucket`; 0 when allowed, else the seconds until the window
    resets (what Retry-After says). One atomic INCR in the cache, or in this process while
    the cache is down: limits degrade, they never switch off."""
    window = Window.now(bucket, rate)
    _values, counts = resilient_cache.fetch([], [window.counter])
    return window.retry_after(counts[window.key])


def client_ip(request) -> str:
    """REMOTE_ADDR, unless TRUSTED_PROXY_COUNT proxies in front of us (plus scripts/serve's
    own nginx) each append the address they saw to X-Forwarded-For: then the entry that
    many from the right. Entries
    further left are whatever the client wrote, so they never count."""
    remote = request.META.get("REMOTE_ADDR", "")
    trusted = settings.TRUSTED_PROXY_COUNT + (1 if settings.WEB_TIER_PROXY else 0)
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
