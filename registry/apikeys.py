"""API key authentication and rate limits for DRF.

Verified keys are cached so that a request costs no database query; revoking, expiring or
re-scoping a key goes through registry.services, which drops the cached entry (`forget`).
`ApiView` reads the key's entry, counts the rate limit and fetches whatever the view asks
for (a verdict) in one round trip to the cache before DRF authenticates and throttles."""

import hashlib
from dataclasses import asdict, dataclass

from django.conf import settings
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling
from rest_framework.views import APIView

from core import ratelimit, resilient_cache
from core.ratelimit import Window, client_ip
from core.rates import parse_rate

from .models import ClientAPIKey

KEYWORD = "Api-Key"


@dataclass(frozen=True)
class KeyInfo:
    id: str
    prefix: str
    name: str
    carrier_id: int | None
    rate_limit: str
    expires_at: float | None  # POSIX seconds
    digest: str  # sha256 of the raw key: a cache hit is checked against it

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now().timestamp()


def _cache_key(prefix: str) -> str:
    return f"apikey:{prefix}"


def forget(prefix: str) -> None:
    resilient_cache.delete_many([_cache_key(prefix)])


def _digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def _load(raw_key: str, prefix: str) -> KeyInfo | None:
    try:
        api_key = ClientAPIKey.objects.get_from_key(raw_key)
    except ClientAPIKey.DoesNotExist:
        return None
    info = KeyInfo(
        id=api_key.pk,
        prefix=prefix,
        name=api_key.name,
        carrier_id=api_key.carrier_id,
        rate_limit=api_key.rate_limit,
        expires_at=api_key.expiry_date.timestamp() if api_key.expiry_date else None,
        digest=_digest(raw_key),
    )
    # No longer than a verdict: a key revoked while the cache was unreachable (its entry could
    # not be dropped) is refused within VERDICT_CACHE_SECONDS all the same.
    resilient_cache.set(_cache_key(prefix), asdict(info), settings.VERDICT_CACHE_SECONDS)
    return info


def _prefix(raw_key: str) -> str | None:
    """The key's prefix when `raw_key` has the shape of our keys (an alphanumeric prefix, a
    dot, a secret); None otherwise, and then nothing is looked up or counted under it."""
    prefix, dot, secret = raw_key.partition(".")
    if not dot or not secret or len(raw_key) > 200:
        return None
    if not (0 < len(prefix) <= 16 and prefix.isascii() and prefix.isalnum()):
        return None
    return prefix


def verify(raw_key: str, cached: dict | None = None) -> KeyInfo | None:
    """The key's info if `raw_key` is a usable key (known, not revoked, not expired).
    `cached`: the key's cache entry when the caller already fetched it."""
    prefix = _prefix(raw_key)
    if prefix is None:
        return None
    if cached is None:
        cached = resilient_cache.get(_cache_key(prefix))
    if cached is not None and constant_time_compare(cached["digest"], _digest(raw_key)):
        info = KeyInfo(**cached)
    else:
        info = _load(raw_key, prefix)
    if info is None or info.is_expired:
        return None
    return info


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Api-Key <key>`. No header: anonymous (endpoints decide). A header
    with a bad, revoked or expired key: 401."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        raw_key = _raw_key(header)
        if raw_key is None:
            _charge_the_address(request._request, getattr(request._request, "prefetched", None))
            raise exceptions.AuthenticationFailed(
                _("Use the header 'Authorization: Api-Key <key>'.")
            )
        prefetched = getattr(request._request, "prefetched", None)
        info = verify(raw_key, prefetched.key_entry if prefetched else None)
        if info is None:
            _charge_the_address(request._request, prefetched)
            raise exceptions.AuthenticationFailed(
                _("This API key is not valid, or revoked or expired.")
            )
        return (None, info)

    def authenticate_header(self, request):
        return KEYWORD


def _charge_the_address(request, prefetched: "Prefetched | None") -> None:
    """A refused key is counted against the client's address, never against the key it
    names: otherwise anyone who saw a partner's prefix could spend the partner's limit. The
    prefetch counted the named key before anyone knew the key was wrong; that count is
    taken back (and with it the counter of a prefix nobody owns)."""
    if prefetched is not None and not prefetched.window.bucket.startswith("key:"):
        # A header not shaped like a key: the prefetch already counted the address.
        window = prefetched.window
        retry_after = window.retry_after(prefetched.counts[window.key])
    else:
        if prefetched is not None:
            resilient_cache.uncount(prefetched.window.key)
        retry_after = ratelimit.hit(_bucket(request, None), parse_rate(settings.API_RATE_LIMIT))
    if retry_after:
        raise exceptions.Throttled(wait=retry_after)


class HasApiKey(permissions.BasePermission):
    def has_permission(self, request, view):
        if not isinstance(request.auth, KeyInfo):
            raise exceptions.NotAuthenticated(
                _("An API key is required: 'Authorization: Api-Key <key>'.")
            )
        return True


class CarrierKeyRequired(exceptions.PermissionDenied):
    error_code = "carrier_key_required"
    default_detail = _("This endpoint needs a key bound to a carrier.")


class HasCarrierKey(HasApiKey):
    def has_permission(self, request, view):
        super().has_permission(request, view)
        if request.auth.carrier_id is None:
            raise CarrierKeyRequired()
        return True


def _raw_key(header: str) -> str | None:
    keyword, _space, raw_key = header.partition(" ")
    return raw_key.strip() if keyword.lower() == KEYWORD.lower() else None


def _bucket(request, prefix: str | None) -> str:
    """Limits count per key, or per client address for calls without one."""
    return f"key:{prefix}" if prefix else f"ip:{client_ip(request)}"


@dataclass
class Prefetched:
    """What one round trip to the cache brought for this request."""

    values: dict
    counts: dict
    window: Window
    key_cache_key: str | None

    @property
    def key_entry(self) -> dict | None:
        return self.values.get(self.key_cache_key) if self.key_cache_key else None


def prefetch(request, keys: list[str]) -> Prefetched:
    """The key's cache entry, the rate-limit count of the default window and `keys`, in one
    round trip. A key with its own rate_limit is counted again by the throttle."""
    raw_key = _raw_key(request.META.get("HTTP_AUTHORIZATION", ""))
    prefix = _prefix(raw_key) if raw_key else None
    key_cache_key = _cache_key(prefix) if prefix else None
    window = Window.now(_bucket(request, prefix), parse_rate(settings.API_RATE_LIMIT))
    values, counts = resilient_cache.fetch(
        [key_cache_key, *keys] if key_cache_key else keys, [window.counter]
    )
    prefetched = Prefetched(values, counts, window, key_cache_key)
    request.prefetched = prefetched
    return prefetched


class ApiRateThrottle(throttling.BaseThrottle):
    """Per key (its own limit, else API_RATE_LIMIT); per client IP for anonymous calls."""

    def allow_request(self, request, view):
        info = request.auth if isinstance(request.auth, KeyInfo) else None
        rate = parse_rate(info.rate_limit if info and info.rate_limit else settings.API_RATE_LIMIT)
        window = Window.now(_bucket(request, info.prefix if info else None), rate)
        prefetched = getattr(request._request, "prefetched", None)
        if prefetched and window.key in prefetched.counts:
            # Counted in the prefetch: a key's own limit of the same period shares the window.
            self.retry_after = window.retry_after(prefetched.counts[window.key])
        else:
            self.retry_after = ratelimit.hit(window.bucket, rate)
        return self.retry_after == 0

    def wait(self):
        return self.retry_after


class ApiView(APIView):
    """Base of every API view: key authentication, per-key limits, and one round trip to
    the cache for both (plus what `prefetch_keys` names) before the view runs."""

    authentication_classes = [ApiKeyAuthentication]
    throttle_classes = [ApiRateThrottle]

    def prefetch_keys(self, request, *args, **kwargs) -> list[str]:
        return []

    def initial(self, request, *args, **kwargs):
        prefetch(request._request, self.prefetch_keys(request, *args, **kwargs))
        super().initial(request, *args, **kwargs)


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "registry.apikeys.ApiKeyAuthentication"  # registered on import
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Authorization: Api-Key <key>`; "
            "keys come from `manage.py create_api_key`.",
        }
