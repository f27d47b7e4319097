"""Periscope settings: everything that varies between deployments comes from the environment."""

import os
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str = "0") -> bool:
    return os.environ.get(name, default).strip().lower() in {"1", "true", "yes", "on"}


def envint(name: str, default: int) -> int:
    value = os.environ.get(name, default)
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def proxy_ssl_header(value: str) -> tuple[str, str] | None:
    """`X-Forwarded-Proto` or `X-Forwarded-Proto: https` → Django's ("HTTP_X_FORWARDED_PROTO",
    "https"); empty → None. Off unless configured: without a proxy that overwrites the header,
    any client could send it and be taken for HTTPS (secure cookies, no redirect)."""
    name, _, expected = value.replace("=", ":").partition(":")
    name = name.strip()
    if not name:
        return None
    return "HTTP_" + name.upper().replace("-", "_"), expected.strip() or "https"


DEBUG = envbool("DEBUG")
TESTING = "pytest" in sys.modules

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and not TESTING:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off: set SECRET_KEY to a long random string "
            "(python3 -c 'import secrets; print(secrets.token_urlsafe(50))'), "
            "or DEBUG=1 on a development machine"
        )
    SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production"

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "periscope",
    "services",
    "deployments",
    "metrics",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "periscope.urls"
WSGI_APPLICATION = "periscope.wsgi.application"

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

# SQLite file under var/ unless DATABASE_URL says otherwise (postgres://user@host:5432/db).
DEFAULT_SQLITE_PATH = BASE_DIR / "var" / "periscope.sqlite3"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{DEFAULT_SQLITE_PATH}"),
        conn_max_age=envint("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue instead of
    # failing with "database is locked" when a read lock is upgraded mid-transaction.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
else:
    DATABASES["default"].setdefault("OPTIONS", {})
    # Fail fast when PostgreSQL is unreachable so pipelines get an answer and retry.
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", envint("DB_CONNECT_TIMEOUT", 3))
    # The ingest path's fixed statements (periscope.rows) bind on the server and are prepared
    # on their fifth use by a connection; the ORM's own cursors bind on the client and never
    # are. Set DB_PREPARE_THRESHOLD=off behind a pooler that cannot keep prepared statements
    # (PgBouncer in transaction mode before 1.21).
    prepare = os.environ.get("DB_PREPARE_THRESHOLD", "5").strip().lower()
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = (
        None if prepare in {"", "off", "none"} else int(prepare)
    )

# Seconds after which PostgreSQL cancels a statement of a request (the app servers only; see
# periscope/statement_timeout.py); below GUNICORN_TIMEOUT so the database stops when the worker
# would be killed anyway. 0 disables.
DB_STATEMENT_TIMEOUT = float(os.environ.get("DB_STATEMENT_TIMEOUT", "20"))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "var" / "staticfiles"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Request bodies larger than this are refused with 413 before any parsing.
MAX_BODY_BYTES = envint("PERISCOPE_MAX_BODY_BYTES", 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_BODY_BYTES

# last_used_at is written at most this often per key, so reads do not become writes.
API_KEY_LAST_USED_RESOLUTION_SECONDS = envint("PERISCOPE_KEY_LAST_USED_RESOLUTION", 60)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["periscope.authentication.BearerKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["periscope.permissions.HasReadScope"],
    # Periscope's own endpoints answer camelCase (docs/api.md); the vendor formats' views set
    # plain JSON renderers and answer in their vendors' words.
    "DEFAULT_RENDERER_CLASSES": ["djangorestframework_camel_case.render.CamelCaseJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "periscope.errors.json_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
# A deployment's metadata is the sender's own object: its keys are answered as sent.
JSON_CAMEL_CASE = {"JSON_UNDERSCOREIZE": {"ignore_fields": ("metadata",)}}

SPECTACULAR_SETTINGS = {
    "TITLE": "Periscope API",
    "DESCRIPTION": "Deployment catalog and DORA metrics.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The webhook's status subset would collide with the Deployment status enum.
    "ENUM_NAME_OVERRIDES": {
        "WebhookStatusEnum": "deployments.ingest.periscope.schema.WEBHOOK_STATUSES",
        "DeploymentStatusEnum": "deployments.models.Status",
        "PagerDutyActionEnum": "deployments.ingest.pagerduty.schema.PAGERDUTY_ACTIONS",
        "RecordActionEnum": "deployments.ingest.schema.RECORD_ACTIONS",
    },
    "POSTPROCESSING_HOOKS": [
        "periscope.openapi.camelize_periscope_schemas",
        "drf_spectacular.hooks.postprocess_schema_enums",
        "periscope.openapi.add_error_responses",
    ],
}

# Every handler redacts API keys from what it writes: the OpsLevel format carries its key in
# the URL, which django.request (on every 5xx) and the development server (every request) log.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "periscope.log_redaction.RedactSecretsFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secrets"],
        },
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # Replaces Django's default handlers of "django" (its unfiltered DEBUG console and
        # mail_admins): its records reach the root's redacting handler.
        "django": {"handlers": [], "level": "INFO"},
        "django.request": {"level": "ERROR"},
        # runserver's request lines (Django's default handler, plus the redaction).
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}

# Production hardening; HTTPS-only settings are opt-in so a plain-HTTP dev run works.
SECURE_PROXY_SSL_HEADER = proxy_ssl_header(os.environ.get("SECURE_PROXY_SSL_HEADER", ""))
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT")
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", "0" if DEBUG else "1")
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", "0" if DEBUG else "1")
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS")
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD")

# --- Rate limits and the shared cache (hardening) ---
# Limits are per API key and per endpoint class: "ingest" (views requiring the ingest scope)
# and "read" (every other API view). "N/second|minute|hour|day", "N/10s"; "off" disables.
RATE_LIMITS = {
    "ingest": os.environ.get("PERISCOPE_RATE_LIMIT_INGEST", "1200/minute"),
    "read": os.environ.get("PERISCOPE_RATE_LIMIT_READ", "600/minute"),
}
# Counters must be shared by every app server: Redis when REDIS_URL is set, otherwise the
# database (one atomic upsert per request into periscope_ratelimitcounter, made by `migrate`).
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
RATE_LIMIT_STORE = "cache" if REDIS_URL else "database"
RATE_LIMIT_CACHE = "default"
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = ["periscope.throttling.ApiKeyRateThrottle"]
# Failed authentications (bad API keys, OpsLevel URLs without a key, wrong admin passwords)
# per client address, on the same shared store; past it, 429 for that address until the
# window ends.
AUTH_FAILURE_RATE = os.environ.get("PERISCOPE_RATE_LIMIT_AUTH_FAILURES", "30/minute")
# How many proxies (load balancers) stand in front of the app servers and append the address
# they received a request from to X-Forwarded-For. 0 (the default) ignores the header, which
# a client can write; limits per client address then use the peer's address.
TRUSTED_PROXY_COUNT = envint("PERISCOPE_TRUSTED_PROXIES", 0)

# --- Request size limits (hardening) ---
# Checked first, for every URL (API, admin, health), so an oversized body gets a JSON 413
# before anything reads it; see periscope/middleware.py.
MIDDLEWARE.insert(1, "periscope.middleware.RequestBodyLimitMiddleware")
# API URLs answer errors in JSON under DEBUG too (Django's debug pages are HTML).
MIDDLEWARE.append("periscope.middleware.ApiJsonErrorsMiddleware")
# Last, so it sees exceptions from views: a lost database is 503 JSON on every URL.
MIDDLEWARE.append("periscope.middleware.DatabaseUnavailableMiddleware")

# --- Production (hardening): see docs/deploy.md ---
# Load balancers probe over plain HTTP from inside the network; do not redirect their probes.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

# DORA metrics: incident attribution window, and an open /metrics for Prometheus.
INCIDENT_ATTRIBUTION_WINDOW_HOURS = float(os.environ.get("INCIDENT_ATTRIBUTION_WINDOW_HOURS", 24))
METRICS_PUBLIC = envbool("METRICS_PUBLIC")

# Lead time: the first production deployment of a service links only changes this recent.
LEAD_TIME_FIRST_DEPLOYMENT_HORIZON_DAYS = envint("PERISCOPE_FIRST_DEPLOYMENT_HORIZON_DAYS", 30)

# --- Limits on work (hardening): the metrics API refuses longer ranges with 400 ---
METRICS_MAX_RANGE_DAYS = envint("PERISCOPE_METRICS_MAX_RANGE_DAYS", 3 * 365 + 1)  # 3 years
# New unmatched service names an organization's webhooks may add per UTC day (0: no cap).
MAX_NEW_SERVICE_NAMES_PER_DAY = envint("PERISCOPE_MAX_NEW_SERVICE_NAMES_PER_DAY", 500)

# --- Single sign-on for the admin (OpenID Connect): see docs/sso.md ---
# On when a client id is set with an issuer (discovery) or explicit endpoints (which win).
from periscope.sso.config import parse_organization_map  # noqa: E402

OIDC_ISSUER = os.environ.get("PERISCOPE_OIDC_ISSUER", "").strip().rstrip("/")
OIDC_OP_AUTHORIZATION_ENDPOINT = os.environ.get("PERISCOPE_OIDC_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = os.environ.get("PERISCOPE_OIDC_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = os.environ.get("PERISCOPE_OIDC_USERINFO_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = os.environ.get("PERISCOPE_OIDC_JWKS_URI", "")
OIDC_RP_CLIENT_ID = os.environ.get("PERISCOPE_OIDC_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = os.environ.get("PERISCOPE_OIDC_CLIENT_SECRET", "")
OIDC_RP_SIGN_ALGO = os.environ.get("PERISCOPE_OIDC_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = os.environ.get("PERISCOPE_OIDC_SCOPES", "openid email profile")
OIDC_PROVIDER_NAME = os.environ.get("PERISCOPE_OIDC_PROVIDER_NAME", "single sign-on")
OIDC_ORGANIZATIONS_CLAIM = os.environ.get("PERISCOPE_OIDC_ORGANIZATIONS_CLAIM", "groups")
OIDC_ORGANIZATIONS = parse_organization_map(
    os.environ.get("PERISCOPE_OIDC_ORGANIZATIONS", ""), name="PERISCOPE_OIDC_ORGANIZATIONS"
)
# Empty: no claim ever makes a superuser (nor removes one).
OIDC_SUPERUSER_CLAIM_VALUE = os.environ.get("PERISCOPE_OIDC_SUPERUSER_CLAIM_VALUE", "")
OIDC_TIMEOUT = envint("PERISCOPE_OIDC_TIMEOUT", 10)
OIDC_USE_PKCE = True
OIDC_PKCE_CODE_CHALLENGE_METHOD = "S256"
OIDC_AUTHENTICATION_CALLBACK_URL = "sso-callback"
# Off: the admin's login takes no password, and no backend checks one, so sessions signed in
# with a password end at their next request.
PASSWORD_LOGIN = envbool("PERISCOPE_PASSWORD_LOGIN", "1")
AUTHENTICATION_BACKENDS = ["periscope.sso.backend.OrganizationClaimBackend"]
if PASSWORD_LOGIN:
    AUTHENTICATION_BACKENDS.insert(0, "django.contrib.auth.backends.ModelBackend")
elif not (OIDC_RP_CLIENT_ID and (OIDC_ISSUER or OIDC_OP_AUTHORIZATION_ENDPOINT)):
    raise ImproperlyConfigured(
        "PERISCOPE_PASSWORD_LOGIN=0 needs single sign-on (PERISCOPE_OIDC_CLIENT_ID and "
        "PERISCOPE_OIDC_ISSUER): otherwise nobody could sign in to the admin"
    )
