"""Signed receipts: a compact JWS (ES256) that repeats a verification's answer, so that a
kiosk or a partner app can show it and anyone can check it offline against our JWKS.

Keys come from RECEIPT_SIGNING_KEY (a PEM, or a path to one); the previous key from
RECEIPT_PREVIOUS_KEY stays in the JWKS so receipts signed before a rotation still verify.
The embedded default generates a key on first use into var/receipt-signing-key.pem."""

import os
import threading
import time
from functools import cache
from pathlib import Path

from django.conf import settings
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

RECEIPT_SECONDS = 600
ALGORITHM = "ES256"


def _read_pem(value: str) -> str:
    if value.strip().startswith("-----BEGIN"):
        return value
    return Path(value).read_text()


def _generated_key() -> ECKey:
    """The embedded default's key, made on first use. Several processes (gunicorn workers)
    may get here at once: each writes its own candidate, and an atomic link makes the first
    one the key of all of them."""
    path = Path(settings.RECEIPT_KEY_FILE)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        candidate = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        candidate.write_bytes(ECKey.generate_key("P-256").as_pem(private=True))
        candidate.chmod(0o600)
        try:
            os.link(candidate, path)
        except FileExistsError:
            pass  # another process was first: its key is the key
        finally:
            candidate.unlink()
    return ECKey.import_key(path.read_text())


@cache
def signing_key() -> ECKey:
    if settings.RECEIPT_SIGNING_KEY:
        return ECKey.import_key(_read_pem(settings.RECEIPT_SIGNING_KEY))
    return _generated_key()


@cache
def public_keys() -> list[dict]:
    keys = [signing_key()]
    if settings.RECEIPT_PREVIOUS_KEY:
        keys.append(ECKey.import_key(_read_pem(settings.RECEIPT_PREVIOUS_KEY)))
    return [
        {**key.as_dict(private=False), "kid": key.thumbprint(), "use": "sig", "alg": ALGORITHM}
        for key in keys
    ]


def sign(claims: dict) -> str:
    key = signing_key()
    now = int(time.time())
    payload = {**claims, "iat": now, "exp": now + RECEIPT_SECONDS}
    return jwt.encode({"alg": ALGORITHM, "kid": key.thumbprint(), "typ": "JWT"}, payload, key)


def verify(token: str) -> dict:
    """The claims of a receipt signed by one of our keys and not expired; raises otherwise.
    This is what a partner does offline with the JWKS."""
    token_obj = jwt.decode(
        token, KeySet.import_key_set({"keys": public_keys()}), algorithms=[ALGORITHM]
    )
    jwt.JWTClaimsRegistry(exp={"essential": True}, iat={"essential": True}).validate(
        token_obj.claims
    )
    return token_obj.claims
