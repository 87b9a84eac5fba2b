"""Settings, all read from the environment (see README, "Environment").

With no environment at all the project runs embedded: SQLite file, local-memory cache and
Celery tasks run eagerly in-process. A value that is present but malformed stops the process
at start-up rather than falling back silently.
"""

import hashlib
import ipaddress
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from core.rates import parse_rate

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def env_flag(name: str, default: bool) -> bool:
    """A boolean that refuses anything but the usual spellings (environ.Env.bool reads
    "flase" as False without a word)."""
    raw = env.str(name, default="").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false)")


def env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = env.str(name, default="").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be a whole number >= {minimum}")
    return int(raw)


def env_rate(name: str, default: str) -> str:
    raw = env.str(name, default=default).strip()
    try:
        parse_rate(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from None
    return raw


DEBUG = env_flag("DEBUG", default=True)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "django-insecure-embedded-development-key-not-for-production-use"

# Recipient numbers are stored only as HMAC-SHA256 digests under this key. Derived from
# SECRET_KEY unless set, so that a production host needs one secret less to start; set it
# explicitly before you ever rotate SECRET_KEY, or every stored digest stops matching.
PII_HMAC_KEY = (
    env.str("PII_HMAC_KEY", default="")
    or hashlib.sha256(b"pii-hmac-key:" + SECRET_KEY.encode()).hexdigest()
)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])

INSTALLED_APPS = [
    # Django (the admin through core.apps: its site asks for the second factor)
    "core.apps.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Third party
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "import_export",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # Local
    "registry",
    "verification",
]

MIDDLEWARE = [
    # First: its request time includes every other middleware's.
    "core.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "core.errors.ApiErrorMiddleware",
    "core.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # core.pages_only: Django's own, passed over on the JSON API, which has no session.
    "core.pages_only.SessionMiddleware",
    "core.i18n.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "core.pages_only.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session passed the second factor.
    "core.pages_only.OTPMiddleware",
    "core.pages_only.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username and address before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "config.urls"
# What a page answers while the database is unreachable (core.errors, for pages only).
DATABASE_UNAVAILABLE_VIEW = "verification.views.unavailable"
# Who tells a carrier that another now vouches for one of its staff numbers: registry calls
# it (registry.services) without importing the verification app that keeps the alerts.
SHARED_NUMBER_ALERT = "verification.services.alert_shared_number"
# What /metrics reports of the webhook deliveries (core.metrics), from the app that keeps them.
WEBHOOK_DELIVERY_COUNTS = "verification.selectors.webhook_delivery_counts"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # A lookup must fail fast (503), not hang, when the database is unreachable.
            "connect_timeout": 3,
            # Parameters bound on the server let psycopg prepare the statements a connection
            # runs again and again: the lookup's UNION costs more to plan than to run.
            "server_side_binding": True,
            "prepare_threshold": 5,
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# A streaming read replica for the lookup path (core/replica.py); unset: one database.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
REPLICA_MAX_LAG_SECONDS = env_int("REPLICA_MAX_LAG_SECONDS", default=5)
REPLICA_CHECK_SECONDS = env_int("REPLICA_CHECK_SECONDS", default=1, minimum=1)
# How old a lookup's data may be when it comes from the replica.
REPLICA_STALENESS_SECONDS = (
    REPLICA_MAX_LAG_SECONDS + REPLICA_CHECK_SECONDS if DATABASE_REPLICA_URL else 0
)
if DATABASE_REPLICA_URL:
    replica = env.db("DATABASE_REPLICA_URL")
    if replica["ENGINE"] != DATABASES["default"]["ENGINE"]:
        raise ImproperlyConfigured("DATABASE_REPLICA_URL must be the same kind as DATABASE_URL")
    replica.update(
        CONN_MAX_AGE=DATABASES["default"]["CONN_MAX_AGE"],
        CONN_HEALTH_CHECKS=True,
        # The test runner reads the replica through the test database itself.
        TEST={"MIRROR": "default"},
    )
    replica.setdefault("OPTIONS", {}).update(
        {**DATABASES["default"].get("OPTIONS", {}), "connect_timeout": 1}
    )
    DATABASES["replica"] = replica
    if REPLICA_STALENESS_SECONDS >= 60:
        raise ImproperlyConfigured(
            "REPLICA_MAX_LAG_SECONDS + REPLICA_CHECK_SECONDS must stay under 60 s: "
            "no answer may be older than a minute"
        )
DATABASE_ROUTERS = ["core.replica.PrimaryReplicaRouter"]

REDIS_URL = env.str("REDIS_URL", default="")
CACHE_KEY_PREFIX = env.str("CACHE_KEY_PREFIX", default="registry")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: Redis as broker when configured (CELERY_BROKER_URL can name another Redis
# database than the cache's); otherwise tasks run in-process, at once.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 90
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "vi"
LANGUAGES = [("vi", _("Vietnamese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Ho_Chi_Minh"
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# The contract's size limit for any request body.
MAX_BODY_BYTES = 1_048_576
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_BODY_BYTES
# Pages and the admin: staff files of tens of thousands of rows are uploaded there.
MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_BYTES", default=20 * 1_048_576)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Verified shipper caller-ID registry API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request bodies get components of their own, so that they can say what only a request
    # needs (a required text is never blank: `minLength: 1`).
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "StaffStatusEnum": "registry.models.StaffMember.Status",
        "AssignmentStatusEnum": "registry.models.DeliveryAssignment.Status",
        "VerdictStatusEnum": "verification.services.STATUSES",
    },
}

API_RATE_LIMIT = env_rate("API_RATE_LIMIT", "600/min")
WEB_RATE_LIMIT = env_rate("WEB_RATE_LIMIT", "20/min")
# All browsers behind one address together (carrier-grade NAT): docs/rate-limits.md.
WEB_ADDRESS_RATE_LIMIT = env_rate("WEB_ADDRESS_RATE_LIMIT", "300/min")
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", default=0)
# Set by scripts/serve for its gunicorn only: the nginx in front, on the same host, appends
# the address it saw to X-Forwarded-For, one more hop to trust than TRUSTED_PROXY_COUNT.
WEB_TIER_PROXY = env_flag("WEB_TIER_PROXY", default=False)
REPORT_THRESHOLD = env_int("REPORT_THRESHOLD", default=3, minimum=1)
RETENTION_DAYS = env_int("RETENTION_DAYS", default=90, minimum=1)
# How long the rest is kept (verification.services.records_purge, registry history_purge).
REPORT_RETENTION_DAYS = env_int("REPORT_RETENTION_DAYS", default=365, minimum=1)
ALERT_RETENTION_DAYS = env_int("ALERT_RETENTION_DAYS", default=180, minimum=1)
WEBHOOK_DELIVERY_RETENTION_DAYS = env_int("WEBHOOK_DELIVERY_RETENTION_DAYS", default=30, minimum=1)
HISTORY_RETENTION_DAYS = env_int("HISTORY_RETENTION_DAYS", default=730, minimum=1)
CALL_INTENT_TTL_SECONDS = env_int("CALL_INTENT_TTL_SECONDS", default=15 * 60, minimum=1)

# Secure by default whenever DEBUG is off; each can be turned down for a plain-HTTP test host.
SECURE_SSL_REDIRECT = env_flag("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env_flag("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env_flag("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
# A client can write X-Forwarded-Proto itself: it says "https" only behind proxies that
# overwrite it (docs/deploy.md), which is what TRUSTED_PROXY_COUNT > 0 declares.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUSTED_PROXY_COUNT else None
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

LOGIN_URL = "admin:login"

# Password guessing on the admin login (django-axes): after AXES_FAILURE_LIMIT failures for
# one username from one client address, that pair is refused for AXES_COOLOFF_MINUTES, even
# with the right password; the same user from elsewhere is not. Attempts are kept in the
# database, not the cache: the lockout then works the same embedded (SQLite, a local-memory
# cache each process keeps to itself) and in production, survives a cache flush or a Redis
# outage, and superusers see the attempts in the admin. An admin login is rare enough that
# its writes cost nothing.
AXES_HANDLER = "core.lockout.AdminLoginHandler"
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", default=5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", default=15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The client address as the rate limits see it: REMOTE_ADDR, or the X-Forwarded-For entry
# of the last of TRUSTED_PROXY_COUNT proxies; never what the client wrote itself.
AXES_CLIENT_IP_CALLABLE = "core.ratelimit.client_ip"
AXES_RESET_ON_SUCCESS = True
# Attempts during a lockout neither extend it nor are written down: it ends when the page
# says, and hammering a locked login does not grow its row.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "core.lockout.admin_locked_out"
# Failed sign-ins stay on record past the cool-off (at most 1,000 per username), for
# superusers to see who has been guessing.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_VERBOSE = False  # no banner at the start of every process and command
# Guessing one username from many addresses (core.lockout.AdminLoginHandler): past this
# many failures for it within the cool-off, counted across every address, sign-ins to it are
# paused for browsers that have never completed a sign-in to it; a browser that has (it
# holds the signed ADMIN_DEVICE_COOKIE) is only held to the per-address limit above. Higher
# than that limit, so one address alone never trips it.
AXES_USERNAME_FAILURE_LIMIT = env_int("AXES_USERNAME_FAILURE_LIMIT", default=20, minimum=1)
ADMIN_DEVICE_COOKIE = "admin_device"
ADMIN_DEVICE_COOKIE_DAYS = env_int("ADMIN_DEVICE_COOKIE_DAYS", default=180, minimum=1)

# Two-factor sign-in to the admin (core.twofactor): with DEBUG off every staff user passes
# a TOTP code or a one-time recovery code after the password, and enrols on first sign-in.
# With DEBUG on (the embedded demo) it is asked only of users who enrolled.
OTP_TOTP_ISSUER = "Shipper registry"
RECOVERY_CODE_COUNT = 10

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "core.logging.JsonFormatter"},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": env.str("LOG_FORMAT", default="plain" if DEBUG else "json"),
        }
    },
    "root": {"handlers": ["stdout"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's request logger prints the full path, and a path can hold a number.
        "django.request": {"level": "ERROR"},
    },
}
SIMPLE_HISTORY_REVERT_DISABLED = True  # a revert would write around the services


def env_pem_key(name: str, private: bool) -> str:
    """An EC key as PEM text, from the variable's PEM or the file it names. Read and parsed
    here, at start-up: a missing or unreadable key used to start a server that said it was
    ready and then answered every verification with a 500."""
    raw = env.str(name, default="").strip()
    if not raw:
        return ""
    if raw.startswith("-----BEGIN"):
        pem = raw
    else:
        try:
            pem = Path(raw).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise ImproperlyConfigured(
                f"{name}: cannot read {raw!r} ({exc.strerror or exc})"
            ) from None
    from joserfc.jwk import ECKey

    try:
        key = ECKey.import_key(pem)
    except Exception:  # noqa: BLE001  joserfc raises several kinds for a bad PEM
        raise ImproperlyConfigured(f"{name} is not an EC key in PEM form") from None
    if private and not key.is_private:
        raise ImproperlyConfigured(f"{name} must be a private key: it signs receipts")
    return pem


# Signed receipts (verification.receipts). With DEBUG off the key must be given: several
# web hosts must sign with one key, and a key generated per host would make receipts
# verify or not depending on which host signed them and which JWKS a partner cached.
RECEIPT_SIGNING_KEY = env_pem_key("RECEIPT_SIGNING_KEY", private=True)
if not RECEIPT_SIGNING_KEY and not DEBUG:
    raise ImproperlyConfigured("RECEIPT_SIGNING_KEY must be set when DEBUG is off")
RECEIPT_PREVIOUS_KEY = env_pem_key("RECEIPT_PREVIOUS_KEY", private=False)
RECEIPT_KEY_FILE = env.str(
    "RECEIPT_KEY_FILE", default=str(BASE_DIR / "var" / "receipt-signing-key.pem")
)

# How long any cached answer (a verdict, an API key, the carrier directory) may be served.
# Writes drop what they change at commit; this bounds what a write could not drop (the cache
# unreachable at that moment, a read racing the write): the contract says 60 s at most. With
# a replica, a lookup right after a write may read the old state from it and cache it: the
# replica's staleness counts too.
VERDICT_CACHE_SECONDS = env_int("VERDICT_CACHE_SECONDS", default=30)
if VERDICT_CACHE_SECONDS + REPLICA_STALENESS_SECONDS > 60:
    raise ImproperlyConfigured(
        "VERDICT_CACHE_SECONDS (+ REPLICA_MAX_LAG_SECONDS + REPLICA_CHECK_SECONDS when "
        "DATABASE_REPLICA_URL is set) must be at most 60"
    )

WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", default=5, minimum=1)
# Webhook URLs (core.outbound): https to public addresses only. Plain http only while
# developing; networks listed here are reachable although private (a carrier's receiver on
# a private link, a test's receiver on 127.0.0.1).
WEBHOOK_ALLOW_HTTP = DEBUG
WEBHOOK_ALLOWED_NETWORKS = env.list("WEBHOOK_ALLOWED_NETWORKS", default=[])
for _network in WEBHOOK_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network)
    except ValueError:
        raise ImproperlyConfigured(
            f"WEBHOOK_ALLOWED_NETWORKS: {_network!r} is no network"
        ) from None
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", default=6, minimum=1)
# Retries wait base × 2^attempt seconds: 10 s, 20 s, 40 s … by default.
WEBHOOK_RETRY_BASE_SECONDS = env_int("WEBHOOK_RETRY_BASE_SECONDS", default=10)
REPORT_RATE_LIMIT = env_rate("REPORT_RATE_LIMIT", "5/hour")
# GET /metrics (core.metrics) wants it as a bearer token; unset, /metrics is a 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# New impersonation alerts (each a webhook) one source (API key or client address) may cause
# a carrier in an hour; past it they are counted into one digest sent when the hour is over.
IMPERSONATION_ALERTS_PER_SOURCE_HOUR = env_int(
    "IMPERSONATION_ALERTS_PER_SOURCE_HOUR", default=10, minimum=1
)
# Work still pending this long after it was written is re-enqueued by the sweep.
SWEEP_AFTER_SECONDS = env_int("SWEEP_AFTER_SECONDS", default=120, minimum=1)
# A staff file of more rows than this is imported by a Celery worker, not in the request.
IMPORT_BACKGROUND_ROWS = env_int("IMPORT_BACKGROUND_ROWS", default=2000, minimum=1)

# Every job is safe to run twice, or late.
CELERY_BEAT_SCHEDULE = {
    name: {"task": task, "schedule": seconds}
    for name, task, seconds in [
        ("sweep-pending-webhooks", "verification.tasks.sweep_pending_webhooks", 60.0),
        ("send-alert-digests", "verification.tasks.send_alert_digests", 60.0),
        ("rollup-lookup-stats", "verification.tasks.rollup_lookup_stats", 300.0),
        ("expire-call-intents", "verification.tasks.expire_call_intents", 300.0),
        ("purge-expired-records", "verification.tasks.purge_expired_records", 3600.0),
        ("sweep-pending-staff-imports", "registry.tasks.sweep_pending_staff_imports", 60.0),
        ("purge-old-history", "registry.tasks.purge_old_history", 3600.0),
        # Whole days go at once (a partition each on PostgreSQL): hourly is plenty.
        ("purge-expired-assignments", "registry.tasks.purge_expired_assignments", 3600.0),
        # Partitions exist DAYS_AHEAD days ahead; hourly so that a failed run is retried.
        ("ensure-assignment-partitions", "registry.tasks.ensure_assignment_partitions", 3600.0),
    ]
}
