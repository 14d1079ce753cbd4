"""Guessing passwords costs time: log-in, password reset, tokens and LTI log-in are throttled.

An outside attack answered 30 wrong passwords for one account in 5 s, and the right one
then worked at once. These tests read the answers a client gets: the status, the
Retry-After header and the page that says when to try again.
"""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest
from django.core.cache import cache
from django.test import Client

from server.people.demo import DEMO_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_counts():
    cache.clear()  # django-ratelimit's counters (the database ones are per test)
    yield
    cache.clear()


def log_in(client: Client, username: str, password: str, address: str = "203.0.113.7"):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def test_after_five_wrong_passwords_even_the_right_one_is_refused_with_when_to_try_again(people, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, "amina", "guess").status_code == 200  # the form again, with its error
    locked = log_in(client, "amina", "guess")
    assert locked.status_code == 429 and locked["Retry-After"] == "900"
    assert "Try again in 15 minutes." in locked.content.decode()
    right = log_in(client, "amina", DEMO_PASSWORD)
    assert right.status_code == 429 and "_auth_user_id" not in client.session


def test_the_account_is_locked_whatever_address_the_guesses_come_from(people, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        log_in(Client(), "lukas", "guess", address=f"198.51.100.{n}")
    assert log_in(Client(), "lukas", DEMO_PASSWORD, address="192.0.2.99").status_code == 429


def test_one_address_guessing_many_accounts_is_locked_too(people, settings):
    names = ["amina", "lukas", "chikondi", "tanaka", "mensah", "priya"]
    answers = [log_in(Client(), name, "guess", address="192.0.2.50").status_code for name in names]
    assert answers[-1] == 429
    assert log_in(Client(), "priya", DEMO_PASSWORD, address="192.0.2.51").status_code == 302  # her account is fine


def test_a_right_password_before_the_limit_logs_in_and_clears_the_count(people, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "amina", "guess")
    assert log_in(client, "amina", DEMO_PASSWORD).status_code == 302


def test_password_reset_mails_for_one_address_are_limited(people):
    client = Client()
    answers = [client.post("/accounts/password_reset/", {"email": people.amina.email}).status_code for _ in range(4)]
    assert answers[:3] == [302, 302, 302] and answers[3] == 429


def test_token_creation_is_limited_per_person(people):
    client = Client()
    client.force_login(people.amina)
    answers = [client.post("/accounts/tokens/", {"name": f"script {n}"}).status_code for n in range(11)]
    assert answers[:10] == [200] * 10 and answers[10] == 429


def test_lti_log_in_attempts_from_one_address_are_limited(people):
    client = Client()
    answers = [client.get("/lti/login/", {"iss": "https://nowhere.example", "login_hint": "x"}).status_code for _ in range(61)]
    assert set(answers[:60]) == {400} and answers[60] == 429


@pytest.mark.django_db(transaction=True)
def test_a_real_server_locks_the_account_and_says_when(people, live_site, settings):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{live_site.url}/accounts/login/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]

    def attempt(password: str) -> tuple[int, dict, str]:
        body = urllib.parse.urlencode({"username": "amina", "password": password, "csrfmiddlewaretoken": token}).encode()
        request = urllib.request.Request(f"{live_site.url}/accounts/login/", data=body,
                                         headers={"Referer": f"{live_site.url}/accounts/login/"})
        try:
            with opener.open(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()

    statuses = [attempt("guess")[0] for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert statuses[-1] == 429
    status, headers, page = attempt(DEMO_PASSWORD)
    assert status == 429 and headers["Retry-After"] == "900" and "Try again in 15 minutes." in page
