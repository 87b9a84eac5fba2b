"""Shared test setup: the real-services markers, and the named cast.

alice operates carrier A (demo "Alpha Post"), bob operates carrier B ("Beta Express"),
root is a superuser, and charlie is a staff user with no carrier who must see nothing.
`client.force_login(user)` also passes the admin's second factor (tests/admin_client.py).
"""

import os
import shutil
from types import SimpleNamespace

import pytest
from django.conf import settings

from registry import services
from tests.admin_client import AdminClient
from tests.api_client import make_key

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM = "/usr/bin/chromium"


def _missing_service(item) -> str | None:
    if item.get_closest_marker("integration") or item.get_closest_marker("browser"):
        if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
            return "needs PostgreSQL: run scripts/test with PostgreSQL on 127.0.0.1:5432"
        if not settings.REDIS_URL:
            return "needs Redis: run scripts/test with Redis on 127.0.0.1:6379"
    if item.get_closest_marker("browser") and not shutil.which(CHROMIUM):
        return "needs Chromium: scripts/system_packages (as root) installs it"
    if item.get_closest_marker("replica"):
        from tests.replica import cluster

        return cluster.missing()
    return None


@pytest.fixture(autouse=True)
def one_rate_window(monkeypatch):
    """The rate limiter's clock stands still: every request of a test falls in one fixed
    window, so a window that starts mid-test (a minute turning) cannot let a few more through."""
    from core import ratelimit

    frozen = ratelimit.time.time()
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: frozen))


def pytest_runtest_setup(item):
    reason = _missing_service(item)
    if reason:
        if IN_CI:
            pytest.fail(f"CI must run every test, but this one {reason}")
        pytest.skip(reason=reason)  # a missing service (PostgreSQL, Redis, Chromium): never in CI


def pytest_sessionfinish(session, exitstatus):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if IN_CI and reporter is not None and reporter.stats.get("skipped"):
        reporter.write_line("CI: a skipped test is a missing test; failing the run.", red=True)
        session.exitstatus = 1


@pytest.fixture
def client():
    """pytest-django's client, signed in past the second factor by force_login."""
    return AdminClient()


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """The named users log in every test: PBKDF2 would make setup take seconds."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _local_webhook_receivers(settings):
    """Webhook tests deliver to a real receiver on 127.0.0.1 (tests/webhook_server.py), a
    private address the registry otherwise refuses; tests of that refusal set it back."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache (the test Redis database is our own)."""
    from core import resilient_cache

    resilient_cache.clear()
    yield


@pytest.fixture
def in_process_tasks():
    """Tasks run at once, in this process, whatever the broker (Celery's eager mode)."""
    from config.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = eager


@pytest.fixture
def carrier_a(db):
    carrier, _ = services.carrier_save(slug="alpha-post", name="Alpha Post", hotlines=["1900 1111"])
    return carrier


@pytest.fixture
def carrier_b(db):
    carrier, _ = services.carrier_save(
        slug="beta-express", name="Beta Express", hotlines=["1900 2222"]
    )
    return carrier


def _make_user(django_user_model, username, **extra):
    return django_user_model.objects.create_user(
        username=username, password=f"{username}-password", **extra
    )


@pytest.fixture
def alice(django_user_model, carrier_a):
    user = _make_user(django_user_model, "alice")
    services.operator_assign(user=user, carrier=carrier_a)
    return user


@pytest.fixture
def bob(django_user_model, carrier_b):
    user = _make_user(django_user_model, "bob")
    services.operator_assign(user=user, carrier=carrier_b)
    return user


@pytest.fixture
def charlie(django_user_model):
    return _make_user(django_user_model, "charlie", is_staff=True)


@pytest.fixture
def root(django_user_model):
    return django_user_model.objects.create_superuser(username="root", password="root-password")


@pytest.fixture
def staff_a(carrier_a):
    staff, _ = services.staff_upsert(
        carrier=carrier_a,
        employee_code="A001",
        full_name="Nguyễn Văn An",
        region="Hà Nội",
        phone_numbers=["0912 345 678", "0988 111 222"],
    )
    return staff


@pytest.fixture
def staff_b(carrier_b):
    staff, _ = services.staff_upsert(
        carrier=carrier_b,
        employee_code="B001",
        full_name="Trần Thị Bình",
        phone_numbers=["0933 444 555"],
    )
    return staff


@pytest.fixture
def key_a(carrier_a):
    return make_key(carrier_a, "alpha-dispatch")


@pytest.fixture
def key_b(carrier_b):
    return make_key(carrier_b, "beta-dispatch")


@pytest.fixture
def partner_key(db):
    return make_key(None, "partner-app")
