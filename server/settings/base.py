"""Every setting of OpenRounds, read from the environment with embedded defaults.

The defaults run the whole platform as one process on SQLite, an in-memory channel
layer and local files, so that `make demo` works on a fresh machine.  Production sets
`DATABASE_URL`, `REDIS_URL`, the S3 variables, `SECRET_KEY` and `ALLOWED_HOSTS`
(see docs/operations.md); nothing else needs to change.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    """Read a yes/no environment variable; anything but 1/true/yes/on is no."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    """Read a comma-separated environment variable into a list without blanks."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    # Demo only: DEBUG is on, so nothing here is reachable from outside the machine.
    SECRET_KEY = "insecure-demo-key-only-used-when-DEBUG-is-on-0123456789abcdef"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# -- applications -----------------------------------------------------------------------

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "django_countries",
    "storages",
    "axes",
    "csp",
    "server.people",
    "server.lti",
    "sessions.apps.LiveSessionsConfig",
    "courses",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "server.compression.PageGZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "server.people.middleware.UserTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_ratelimit.middleware.RatelimitMiddleware",
    "axes.middleware.AxesMiddleware",
]

# -- the room (sessions/room; docs/operations.md) ---------------------------------------
ROOM_FANOUT = os.environ.get("ROOM_FANOUT", "hub")
ROOM_FANOUT_CHANNEL = os.environ.get("ROOM_FANOUT_CHANNEL", f"{os.environ.get('REDIS_NAMESPACE', 'openrounds')}:room-events")
ROOM_FAST_SEND = env_bool("ROOM_FAST_SEND", True)
ROOM_HEARTBEAT_SECONDS = float(os.environ.get("ROOM_HEARTBEAT_SECONDS", "5"))
ROOM_SWEEP_SECONDS = float(os.environ.get("ROOM_SWEEP_SECONDS", "5"))
ROOM_CATCHUP_SECONDS = float(os.environ.get("ROOM_CATCHUP_SECONDS", "1.5"))
ROOM_PRESENCE_TTL_SECONDS = float(os.environ.get("ROOM_PRESENCE_TTL_SECONDS", "20"))
ROOM_PRESENCE_COALESCE_SECONDS = float(os.environ.get("ROOM_PRESENCE_COALESCE_SECONDS", "0.15"))
ROOM_POLL_COALESCE_SECONDS = float(os.environ.get("ROOM_POLL_COALESCE_SECONDS", "0.25"))
ROOM_VOTE_WRITERS = int(os.environ.get("ROOM_VOTE_WRITERS", "2"))
ROOM_VOTE_BATCH_SECONDS = float(os.environ.get("ROOM_VOTE_BATCH_SECONDS", "0.005"))
ROOM_RATE_LIMIT_FACTOR = float(os.environ.get("ROOM_RATE_LIMIT_FACTOR", "1"))
#: The site's public address, for links in e-mails sent outside a request (match_peers).
SITE_URL = os.environ.get("SITE_URL", "")
#: The platform's Ed25519 key that signs certificates (sessions/record/credentials.py):
#: 32 bytes, base64url. Empty: derived from SECRET_KEY (so the demo has a stable key).
RECORD_SIGNING_KEY = os.environ.get("RECORD_SIGNING_KEY", "")

# -- throttling (server/people/throttling.py) -------------------------------------------
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each counted on its own: either locks
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "server.people.throttling.login_locked_out"
AXES_VERBOSE = False
RATELIMIT_VIEW = "server.people.throttling.rate_limited"

ROOT_URLCONF = "server.urls"
ASGI_APPLICATION = "server.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "frontend" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "server.people.context_processors.openrounds",
            ],
        },
    }
]

# -- data -------------------------------------------------------------------------------

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'openrounds.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the live room write while pages read; busy_timeout rides out short locks.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update(
        {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", "timeout": 20}
    )
    (BASE_DIR / "var").mkdir(exist_ok=True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "people.User"

REDIS_URL = os.environ.get("REDIS_URL", "")
# Every Redis channel and key OpenRounds uses starts with this, so two deployments (or two
# test runs) can share one Redis without hearing each other's rooms and media workers.
REDIS_NAMESPACE = os.environ.get("REDIS_NAMESPACE", "openrounds")
if REDIS_URL:
    # Shared by every process: rate limits (django-ratelimit) must count across them.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "KEY_PREFIX": REDIS_NAMESPACE}}
else:
    # One process (the demo): its own memory is the whole truth.
    SILENCED_SYSTEM_CHECKS = ["django_ratelimit.E003", "django_ratelimit.W001"]
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": os.environ.get(
                "CHANNEL_LAYER_BACKEND", "channels_redis.pubsub.RedisPubSubChannelLayer"
            ),
            "CONFIG": {"hosts": [REDIS_URL], "prefix": REDIS_NAMESPACE, "capacity": 1500, "expiry": 30},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# -- files ------------------------------------------------------------------------------

MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "var" / "media"))
MEDIA_URL = "/media/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "var" / "static"))
STATIC_URL = "/static/"
STATICFILES_DIRS: list[Path | tuple[str, Path]] = [BASE_DIR / "frontend" / "static"]
# hls.js (pinned in package.json, installed by `npm ci`): the broadcast player where the
# browser has no native HLS, served as /static/vendor/hls.js/ and imported only when watched.
if (BASE_DIR / "node_modules" / "hls.js" / "dist").is_dir():
    STATICFILES_DIRS.append(("vendor/hls.js", BASE_DIR / "node_modules" / "hls.js" / "dist"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)


def _cloudfront_key() -> bytes | None:
    """The CloudFront signing key: AWS_CLOUDFRONT_KEY (PEM text) or AWS_CLOUDFRONT_KEY_FILE."""
    text = os.environ.get("AWS_CLOUDFRONT_KEY", "").replace("\\n", "\n").strip()
    path = os.environ.get("AWS_CLOUDFRONT_KEY_FILE", "")
    if not text and path:
        text = Path(path).read_text().strip()
    return text.encode() if text else None


AWS_STORAGE_BUCKET_NAME = os.environ.get("AWS_STORAGE_BUCKET_NAME", "")
if AWS_STORAGE_BUCKET_NAME:
    DEFAULT_FILE_STORAGE_BACKEND = "storages.backends.s3.S3Storage"
    DEFAULT_FILE_STORAGE_OPTIONS: dict[str, object] = {
        "bucket_name": AWS_STORAGE_BUCKET_NAME,
        "location": os.environ.get("AWS_LOCATION", ""),
        "endpoint_url": os.environ.get("AWS_S3_ENDPOINT_URL") or None,
        "region_name": os.environ.get("AWS_S3_REGION_NAME") or None,
        "access_key": os.environ.get("AWS_ACCESS_KEY_ID") or None,
        "secret_key": os.environ.get("AWS_SECRET_ACCESS_KEY") or None,
        "default_acl": None,
        "querystring_auth": True,
        "querystring_expire": int(os.environ.get("AWS_QUERYSTRING_EXPIRE", "300")),
        "file_overwrite": False,
        "addressing_style": os.environ.get("AWS_S3_ADDRESSING_STYLE", "path"),
        # A CDN in front of the bucket (docs/operations.md): URLs on its domain, signed by
        # django-storages with a CloudFront key pair (the private key as PEM text, or a file).
        "custom_domain": os.environ.get("AWS_S3_CUSTOM_DOMAIN") or None,
        "cloudfront_key_id": os.environ.get("AWS_CLOUDFRONT_KEY_ID") or None,
        "cloudfront_key": _cloudfront_key(),
    }
else:
    DEFAULT_FILE_STORAGE_BACKEND = "django.core.files.storage.FileSystemStorage"
    DEFAULT_FILE_STORAGE_OPTIONS = {"location": str(MEDIA_ROOT), "base_url": MEDIA_URL}

STORAGES = {
    "default": {"BACKEND": DEFAULT_FILE_STORAGE_BACKEND, "OPTIONS": DEFAULT_FILE_STORAGE_OPTIONS},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Uploads larger than this go to a temporary file, so memory stays flat for big files.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# No HTTP request body may exceed this (server/request_limits.py answers 413 before
# buffering); large library files travel as resumable pieces of at most 8 MB.
MAX_REQUEST_BODY_BYTES = int(os.environ.get("MAX_REQUEST_BODY_BYTES", str(16 * 1024 * 1024)))
LIBRARY_UPLOAD_TEMP_DIR = os.environ.get("LIBRARY_UPLOAD_TEMP_DIR", "")
LIBRARY_UPLOAD_SESSION_HOURS = int(os.environ.get("LIBRARY_UPLOAD_SESSION_HOURS", "24"))
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# How long after faculty replace or remove a question an answer to the old version (from a
# learner who had the page open or answered offline before the edit) is still marked
# against it (courses/assessment/selectors.py `attempt_questions`, docs/assessment.md).
ASSESSMENT_LATE_ANSWER_DAYS = int(os.environ.get("ASSESSMENT_LATE_ANSWER_DAYS", "14"))

# -- people and security ----------------------------------------------------------------

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

SESSION_COOKIE_SECURE = not DEBUG and env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = not DEBUG and env_bool("SECURE_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Mail (Django 6.1 MAILERS): the console in the demo, SMTP from the environment in production.
_EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
MAILERS = {
    "default": {
        "BACKEND": _EMAIL_BACKEND,
        "OPTIONS": {
            "host": os.environ.get("EMAIL_HOST", "localhost"),
            "port": int(os.environ.get("EMAIL_PORT", "25")),
            "username": os.environ.get("EMAIL_HOST_USER", ""),
            "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
            "use_tls": env_bool("EMAIL_USE_TLS", False),
        }
        if _EMAIL_BACKEND.endswith("smtp.EmailBackend")
        else {},
    }
}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "OpenRounds <noreply@openrounds.invalid>")

# -- languages and time -----------------------------------------------------------------

LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("fr", _("French")),
    ("pt", _("Portuguese")),
    ("ar", _("Arabic")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"

# -- live sessions and media ------------------------------------------------------------

# WebSocket limits, enforced by daphne (see Procfile) and checked again by the consumer.
WEBSOCKET_MAX_MESSAGE_BYTES = int(os.environ.get("WEBSOCKET_MAX_MESSAGE_BYTES", str(64 * 1024)))
WEBSOCKET_MAX_FRAME_BYTES = int(os.environ.get("WEBSOCKET_MAX_FRAME_BYTES", str(64 * 1024)))

MEDIA_ICE_HOST_ADDRESSES = env_list("MEDIA_ICE_HOST_ADDRESSES", "127.0.0.1")
MEDIA_UDP_PORT_MIN = int(os.environ.get("MEDIA_UDP_PORT_MIN", "40000"))
MEDIA_UDP_PORT_MAX = int(os.environ.get("MEDIA_UDP_PORT_MAX", "40999"))
# Media workers (docs/operations.md): "registry" places each session on the least loaded
# live worker announced in Redis and moves it when that worker dies or drains; "static"
# spreads sessions by id over MEDIA_WORKER_COUNT fixed channels.
MEDIA_PLACEMENT = os.environ.get("MEDIA_PLACEMENT", "registry")
# A room event whose payload does not match its declared schema (sessions/room/events.py):
# refused when strict (the test settings), logged otherwise.
ROOM_EVENT_SCHEMAS_STRICT = env_bool("ROOM_EVENT_SCHEMAS_STRICT", False)
# /healthz gives backends and errors only to staff, or to monitoring with this bearer token.
HEALTHZ_TOKEN = os.environ.get("HEALTHZ_TOKEN", "")
# The embedded default runs the media worker inside the web process; production web
# processes set MEDIA_WORKER_IN_PROCESS=0 and run `manage.py media_worker` beside them.
MEDIA_WORKER_IN_PROCESS = env_bool("MEDIA_WORKER_IN_PROCESS", True)
MEDIA_WORKER_CHANNEL = os.environ.get("MEDIA_WORKER_CHANNEL", "media-worker")
MEDIA_WORKER_COUNT = int(os.environ.get("MEDIA_WORKER_COUNT", "1"))
MEDIA_WORKER_HEARTBEAT_SECONDS = float(os.environ.get("MEDIA_WORKER_HEARTBEAT_SECONDS", "1"))
MEDIA_WORKER_DEAD_AFTER_SECONDS = float(os.environ.get("MEDIA_WORKER_DEAD_AFTER_SECONDS", "3.5"))
MEDIA_DRAIN_SECONDS = float(os.environ.get("MEDIA_DRAIN_SECONDS", "30"))
# One session across workers (sessions/media/cascade.py, docs/media.md): a session stays on
# its workers while one has fewer than MEDIA_WORKER_SOFT_LIMIT participants, then spreads;
# its publications cross between workers over links on MEDIA_CASCADE_HOST (the address
# other workers reach this one at; port 0 = any free port, announced in the registry),
# authenticated with MEDIA_CASCADE_SECRET (default: derived from SECRET_KEY).
MEDIA_CASCADE = env_bool("MEDIA_CASCADE", True)
MEDIA_CASCADE_HOST = os.environ.get("MEDIA_CASCADE_HOST", "127.0.0.1")
MEDIA_CASCADE_PORT = int(os.environ.get("MEDIA_CASCADE_PORT", "0"))
MEDIA_CASCADE_SECRET = os.environ.get("MEDIA_CASCADE_SECRET", "")
MEDIA_WORKER_SOFT_LIMIT = int(os.environ.get("MEDIA_WORKER_SOFT_LIMIT", "300"))
# Capacity of the SFU for viewers (people who may not send): past it they are offered the
# broadcast (sessions/media/placement.py, docs/broadcast.md). A worker carries at most
# MEDIA_WORKER_HARD_LIMIT participants (about 450 video subscribers fill a core); a session at
# most MEDIA_SESSION_SFU_CAP on its workers (0: no cap). Speakers are never refused.
MEDIA_WORKER_HARD_LIMIT = int(os.environ.get("MEDIA_WORKER_HARD_LIMIT", "450"))
MEDIA_SESSION_SFU_CAP = int(os.environ.get("MEDIA_SESSION_SFU_CAP", "0"))
# How long the bucket keeps a broadcast's HLS segments (`manage.py broadcast_lifecycle`
# applies the rule; the session keeps its MP4 recording for good).
BROADCAST_HLS_KEEP_DAYS = int(os.environ.get("BROADCAST_HLS_KEEP_DAYS", "30"))
# A broadcast handed over (drain) or whose worker died that no worker continues this long
# (nobody's media came back) is closed by a live worker: ENDLIST, its MP4, the notice off.
BROADCAST_ORPHAN_GRACE_SECONDS = float(os.environ.get("BROADCAST_ORPHAN_GRACE_SECONDS", "30"))
# A recording whose worker died (or handed it over) that no worker continues this long is kept
# by a live worker from the dead worker's pieces, the notice off (at once if the session ended).
RECORDING_ORPHAN_GRACE_SECONDS = float(os.environ.get("RECORDING_ORPHAN_GRACE_SECONDS", "30"))
# A recording also stores what it wrote every so many seconds, so a killed worker loses at
# most that much (sessions/media/recording.py); 0 turns the pieces off.
# Automatic live captions by the media worker, on this machine (sessions/media/transcription.py):
# "pocketsphinx" (English, in its package) or "" (off). Never for consults.
MEDIA_CAPTIONS_ENGINE = os.environ.get("MEDIA_CAPTIONS_ENGINE", "")
MEDIA_RECORDING_CHECKPOINT_SECONDS = float(os.environ.get("MEDIA_RECORDING_CHECKPOINT_SECONDS", "5"))
TURN_URLS = env_list("TURN_URLS")
TURN_SECRET = os.environ.get("TURN_SECRET", "")
TURN_CREDENTIAL_TTL_SECONDS = int(os.environ.get("TURN_CREDENTIAL_TTL_SECONDS", "3600"))
STUN_URLS = env_list("STUN_URLS")

# -- logging ----------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # django-axes logs every log-in at INFO (with masked names): only its warnings matter.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

if not REDIS_URL:
    logger.info(
        "REDIS_URL is not set: using the in-memory channel layer, which serves one process only."
    )


# -- Content-Security-Policy (django-csp) ------------------------------------------------
# No inline script or style anywhere (every script is a static ES module); files come from
# this site or, signed, from the file storage's own address (S3, MinIO: STORAGE_ORIGINS);
# sockets only to this site. LTI pages that a course platform embeds widen frame-ancestors
# themselves (server/lti/views.py). Chromium proves every page works under it:
# tests/reach/test_csp.py.
from csp.constants import NONE, SELF  # noqa: E402


def _storage_origins() -> list[str]:
    from urllib.parse import urlsplit

    origins = []
    for url in (os.environ.get("AWS_S3_ENDPOINT_URL", ""), os.environ.get("AWS_S3_CUSTOM_DOMAIN", "")):
        if url:
            parts = urlsplit(url if "://" in url else f"https://{url}")
            origins.append(f"{parts.scheme}://{parts.netloc}")
    bucket = os.environ.get("AWS_STORAGE_BUCKET_NAME", "")
    if bucket and not os.environ.get("AWS_S3_ENDPOINT_URL"):
        origins += [f"https://{bucket}.s3.amazonaws.com", "https://*.s3.amazonaws.com"]
    return origins


STORAGE_ORIGINS = _storage_origins()
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:", *STORAGE_ORIGINS],
        "media-src": [SELF, "blob:", *STORAGE_ORIGINS],
        "connect-src": [SELF, *STORAGE_ORIGINS],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [SELF],
    },
}
