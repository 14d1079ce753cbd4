"""Fixtures shared by every test: the named demo people and the real components.

Tests use the people of shared/PRODUCT.md by name (`people.amina`, `people.okafor`…),
seeded by the same code as the demo.
"""

from __future__ import annotations

import os
import socket
from types import SimpleNamespace

import pytest

from server.people.demo import seed_people
from server.people.models import User

pytest_plugins = ["tests.browser_support"]


@pytest.fixture(autouse=True)
def _interface_language_reset():
    """Each test starts in the default language: a request with Accept-Language (or a
    socket in French) activates a language in this thread, and Django leaves it active."""
    from django.utils import translation

    yield
    translation.deactivate()


@pytest.fixture
def people(db) -> SimpleNamespace:
    """Every demo user by username, and every demo school by key, as attributes."""
    schools = seed_people()
    users = {user.username: user for user in User.objects.all()}
    return SimpleNamespace(**users, schools=SimpleNamespace(**schools))


def real_services_required() -> bool:
    """In the test command (and CI) a missing real component fails the test instead of skipping."""
    return os.environ.get("REQUIRE_REAL_SERVICES") == "1" or os.environ.get("CI") == "true"


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def need_component(name: str, available: bool) -> None:
    """Fail (in CI) or skip (on a developer's partial machine) when a component is missing."""
    if available:
        return
    message = f"{name} is not available; `make test` starts it."
    if real_services_required():
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pytest_collection_modifyitems(config, items):
    """Pass 2 (the production components) runs only what can differ there: what touches the
    database, Redis, S3 or a browser. A test with none of them ran in pass 1 already and
    would only repeat itself (scripts/test.sh; keeps the suite within its time budget)."""
    if os.environ.get("TEST_PASS") != "production":
        return
    uses_components = {"db", "transactional_db", "live_server", "settings_redis"}
    kept, repeated = [], []
    for item in items:
        marked = any(item.get_closest_marker(name) for name in ("django_db", "realservices", "browser"))
        if marked or uses_components & set(getattr(item, "fixturenames", ())):
            kept.append(item)
        else:
            repeated.append(item)
    if repeated:
        config.hook.pytest_deselected(items=repeated)
        items[:] = kept


@pytest.fixture
def s3_default_storage(settings):
    """This process's default storage on the real S3 server, whatever earlier tests swapped.

    Other tests replace `default_storage` for a while (local files, a test bucket); a test
    about what S3 serves (signed URLs, CORS) must not find local files instead and skip.
    Fails in CI when the S3 server is missing.
    """
    from tests.courses.library.conftest import _reset_storages, s3_bucket_ensure, s3_options

    need_component("S3 server on 127.0.0.1:9123", port_open("127.0.0.1", 9123))
    s3_bucket_ensure()
    backend = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": s3_options()}
    # Set through pytest-django's `settings` so later setting changes in the test unwind in
    # order (a nested override_settings leaked its storage into following tests).
    settings.STORAGES = {**settings.STORAGES, "default": backend}
    _reset_storages()
    yield
    _reset_storages()
