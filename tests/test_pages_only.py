"""The session, user, second-factor and messages middleware (core.pages_only) run for pages
and the admin, and are passed over on the JSON API, which a key authenticates."""

import pytest

from tests.api_client import call

PAGE_ONLY_ATTRIBUTES = ["session", "user", "_messages"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/numbers/0912345678/", None),
        ("POST", "/api/v1/verifications/", {"number": "0912345678"}),
    ],
)
def test_a_partner_lookup_has_no_session_user_or_messages(
    client, root, partner_key, method, path, body
):
    client.force_login(root)  # a browser signed in to the admin, calling the API
    response = call(client, method, path, partner_key, body)
    assert response.status_code == 200
    request = response.wsgi_request
    assert not hasattr(request, "session")
    assert not hasattr(request, "_messages")
    # DRF's own: the key's request has no user (UNAUTHENTICATED_USER), not the session's.
    assert request.user is None
    assert "sessionid" not in response.cookies
    assert "Cookie" not in response.get("Vary", "")


def test_a_page_and_the_admin_still_have_them(client, root, carrier_a):
    page = client.get("/")
    assert all(hasattr(page.wsgi_request, name) for name in PAGE_ONLY_ATTRIBUTES)
    client.force_login(root)
    admin = client.get("/admin/")
    assert admin.status_code == 200
    assert admin.wsgi_request.user == root
    assert admin.wsgi_request.user.is_verified()


def test_a_page_under_another_api_prefix_is_not_passed_over(client, root):
    """Only /api/v1/ is the key-authenticated API: the schema's pages keep the session."""
    client.force_login(root)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert response.wsgi_request.session["_auth_user_id"] == str(root.pk)
