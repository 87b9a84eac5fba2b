"""API key authentication for DRF, with verified keys cached so that a request costs no
database query. Revoking, expiring or re-scoping a key goes through
registry.services, which drops the cached entry (`forget`)."""

import hashlib
from dataclasses import asdict, dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions, permissions, throttling

from config import ratelimit
from config.ratelimit import client_ip
from config.rates import parse_rate

from .models import ClientAPIKey

CACHE_SECONDS = 300
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
    cache.delete(_cache_key(prefix))


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
    cache.set(_cache_key(prefix), asdict(info), CACHE_SECONDS)
    return info


def verify(raw_key: str) -> KeyInfo | None:
    """The key's info if `raw_key` is a usable key (known, not revoked, not expired)."""
    prefix, dot, secret = raw_key.partition(".")
    if not dot or not prefix or not secret or len(raw_key) > 200:
        return None
    cached = cache.get(_cache_key(prefix))
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
        keyword, _space, raw_key = header.partition(" ")
        if keyword.lower() != KEYWORD.lower():
            raise exceptions.AuthenticationFailed(
                _("Use the header 'Authorization: Api-Key <key>'.")
            )
        info = verify(raw_key.strip())
        if info is None:
            raise exceptions.AuthenticationFailed(
                _("This API key is not valid, or revoked or expired.")
            )
        return (None, info)

    def authenticate_header(self, request):
        return KEYWORD


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


class ApiRateThrottle(throttling.BaseThrottle):
    """Per key (its own limit, else API_RATE_LIMIT); per client IP for anonymous calls."""

    def allow_request(self, request, view):
        info = request.auth
        if isinstance(info, KeyInfo):
            bucket, rate = f"key:{info.id}", parse_rate(info.rate_limit or settings.API_RATE_LIMIT)
        else:
            bucket, rate = f"ip:{client_ip(request)}", parse_rate(settings.API_RATE_LIMIT)
        self.retry_after = ratelimit.hit(bucket, rate)
        return self.retry_after == 0

    def wait(self):
        return self.retry_after
