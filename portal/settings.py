"""Chorus settings, read from the environment.

Every value comes from an environment variable through django-environ's typed helpers, which
fail loudly on a malformed value. Defaults make `make run` work on a bare machine: SQLite and a
filesystem Celery broker under var/, a development secret key generated once into var/.
Secrets may also be given as files: `SECRET_KEY_FILE`, `CHORUS_ENCRYPTION_KEY_FILE`, ...
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from portal.cache import caches_setting

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def _from_env_or_file(name: str) -> str | None:
    """Value of NAME, or the stripped contents of the file named by NAME_FILE."""
    if os.environ.get(name):
        return os.environ[name]
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path} cannot be read: {exc}") from exc
    return None


def _dev_secret(path: Path, make) -> str:
    """A development-only secret, generated once and kept under var/ so restarts reuse it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


# "development" (the default, for `make run` and tests) or "production" (docker-compose, real
# installs). Production refuses to start without explicit secrets and is strict about git URLs.
CHORUS_ENV = env.str("CHORUS_ENV", default="development")
if CHORUS_ENV not in ("development", "production"):
    raise ImproperlyConfigured("CHORUS_ENV must be 'development' or 'production'")
PRODUCTION = CHORUS_ENV == "production"

VAR_DIR = Path(env.str("CHORUS_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=False)

_secret = _from_env_or_file("SECRET_KEY")
if not _secret:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) is required in production")
    _secret = _dev_secret(VAR_DIR / "secret_key", lambda: secrets.token_urlsafe(50))
SECRET_KEY = _secret

_enc = _from_env_or_file("CHORUS_ENCRYPTION_KEY")
if not _enc:
    if PRODUCTION:
        raise ImproperlyConfigured(
            "CHORUS_ENCRYPTION_KEY (or CHORUS_ENCRYPTION_KEY_FILE) is required in production; "
            "make one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'"
        )
    from cryptography.fernet import Fernet

    _enc = _dev_secret(VAR_DIR / "encryption_key", lambda: Fernet.generate_key().decode())
# Comma-separated: the first key encrypts, all keys decrypt (rotation).
CHORUS_ENCRYPTION_KEYS = [k.strip() for k in _enc.split(",") if k.strip()]

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if PRODUCTION else ["*"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CHORUS_BASE_URL = env.str("CHORUS_BASE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",  # runserver leaves static files to WhiteNoise too
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI assets served locally (no CDN)
    "django_filters",
    "django_celery_beat",
    "axes",
    "portal",
    "components",
    "deployments",
    "observability",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # A path or query string with NUL bytes or bytes that are not UTF-8: 400 (portal/params.py).
    "portal.params.RequestParamsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

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
                "portal.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'chorus.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one SQLite file under `make run`: wait for locks instead of
    # failing at once, and use WAL so readers do not block the writer.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE"}
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# A connection pool (psycopg_pool) for processes running many threads, like the executions
# worker (Procfile): a thread borrows a connection while it talks to the database instead of
# holding one of its own. 0 (the default) is off: one persistent connection per thread.
CHORUS_DB_POOL_SIZE = env.int("CHORUS_DB_POOL_SIZE", default=0)
if CHORUS_DB_POOL_SIZE and "postgresql" in DATABASES["default"]["ENGINE"]:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # pooled connections are returned, not kept
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": CHORUS_DB_POOL_SIZE,
        "timeout": 120,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
# Nothing is translated: without i18n every date, number and gettext call skips the
# per-request language lookup (about a tenth of the CPU of a page).
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
# WhiteNoise serves static files from the web process itself, with DEBUG on or off: no separate
# web server is needed under `make run`, the Docker image or docker-compose. `collectstatic`
# (run by `make run` and the Dockerfile) writes content-hashed, compressed copies to STATIC_ROOT
# with a manifest; with DEBUG on, files are served straight from their folders as they change.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "portal.storage.StaticFilesStorage"},
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
# Password guessing (django-axes): after CHORUS_LOGIN_FAILURE_LIMIT failed logins from one
# address (on /login/, /admin/login/ and the API's password re-authentication) that address
# is refused for CHORUS_LOGIN_COOLOFF_MINUTES. Failures are kept in the database, so every web
# process counts the same. The address is REMOTE_ADDR: behind a proxy, make the server set it
# to the client's (gunicorn --forwarded-allow-ips), or every client shares one count.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("CHORUS_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("CHORUS_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "portal.views.login_locked_out"
AXES_VERBOSE = False
LOGOUT_REDIRECT_URL = "login"
CSRF_FAILURE_VIEW = "portal.views.csrf_failure"

# Sessions stay in the database only (Django's default). Read through the cache (cached_db) they
# save a query per request, but a logout would not reach a copy cached elsewhere: another
# process's memory under `make run`, or Redis when it missed the delete during a hiccup
# (portal/cache.py forgives errors), leaving the session logged in.
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=PRODUCTION)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=PRODUCTION)

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="chorus@localhost")

# --- Celery -------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The embedded broker: queues are folders under var/broker, so `make run` needs no server.
    for sub in ("queue", "processed"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # kombu's default is ./control, relative to wherever a process was started.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than the longest run: a message is only redelivered when its worker is gone.
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=6 * 3600),
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
# Celery's Django fixup closes the database connection around every task unless this is set;
# reconnecting costs ~15 ms, more than a whole scheduled run's bookkeeping. Connections are
# still recycled after this many tasks. With a pool, closing only returns the connection.
CELERY_DB_REUSE_MAX = None if CHORUS_DB_POOL_SIZE else env.int("CELERY_DB_REUSE_MAX", default=100)
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "chorus"
# Autodiscovery finds `<app>.tasks` of each installed app; the deployments app keeps its task
# modules in its feature folders, so they are named here and every worker registers them.
CELERY_IMPORTS = (
    "deployments.builds.tasks",
    "deployments.deploy.tasks",
    "deployments.executions.tasks",
)
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
# ChorusScheduler (deployments/executions/scheduler.py) is django-celery-beat's DatabaseScheduler with a
# bulk, tick-exact path for deployments; other PeriodicTasks run through the stock path.
CELERY_BEAT_SCHEDULER = env.str(
    "CELERY_BEAT_SCHEDULER", default="deployments.executions.scheduler:ChorusScheduler"
)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
DJANGO_CELERY_BEAT_TZ_AWARE = True

# --- Chorus -------------------------------------------------------------------------------
# git URLs on the server's own disk (file://, plain paths) would let a user read it: refused in
# production unless explicitly allowed; allowed in development so local repos work.
CHORUS_ALLOW_LOCAL_GIT_URLS = env.bool("CHORUS_ALLOW_LOCAL_GIT_URLS", default=not PRODUCTION)
CHORUS_GITHUB_API_URL = env.str("CHORUS_GITHUB_API_URL", default="https://api.github.com")
# Hosts members choose (git remotes, GitHub API, alert webhooks) are resolved once, checked and
# connected to at the checked address (portal/outbound.py). CHORUS_DNS_SERVERS ("ip[:port],…")
# makes Chorus ask those DNS servers instead of the system resolver; CHORUS_OUTBOUND_ALLOW
# ("cidr,…") lists private networks an operator trusts as targets (an internal GitHub
# Enterprise), without allowing every private address.
CHORUS_DNS_SERVERS = env.list("CHORUS_DNS_SERVERS", default=[])
CHORUS_OUTBOUND_ALLOW = env.list("CHORUS_OUTBOUND_ALLOW", default=[])
for _net in CHORUS_OUTBOUND_ALLOW:
    try:
        ipaddress.ip_network(_net.strip(), strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"CHORUS_OUTBOUND_ALLOW: “{_net}” is not a network (like 10.20.0.0/16)"
        ) from None
CHORUS_DOCKER_HOST = env.str("DOCKER_HOST", default="")
# Task containers join this network (created with inter-container traffic off) unless their
# environment names another; builds run with these limits (docs/security.md).
CHORUS_DOCKER_NETWORK = env.str("CHORUS_DOCKER_NETWORK", default="chorus-tasks")
# Docker runs start ahead of their tick, held until it by this static busybox, bind-mounted
# read-only into each container (a path on the engine's host; "" starts them at the tick).
CHORUS_HOLD_BINARY = env.str("CHORUS_HOLD_BINARY", default="/bin/busybox")
# Seconds one start takes, until the workers have measured their engine (executions/hold.py).
CHORUS_HOLD_SECONDS_PER_START = env.float("CHORUS_HOLD_SECONDS_PER_START", default=0.4)
# Containers one worker process creates and starts at once on an engine (it starts them one
# after the other anyway; a crowd of requests only makes its answers late).
CHORUS_DOCKER_START_PARALLEL = env.int("CHORUS_DOCKER_START_PARALLEL", default=4)
# The part of the lead that does not grow with the group (time to claim and prepare).
CHORUS_HOLD_MARGIN_SECONDS = env.float("CHORUS_HOLD_MARGIN_SECONDS", default=1.0)
CHORUS_BUILD_MEMORY_MB = env.int("CHORUS_BUILD_MEMORY_MB", default=2048)
CHORUS_BUILD_CPUS = env.int("CHORUS_BUILD_CPUS", default=1)
# "auto" uses Docker when an engine answers, else (in development, or where allowed) the local
# runtime, which builds and runs in a bubblewrap sandbox (docs/security.md).
CHORUS_DEFAULT_RUNTIME = env.str("CHORUS_DEFAULT_RUNTIME", default="auto")
# The local runtime in production: off unless explicitly allowed.
CHORUS_ALLOW_LOCAL_RUNTIME = env.bool("CHORUS_ALLOW_LOCAL_RUNTIME", default=not PRODUCTION)
# Local tasks have no network unless this is on (they then share the host's network).
CHORUS_LOCAL_TASK_NETWORK = env.bool("CHORUS_LOCAL_TASK_NETWORK", default=False)
# Extra host paths the local sandbox shows read-only (e.g. a wheelhouse pip.conf points at).
CHORUS_LOCAL_SANDBOX_PATHS = env.list("CHORUS_LOCAL_SANDBOX_PATHS", default=[])
CHORUS_PYTHON_BASE_IMAGE = env.str("CHORUS_PYTHON_BASE_IMAGE", default="python:3.12-slim")
# The OCI registry images live in (deployments/registry.py, docs/scaling.md): set, every Docker
# build pushes <registry>/<project>/<component> and runs pull by digest on any engine. Empty:
# images stay on the engine that built them (one machine).
CHORUS_REGISTRY = env.str("CHORUS_REGISTRY", default="")
CHORUS_REGISTRY_USERNAME = env.str("CHORUS_REGISTRY_USERNAME", default="")
CHORUS_REGISTRY_PASSWORD = _from_env_or_file("CHORUS_REGISTRY_PASSWORD") or ""
# Plain HTTP to the registry; unset: only for a loopback host (as the Docker engine does).
CHORUS_REGISTRY_INSECURE = (
    env.bool("CHORUS_REGISTRY_INSECURE") if os.environ.get("CHORUS_REGISTRY_INSECURE") else None
)
CHORUS_BUILD_TIMEOUT = env.int("CHORUS_BUILD_TIMEOUT", default=1800)
CHORUS_MAX_CONCURRENT_BUILDS = env.int("CHORUS_MAX_CONCURRENT_BUILDS", default=2)
CHORUS_LOG_MAX_BYTES = env.int("CHORUS_LOG_MAX_BYTES", default=1_000_000)
CHORUS_METRICS_TOKEN = _from_env_or_file("CHORUS_METRICS_TOKEN") or ""
CHORUS_BUILD_DIR = VAR_DIR / "builds"
CHORUS_LOCAL_IMAGES_DIR = VAR_DIR / "local-images"
# Executions (deployments/executions/scheduler.py, deployments/executions/reconcile.py): beat publishes runs this long
# before their tick and looks for schedule changes at least this often; a running execution
# writes a heartbeat every N s and one silent for M s has lost its worker; the reconciler's
# period.
CHORUS_BEAT_LEAD_SECONDS = env.float("CHORUS_BEAT_LEAD_SECONDS", default=3.0)
CHORUS_BEAT_MAX_INTERVAL = env.float("CHORUS_BEAT_MAX_INTERVAL", default=0.5)
CHORUS_EXECUTION_HEARTBEAT_SECONDS = env.float("CHORUS_EXECUTION_HEARTBEAT_SECONDS", default=2.0)
CHORUS_EXECUTION_STALE_SECONDS = env.float("CHORUS_EXECUTION_STALE_SECONDS", default=20.0)
CHORUS_RECONCILE_INTERVAL = env.float("CHORUS_RECONCILE_INTERVAL", default=10.0)
# The id on every task this installation starts (label chorus.installation), so installations
# sharing a Docker engine never touch each other's tasks; derived from SECRET_KEY and the
# database when empty (deployments/installation.py).
CHORUS_INSTALLATION = env.str("CHORUS_INSTALLATION", default="").strip()
if CHORUS_INSTALLATION and not re.fullmatch(
    r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}", CHORUS_INSTALLATION
):
    raise ImproperlyConfigured(
        "CHORUS_INSTALLATION must be 1 to 63 letters, digits, '.', '_' or '-', starting with "
        "a letter or digit"
    )
# Beat and every worker check in every N s (observability/heartbeats.py); the overview warns
# when no beat, or no worker of the executions queue, has checked in for M s.
CHORUS_PROCESS_HEARTBEAT_SECONDS = env.float("CHORUS_PROCESS_HEARTBEAT_SECONDS", default=5.0)
CHORUS_PROCESS_STALE_SECONDS = env.float("CHORUS_PROCESS_STALE_SECONDS", default=30.0)

# Observability (docs/observability.md): raw executions and their logs are deleted after
# CHORUS_RAW_RETENTION_DAYS, hourly rollups (the graphs) after CHORUS_ROLLUP_RETENTION_DAYS;
# 0 keeps forever. The periodic recompute repairs rollups of the last N hours from raw rows.
CHORUS_RAW_RETENTION_DAYS = env.int("CHORUS_RAW_RETENTION_DAYS", default=30)
CHORUS_ROLLUP_RETENTION_DAYS = env.int("CHORUS_ROLLUP_RETENTION_DAYS", default=400)
CHORUS_ROLLUP_RECOMPUTE_HOURS = env.int("CHORUS_ROLLUP_RECOMPUTE_HOURS", default=3)
# missed_tick alerts also fire for a tick with no execution at all, this long after its
# starting deadline. Webhooks to private/loopback addresses: refused in production unless allowed.
CHORUS_ALERT_OVERDUE_GRACE_SECONDS = env.int("CHORUS_ALERT_OVERDUE_GRACE_SECONDS", default=60)
CHORUS_ALERT_WEBHOOK_ALLOW_PRIVATE = env.bool(
    "CHORUS_ALERT_WEBHOOK_ALLOW_PRIVATE", default=not PRODUCTION
)
if CHORUS_RAW_RETENTION_DAYS < 0 or CHORUS_ROLLUP_RETENTION_DAYS < 0:
    raise ImproperlyConfigured("CHORUS_*_RETENTION_DAYS must be 0 (keep forever) or more")
# Image clean-up (deployments/builds/images.py, docs/builds.md): a succeeded build's image is
# removed once no live deployment runs it, it is not among the last N builds of its component,
# and it finished more than D days ago. Daily, at 03:17 UTC.
CHORUS_IMAGE_KEEP_BUILDS = env.int("CHORUS_IMAGE_KEEP_BUILDS", default=5)
CHORUS_IMAGE_KEEP_DAYS = env.int("CHORUS_IMAGE_KEEP_DAYS", default=7)
if CHORUS_IMAGE_KEEP_BUILDS < 0 or CHORUS_IMAGE_KEEP_DAYS < 0:
    raise ImproperlyConfigured(
        "CHORUS_IMAGE_KEEP_BUILDS and CHORUS_IMAGE_KEEP_DAYS must be 0 or more"
    )

# Chorus's own periodic jobs, all of them (deployments' ticks are PeriodicTasks of their own).
# django-celery-beat's DatabaseScheduler, and so ChorusScheduler, copies these into its tables
# when beat starts. "expire_seconds" drops a message no worker took in time: the next run
# does the same work.
CELERY_BEAT_SCHEDULE = {
    # deployments/executions/reconcile.py: finish runs whose worker died, stop orphans.
    "chorus.reconcile": {
        "task": "chorus.reconcile",
        "schedule": CHORUS_RECONCILE_INTERVAL,
        "options": {"queue": "chorus", "expire_seconds": 60},
    },
    # deployments/executions/retention.py: each deployment's keep-last-N / keep-days policy.
    "chorus.execution.cleanup": {
        "task": "chorus.execution.cleanup",
        "schedule": 3600.0,
        "options": {"queue": "chorus", "expire_seconds": 3000},
    },
    # deployments/builds/images.py: images no deployment needs, daily at 03:17 UTC.
    "chorus.images.prune": {
        "task": "chorus.images.prune",
        "schedule": crontab(minute=17, hour=3),
        "options": {"queue": "chorus"},
    },
    # observability/services/rollups.py: repair the rollups of the last hours from raw rows.
    "chorus.observability.recompute_recent": {
        "task": "chorus.observability.recompute_recent",
        "schedule": 300.0,
        "options": {"queue": "chorus"},
    },
    # observability/services/retention.py: raw executions, rollups, closed incidents.
    "chorus.observability.cleanup": {
        "task": "chorus.observability.cleanup",
        "schedule": 3600.0,
        "options": {"queue": "chorus"},
    },
    # observability/services/alerts.py: missed ticks and open incidents.
    "chorus.observability.check_alerts": {
        "task": "chorus.observability.check_alerts",
        "schedule": 60.0,
        "options": {"queue": "chorus"},
    },
}

# --- REST API -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "portal.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "portal.api_errors.exception_handler",
    # portal/throttling.py: rates read from the settings below at every request.
    "DEFAULT_THROTTLE_CLASSES": [
        "portal.throttling.AnonRate",
        "portal.throttling.UserRate",
    ],
}
# API rates ("<n>/<second|minute|hour|day>"): per client address without a login, per user with
# one; creating tokens has its own, lower rate. CHORUS_API_AUTH_FAILURE_LIMIT failed token
# authentications from one address within 10 minutes refuse that address's API requests for the
# rest of those minutes (tokens cannot be guessed, but nobody should get to try).
CHORUS_API_ANON_RATE = env.str("CHORUS_API_ANON_RATE", default="60/minute")
CHORUS_API_USER_RATE = env.str("CHORUS_API_USER_RATE", default="1200/minute")
CHORUS_API_TOKEN_CREATE_RATE = env.str("CHORUS_API_TOKEN_CREATE_RATE", default="20/hour")
CHORUS_API_AUTH_FAILURE_LIMIT = env.int("CHORUS_API_AUTH_FAILURE_LIMIT", default=20)
# The default cache holds API rate counts, the engine's measured start rate and the project
# overview's rendered table. CHORUS_CACHE_URL (redis://…, by default REDIS_URL) shares them
# between processes; without either, each process keeps its own in memory. A Redis that fails
# is a miss, never an error (portal/cache.py).
CHORUS_CACHE_URL = env.str("CHORUS_CACHE_URL", default=REDIS_URL)
CACHES = caches_setting(CHORUS_CACHE_URL)
# The project overview's table of deployed tasks is rendered at most once per project in this
# many seconds (a finished run shows up to that much later); 0 renders it on every request.
CHORUS_OVERVIEW_CACHE_SECONDS = env.int("CHORUS_OVERVIEW_CACHE_SECONDS", default=5)
if CHORUS_OVERVIEW_CACHE_SECONDS < 0:
    raise ImproperlyConfigured("CHORUS_OVERVIEW_CACHE_SECONDS must be 0 or more")
SPECTACULAR_SETTINGS = {
    "TITLE": "Chorus API",
    "DESCRIPTION": "Scheduled tasks: components, builds, deployments, executions.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from drf-spectacular-sidecar's static files, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Several models have a "status" / "trigger": give each choice set its own schema name.
    "ENUM_NAME_OVERRIDES": {
        "BuildStatusEnum": "deployments.models.Build.Status",
        "BuildTriggerEnum": "deployments.models.Build.Trigger",
        "DeploymentStatusEnum": "deployments.models.Deployment.Status",
        "ExecutionStatusEnum": "deployments.models.Execution.Status",
        "ExecutionTriggerEnum": "deployments.models.Execution.Trigger",
        "EventKindEnum": "deployments.models.DeploymentEvent.Kind",
        "EventOutcomeEnum": "deployments.models.DeploymentEvent.Outcome",
        "AlertChannelKindEnum": "observability.models.AlertChannel.Kind",
        "AlertRuleKindEnum": "observability.models.AlertRule.Kind",
        "AlertDeliveryKindEnum": "observability.models.AlertDelivery.Kind",
        "AlertDeliveryStatusEnum": "observability.models.AlertDelivery.Status",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
