"""Test settings: the base settings with DEBUG on and quick, isolated defaults.

Everything still comes from the environment, so the test command can point the same
suite at PostgreSQL, Redis and an S3 server by setting DATABASE_URL, REDIS_URL and the
AWS_* variables.
"""

import os
import tempfile

os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("MEDIA_ROOT", tempfile.mkdtemp(prefix="openrounds-test-media-"))
# One test run's Redis channels and keys, and its objects in the S3 bucket, are its own:
# another run on the same machine (or a leftover worker) must not answer its messages.
# Set in the environment so the daphne and worker subprocesses of this run share them.
os.environ.setdefault("REDIS_NAMESPACE", f"openrounds-test-{os.getpid()}")
os.environ.setdefault("AWS_LOCATION", f"test-run-{os.getpid()}")

from .base import *  # noqa: E402,F403

# Tests create many users; Argon2 stays the production hasher (asserted in a test).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]  # noqa: F405
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
if env_bool("TEST_STATIC_COMPRESSED", False):  # noqa: F405
    # The browser tests' servers (tests/browser_support.py): static files from a collected
    # root with gzip variants, as whitenoise serves them in production, not from the
    # source folders uncompressed.
    STORAGES["staticfiles"] = {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"}  # noqa: F405
    WHITENOISE_USE_FINDERS = False
    WHITENOISE_AUTOREFRESH = False

# Test databases are named per process: several test runs may share this machine.
# SQLite is file-backed so a daphne subprocess in browser tests can open it too.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / f"test-db-{os.getpid()}.sqlite3")}  # noqa: F405
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}  # noqa: F405

# Every room event a test emits must match its declared schema (sessions/room/events.py).
ROOM_EVENT_SCHEMAS_STRICT = True
