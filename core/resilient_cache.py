"""The cache as the request path uses it.

On Redis, every call goes through one redis-py client of this module's, with Django's key
names and value format (what Django's cache API writes, this reads, and the other way
round): Django's Redis backend builds a new client object for each call, which cost a
cache write ~150 µs of CPU against ~50 µs for the round trip itself. Beyond that, two
things Django's cache API does not give us:
- several reads and counter increments in ONE round trip to Redis (a pipeline): the lookup
  path reads the API key's entry and the number's verdict and counts the rate limit at once;
- an outage that degrades instead of failing: with Redis down, reads miss (the caller falls
  back to the database), writes are dropped, and rate limits count in this process instead
  of switching off.
"""

import logging
import threading
import time

import redis
from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.redis import RedisSerializer

from core import metrics

logger = logging.getLogger(__name__)

_local_lock = threading.Lock()
_local_counts: dict[str, tuple[int, float]] = {}  # window key -> (count, expires at)
_pending_increments: dict[str, int] = {}  # counters to add on the next round trip
_pending_lock = threading.Lock()


# After a failure, this process leaves the cache alone for this long. Each call to a hung
# Redis costs its socket timeout (a second), and a request makes several: without the pause
# a frozen Redis made every lookup take 4 s and every write 5 s. With it, one request pays
# the second and the next ones go straight to the database until the pause is over.
OUTAGE_PAUSE_SECONDS = 5.0
_paused_until = 0.0


def _warn(exc: Exception) -> None:
    global _paused_until
    _paused_until = time.monotonic() + OUTAGE_PAUSE_SECONDS
    metrics.CACHE_FAILURES.inc()
    logger.warning("cache unavailable (%s): degraded", type(exc).__name__)


def available() -> bool:
    """False while this process pauses its use of the cache after a failure."""
    return time.monotonic() >= _paused_until


def resume() -> None:
    """The cache answered (the readiness probe asked it): end the pause."""
    global _paused_until
    _paused_until = 0.0


def get(key: str, default=None):
    if not available():
        return default
    try:
        client = _redis()
        if client is None:
            value = cache.get(key, _MISSING)
        else:
            raw = client.get(cache.make_key(key))
            value = _MISSING if raw is None else _serializer.loads(raw)
    except Exception as exc:  # noqa: BLE001  any cache failure is a miss
        _warn(exc)
        return default
    hit = value is not _MISSING
    metrics.cache_reads(int(hit), int(not hit))
    return value if hit else default


_MISSING = object()


def set(key: str, value, timeout: int) -> None:  # noqa: A001
    if not available():
        return
    try:
        client = _redis()
        if client is None:
            cache.set(key, value, timeout)
        else:
            client.set(cache.make_key(key), _serializer.dumps(value), ex=timeout)
    except Exception as exc:  # noqa: BLE001
        _warn(exc)


def set_many(values: dict, timeout: int) -> None:
    """`values` by key, in one round trip."""
    if not values or not available():
        return
    try:
        client = _redis()
        if client is None:
            cache.set_many(values, timeout)
        else:
            pipe = client.pipeline(transaction=False)
            for key, value in values.items():
                pipe.set(cache.make_key(key), _serializer.dumps(value), ex=timeout)
            pipe.execute()
    except Exception as exc:  # noqa: BLE001
        _warn(exc)


def delete_many(keys: list[str]) -> None:
    # Dropped during a pause like any other call: what it would have deleted is served
    # stale for at most its timeout (VERDICT_CACHE_SECONDS), the contract's bound.
    if not available() or not keys:
        return
    try:
        client = _redis()
        if client is None:
            cache.delete_many(keys)
        else:
            client.delete(*(cache.make_key(key) for key in keys))
    except Exception as exc:  # noqa: BLE001
        _warn(exc)


def add_later(key: str, amount: int = 1) -> None:
    """Add to a counter on the next round trip this process makes (statistics that must not
    cost a round trip of their own)."""
    _add_pending({key: amount})


def _add_pending(increments: dict[str, int]) -> None:
    with _pending_lock:
        for key, amount in increments.items():
            _pending_increments[key] = _pending_increments.get(key, 0) + amount


def _take_pending() -> dict[str, int]:
    global _pending_increments
    with _pending_lock:
        pending, _pending_increments = _pending_increments, {}
    return pending


def _local_hit(key: str, ttl: int) -> int:
    now = time.monotonic()
    with _local_lock:
        if len(_local_counts) > 10_000:
            for stale in [k for k, (_c, until) in _local_counts.items() if until < now]:
                del _local_counts[stale]
        count, until = _local_counts.get(key, (0, now + ttl))
        if until < now:
            count, until = 0, now + ttl
        _local_counts[key] = (count + 1, until)
        return count + 1


COUNTER_TTL = 3 * 86400


_REDIS_BACKEND = "django.core.cache.backends.redis.RedisCache"
_clients: dict[tuple, redis.Redis] = {}
# Values in Django's own format (an int as is, anything else pickled), so that what a
# pipeline reads is what cache.set wrote, and the other way round.
_serializer = RedisSerializer()


def _redis() -> redis.Redis | None:
    """redis-py's own client on the cache's server, database and timeouts, for what Django's
    cache API cannot do (a pipeline, a script); None when the cache is not Redis (the local
    memory of the embedded default). Django's backend keeps its client to itself."""
    config = settings.CACHES["default"]
    if config["BACKEND"] != _REDIS_BACKEND:
        return None
    location = config["LOCATION"].split(",")[0]  # the first server is the one written to
    options = config.get("OPTIONS", {})
    key = (location, options.get("socket_connect_timeout"), options.get("socket_timeout"))
    if key not in _clients:
        _clients[key] = redis.Redis.from_url(
            location, socket_connect_timeout=key[1], socket_timeout=key[2]
        )
    return _clients[key]


def fetch(keys: list[str], counters: list[tuple[str, int]]) -> tuple[dict, dict]:
    """Values of `keys` (missing ones left out), and each counter's value after adding one
    (`counters` are (key, ttl): the key expires ttl seconds after its first count). One
    round trip on Redis; pending `add_later` counters ride along."""
    try:
        if not available():
            raise ConnectionError("paused after a failure")
        client = _redis()
        if client is not None:
            values, counts = _fetch_redis(client, keys, counters)
        else:
            values, counts = _fetch_generic(keys, counters)
        metrics.cache_reads(len(values), len(keys) - len(values))
        return values, counts
    except Exception as exc:  # noqa: BLE001
        if available():
            _warn(exc)
        return {}, {key: _local_hit(key, ttl) for key, ttl in counters}


def _fetch_generic(keys, counters):
    for key, amount in _take_pending().items():
        cache.add(key, 0, COUNTER_TTL)
        cache.incr(key, amount)
    values = cache.get_many(keys) if keys else {}
    counts = {}
    for key, ttl in counters:
        cache.add(key, 0, ttl)
        try:
            counts[key] = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, ttl)
            counts[key] = 1
    return values, counts


def _fetch_redis(client: redis.Redis, keys, counters):
    # Django's cache API has no pipeline: redis-py's, with Django's key names and format.
    # make_key, not make_and_validate_key: the validation warns of keys memcached would
    # refuse, costs ~10 µs a request on the hot path, and Redis takes any key.
    name = cache.make_key
    pipe = client.pipeline(transaction=False)
    # Pending counters first, so that a read in the same trip sees them.
    pending = _take_pending()
    for key, amount in pending.items():
        pipe.set(name(key), 0, ex=COUNTER_TTL, nx=True)
        pipe.incrby(name(key), amount)
    for key in keys:
        pipe.get(name(key))
    for key, ttl in counters:
        pipe.set(name(key), 0, ex=ttl, nx=True)
        pipe.incr(name(key))
    try:
        replies = pipe.execute()[2 * len(pending) :]
    except Exception:
        _add_pending(pending)  # the statistics go on the next try
        raise
    values = {
        key: _serializer.loads(raw)
        for key, raw in zip(keys, replies[: len(keys)], strict=True)
        if raw is not None
    }
    increments = replies[len(keys) :]
    counts = {key: int(increments[2 * i + 1]) for i, (key, _ttl) in enumerate(counters)}
    return values, counts


# Atomic on the server: a counter taken back to nothing is deleted, not left at zero.
_UNCOUNT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = redis.call('DECR', KEYS[1])
if n <= 0 then redis.call('DEL', KEYS[1]) end
return n
"""


def uncount(key: str) -> None:
    """Take back one count of a `fetch` counter; a counter back at zero is removed, so that
    counts taken back leave no key behind."""
    with _local_lock:
        if key in _local_counts:
            count, until = _local_counts[key]
            if count <= 1:
                del _local_counts[key]
            else:
                _local_counts[key] = (count - 1, until)
    if not available():
        return
    try:
        client = _redis()
        if client is not None:
            client.eval(_UNCOUNT, 1, cache.make_and_validate_key(key))
        elif cache.get(key) is not None and cache.decr(key) <= 0:
            cache.delete(key)
    except ValueError:
        pass  # expired meanwhile: nothing to take back
    except Exception as exc:  # noqa: BLE001
        _warn(exc)


def clear() -> None:
    """Empty the cache and this process's own counters (tests start from nothing)."""
    _take_pending()
    with _local_lock:
        _local_counts.clear()
    resume()
    cache.clear()
