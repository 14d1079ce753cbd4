"""Schemathesis against the app's own OpenAPI document (/api/schema): no request may cause a 5xx.

Runs in-process through the WSGI handler (so it shares the test database transaction),
authenticated with a personal access token of a demo student, over the demo data of
every app. Examples per operation are bounded so the run takes seconds, not minutes.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from server.people.models import User
from server.people.services import access_token_create
from tests.reach.pages import seed_demo_data

EXAMPLES_PER_OPERATION = 30


@pytest.fixture(autouse=True)
def keep_test_connection_open():
    """Like Django's test client: a request must not close the connection holding the test transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(scope="module")
def demo_data(django_db_setup, django_db_blocker):
    """The demo data of every app, committed once for this module (seeding per operation would
    dominate the run), and flushed afterwards so no other test sees it."""
    with django_db_blocker.unblock():
        seed_demo_data()
        try:
            yield
        finally:
            call_command("flush", interactive=False, verbosity=0)


@pytest.fixture
def demo_token(demo_data, db) -> str:
    _, secret = access_token_create(user=User.objects.get(username="amina"), name="schemathesis")
    return secret


# Loaded at collection: reading the schema touches no database. (The lazy
# `schemathesis.pytest.from_fixture` loader does not work with pytest 9.)
schema = schemathesis.openapi.from_wsgi("/api/schema", WSGIHandler())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_never_answers_with_a_server_error(case, demo_token):
    response = case.call(headers={"Authorization": f"Bearer {demo_token}"})
    case.validate_response(response, checks=[not_a_server_error])
