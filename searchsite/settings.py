"""Settings for startup-search.

Every value that differs between machines comes from the environment, here and nowhere else.
Without any variables set, the site runs on the embedded default: SQLite, a Qdrant store on disk
under ``var/`` and indexing in the web process. ``DATABASE_URL``, ``CELERY_BROKER_URL`` and
``QDRANT_URL`` switch to PostgreSQL, a Celery worker and a Qdrant server. ``DJANGO_ENV=production``
(set by the Docker image) refuses unsafe values at start-up and defaults to HTTPS. See
``.env.example``.
"""

import math
import os
import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name, default=""):
    return os.environ.get(name, default).strip()


def env_bool(name, default=False):
    value = env_str(name)
    if not value:
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}")


def env_int(name, default):
    value = env_str(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def env_choice(name, choices, default):
    value = env_str(name) or default
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def env_positive_int(name):
    """A whole number of at least 1, or None when unset (the server's default applies)."""
    if not env_str(name):
        return None
    value = env_int(name, None)
    if value < 1:
        raise ImproperlyConfigured(f"{name} must be at least 1, not {value}")
    return value


def env_multiple(name, default, maximum=100):
    """A number from 1 to ``maximum`` (a multiple of what is asked), or ``default`` when unset."""
    value = env_str(name)
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = None
    if number is None or not math.isfinite(number) or not 1 <= number <= maximum:
        raise ImproperlyConfigured(f"{name} must be a number from 1 to {maximum}, not {value!r}")
    return number


def env_list(name, default=""):
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_rate(name, default):
    """A throttle rate such as ``60/minute`` (per second, minute, hour or day)."""
    value = env_str(name) or default
    if not re.fullmatch(r"[0-9]+/(s|sec|second|m|min|minute|h|hour|d|day)", value):
        raise ImproperlyConfigured(
            f"{name} must be a rate like 60/minute (per second, minute, hour or day), not {value!r}"
        )
    return value


def weak_secret_key(key):
    """Why ``key`` is unfit for production, or None (Django's own deploy check's rules)."""
    if key == DEV_SECRET_KEY:
        return "it is the development key"
    if key.startswith("django-insecure-"):
        return "it starts with django-insecure-, the prefix of generated development keys"
    if len(key) < 50:
        return f"it has {len(key)} characters, fewer than 50"
    if len(set(key)) < 5:
        return f"it has {len(set(key))} different characters, fewer than 5"
    return None


def env_url_prefix(name, default, reserved):
    """A URL prefix such as ``admin/``: slashes normalised, none of the site's own paths."""
    prefix = (env_str(name) or default).strip("/")
    if not re.fullmatch(r"[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*", prefix) or any(
        segment in (".", "..") for segment in prefix.split("/")
    ):
        raise ImproperlyConfigured(
            f"{name} must be a path such as admin/ (letters, digits, . _ ~ - and /), "
            f"not {env_str(name)!r}"
        )
    if prefix.split("/")[0] in reserved:
        raise ImproperlyConfigured(f"{name} {prefix!r} would hide the site's own /{prefix}/")
    return f"{prefix}/"


VAR_DIR = Path(env_str("VAR_DIR") or BASE_DIR / "var")

# "production" (the Docker image sets it) refuses to start with DEBUG on or a weak SECRET_KEY, and
# defaults to HTTPS; "development" (the default: make run, the tests) does neither.
DJANGO_ENV = env_choice("DJANGO_ENV", ("development", "production"), "development")
PRODUCTION = DJANGO_ENV == "production"

DEBUG = env_bool("DEBUG", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured(
        "DEBUG is on with DJANGO_ENV=production: debug pages show settings and source code to "
        "anyone. Unset DEBUG (or set DEBUG=0)."
    )

# A fixed key is only acceptable on a developer's machine; anywhere else it must be given.
DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"
SECRET_KEY = env_str("SECRET_KEY") or (DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. Set it in the environment (DEBUG=1 uses a development key)."
    )
if PRODUCTION and (weakness := weak_secret_key(SECRET_KEY)):
    raise ImproperlyConfigured(
        f"SECRET_KEY is too weak for DJANGO_ENV=production: {weakness}. Generate one with: "
        'python -c "import secrets; print(secrets.token_urlsafe(50))"'
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# Where the admin lives; another path than the well-known /admin/ keeps scanners off its login.
ADMIN_URL = env_url_prefix(
    "ADMIN_URL", "admin/", reserved={"api", "search", "companies", "static", "healthz", "readyz"}
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "corsheaders",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "companies",
]

MIDDLEWARE = [
    # First: probes are answered before host checks and the HTTPS redirect (see companies.health).
    "companies.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "companies.middleware.RejectNullCharactersMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "searchsite.urls"

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

WSGI_APPLICATION = "searchsite.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Web requests and in-process indexing write concurrently; WAL keeps readers unblocked.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }

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
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# In development WhiteNoise serves straight from the source folders (no collectstatic needed).
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# HTTPS. In production, plain-HTTP requests are redirected to HTTPS (except the health probes,
# answered before the redirect) and browsers are told by HSTS, sent over HTTPS only, to use HTTPS
# for a year. Cookies are HTTPS-only unless DEBUG. A TLS-terminating proxy in front sets
# X-Forwarded-Proto: trust it with SECURE_PROXY_SSL_HEADER=1.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The preload flag consents to browsers hard-coding HTTPS for the whole domain, which anyone may
# then submit to their lists: the domain owner's decision (SECURE_HSTS_PRELOAD=1), not a default.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

# The cache holds the API's throttle counters. With several web processes they must share one:
# set CACHE_URL to a Redis database (e.g. redis://redis:6379/1); the default is per process.
CACHE_URL = env_str("CACHE_URL")
if CACHE_URL and not CACHE_URL.startswith(("redis://", "rediss://")):
    raise ImproperlyConfigured(f"CACHE_URL must be a redis:// or rediss:// URL, not {CACHE_URL!r}")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_PARSER_CLASSES": ["companies.api.parsers.JSONParser"],
    # Token first: an anonymous write is then answered 401 with WWW-Authenticate: Token.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_PAGINATION_CLASS": "companies.api.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "companies.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "companies.api.errors.exception_handler",
    # Anonymous clients, per IP address; signed-in clients are not throttled.
    "DEFAULT_THROTTLE_RATES": {
        "anon_search": env_rate("API_ANON_SEARCH_RATE", "60/minute"),
        "anon_suggest": env_rate("API_ANON_SUGGEST_RATE", "120/minute"),
    },
    # How many proxies in front of the site append to X-Forwarded-For. 0 trusts no such header,
    # so a client cannot pick the address it is throttled by.
    "NUM_PROXIES": env_int("API_NUM_PROXIES", 0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "startup-search API",
    "DESCRIPTION": (
        "Semantic, keyword and hybrid search over company records, and the records themselves. "
        "Reads are public; writes need a user with the matching companies permission, "
        "authenticated by `Authorization: Token <key>` or a session (with a CSRF token)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Separate request and response components, so read-only fields are not asked for in bodies.
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
    # The documentation UI is served from the installed sidecar package, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# Cross-origin requests to the API are refused (no CORS headers) unless origins are listed.
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
CORS_URLS_REGEX = r"^/api/.*$"

# Celery: with a broker, a worker indexes; without one, indexing runs in the web process.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Tasks are idempotent: on a lost broker connection, cancel and let them be redelivered.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
# Workers log through LOGGING below (LOG_FORMAT), not a handler of Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_TIMEOUT = env_int("CELERY_BROKER_CONNECTION_TIMEOUT", 2)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing must not hang a web request when the broker is down: a short retry, then give up.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}

# The safety net for drift between database and index (check + repair), in seconds (0: off): run
# by celery beat with a broker, by the web process's own repair thread without one.
SEARCH_REPAIR_INTERVAL = env_int("SEARCH_REPAIR_INTERVAL", 15 * 60)
CELERY_BEAT_SCHEDULE = {
    "purge-search-log": {"task": "companies.purge_search_log", "schedule": 24 * 60 * 60},
}
if SEARCH_REPAIR_INTERVAL:
    CELERY_BEAT_SCHEDULE["repair-search-index"] = {
        "task": "companies.repair_index",
        "schedule": SEARCH_REPAIR_INTERVAL,
    }

# The search log (companies.searchlog): every search from the pages and the API, and the results
# opened from the pages. Rows older than SEARCH_LOG_DAYS are purged daily by celery beat.
SEARCH_LOG_ENABLED = env_bool("SEARCH_LOG_ENABLED", True)
SEARCH_LOG_DAYS = env_int("SEARCH_LOG_DAYS", 90)
# Rows waiting to be written at most; beyond, new rows are dropped (and counted), never waited on.
SEARCH_LOG_QUEUE_SIZE = env_int("SEARCH_LOG_QUEUE_SIZE", 10_000)
# Result clicks accepted per client address per minute (the address is never stored).
SEARCH_CLICK_RATE = env_int("SEARCH_CLICK_RATE", 60)

# Search: one dict, read by companies.search.conf.
COMPANY_SEARCH = {
    "QDRANT_URL": env_str("QDRANT_URL"),
    "QDRANT_API_KEY": env_str("QDRANT_API_KEY"),
    "QDRANT_PATH": env_str("QDRANT_PATH") or str(VAR_DIR / "qdrant"),
    # Seconds a Qdrant server request may take before the index counts as unavailable.
    "QDRANT_TIMEOUT": 5,
    "COLLECTION": env_str("QDRANT_COLLECTION", "companies"),
    # Without QDRANT_URL: "edge" (Qdrant Edge, the default) or "qdrant-local" (qdrant-client's
    # local mode: the server code path without a server; slow beyond a few thousand companies).
    "EMBEDDED_ENGINE": env_str("EMBEDDED_ENGINE", "edge"),
    # On a Qdrant cluster, how a new collection is split and copied across the nodes; unset, the
    # server's defaults (one shard, one copy). Read when a collection is created (a first index or
    # search_index --rebuild).
    "SHARD_NUMBER": env_positive_int("QDRANT_SHARDS"),
    "REPLICATION_FACTOR": env_positive_int("QDRANT_REPLICATION_FACTOR"),
    "WRITE_CONSISTENCY_FACTOR": env_positive_int("QDRANT_WRITE_CONSISTENCY"),
    # How vectors are stored, on either engine (companies/search/storage.py; chosen by
    # bench/store_scale.py, figures in docs/performance.md). Read when an index is created (a
    # first index or search_index --rebuild), except HNSW_EF and the oversampling, read per query.
    # "int8": a quantized copy of the whole-company vectors in memory, rescored with the originals;
    # "none": the original float vectors only.
    "QUANTIZATION": env_choice("QDRANT_QUANTIZATION", ("int8", "none"), "int8"),
    # Original float vectors memory-mapped from their files instead of held in memory.
    "VECTORS_ON_DISK": env_bool("QDRANT_VECTORS_ON_DISK", True),
    # The original vectors at float16 (half the files and mapped memory) or float32.
    "VECTOR_DATATYPE": env_choice("QDRANT_VECTOR_DATATYPE", ("float32", "float16"), "float16"),
    # Candidates the HNSW search keeps; unset, the engine's default.
    "HNSW_EF": env_positive_int("QDRANT_HNSW_EF"),
    # With int8: candidates rescored with the originals, as a multiple of those asked for.
    "QUANTIZATION_OVERSAMPLING": env_multiple("QDRANT_QUANTIZATION_OVERSAMPLING", 4.0),
    # Blank: the model the pinned package ships (companies.search.model_files.MODEL_NAME).
    "EMBEDDING_MODEL": env_str("EMBEDDING_MODEL"),
    "MODEL_DIR": env_str("EMBEDDING_MODEL_DIR") or str(VAR_DIR / "models" / "all-MiniLM-L6-v2"),
    "EMBEDDING_THREADS": env_int("EMBEDDING_THREADS", 0) or None,
    # Companies embedded and written per batch; texts per model call.
    "BATCH_SIZE": env_int("INDEX_BATCH_SIZE", 256),
    "EMBED_BATCH_SIZE": env_int("EMBED_BATCH_SIZE", 32),
    # Query vectors kept per process (least recently used out first; ~2 KiB each).
    "QUERY_EMBEDDING_CACHE_SIZE": env_int("QUERY_EMBEDDING_CACHE_SIZE", 4096),
    # The document length BM25 normalises by (part of the keyword recipe the index records).
    "BM25_AVG_LEN": 40,
    # How often a process looks for company changes made elsewhere (other processes, bulk
    # imports) to refresh the words and cities that query understanding knows; its own saves
    # and deletes refresh them at once.
    "VOCABULARY_CHECK_SECONDS": env_int("SEARCH_VOCABULARY_CHECK_SECONDS", 10),
    "SIGNAL_PROCESSOR": env_str("SEARCH_SIGNAL_PROCESSOR")
    or (
        "companies.signals.CelerySignalProcessor"
        if CELERY_BROKER_URL
        else "companies.signals.InProcessSignalProcessor"
    ),
    "REPAIR_INTERVAL": SEARCH_REPAIR_INTERVAL,
}

if (
    COMPANY_SEARCH["WRITE_CONSISTENCY_FACTOR"]
    and COMPANY_SEARCH["REPLICATION_FACTOR"]
    and COMPANY_SEARCH["WRITE_CONSISTENCY_FACTOR"] > COMPANY_SEARCH["REPLICATION_FACTOR"]
):
    raise ImproperlyConfigured(
        "QDRANT_WRITE_CONSISTENCY cannot exceed QDRANT_REPLICATION_FACTOR: a write cannot be "
        "acknowledged by more copies of a shard than there are."
    )

# Largest startups data file the admin accepts for import (the command has no limit).
COMPANY_IMPORT_MAX_BYTES = env_int("COMPANY_IMPORT_MAX_BYTES", 5 * 1024 * 1024)

# "json": one object per line with the records' fields (event, company_ids, error, ...), for log
# collectors; "plain": lines for people. JSON by default in production.
LOG_FORMAT = env_choice("LOG_FORMAT", ("json", "plain"), "json" if PRODUCTION else "plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "searchsite.log_format.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "httpx": {"level": "WARNING"},
    },
}
