"""Helpers for driving the HTTP API with real keys."""

import json

from registry import services


def make_key(carrier=None, name="test-key", **changes):
    api_key, raw = services.api_key_create(name=name, carrier=carrier)
    if changes:
        services.api_key_update(
            api_key=api_key,
            name=name,
            expiry_date=changes.get("expiry_date"),
            revoked=changes.get("revoked", False),
            rate_limit=changes.get("rate_limit", ""),
        )
    return raw


def call(client, method, path, key=None, body=None, **extra):
    headers = {}
    if key:
        headers["HTTP_AUTHORIZATION"] = f"Api-Key {key}"
    headers.update(extra)
    data = json.dumps(body) if body is not None and not isinstance(body, str | bytes) else body
    return getattr(client, method.lower())(
        path, data=data, content_type="application/json", **headers
    )


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]
