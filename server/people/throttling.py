"""Throttled log-ins and account actions: a guessed password costs the guesser time.

Why: 30 wrong passwords for one account in 5 s were all answered, and the right one then
worked at once. Failed log-ins are counted by django-axes (in the database, so every web
process shares the count) per account and per client address; past
`AXES_FAILURE_LIMIT` failures either one is locked out for `AXES_COOLOFF_TIME`, and the
person is told when they may try again (429, `Retry-After`). Password reset, personal
token creation and LTI log-in are counted by django-ratelimit in the shared cache (Redis
in production) with the same answer.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import ngettext

#: One window for every rate-limited action: the person can be told exactly how long to wait.
RATE_WINDOW = timedelta(minutes=15)


def _minutes_text(wait: timedelta) -> str:
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    return ngettext("Try again in %(n)d minute.", "Try again in %(n)d minutes.", minutes) % {"n": minutes}


def _too_many(request: HttpRequest, wait: timedelta) -> HttpResponse:
    response = render(request, "registration/too_many_attempts.html", {"try_again": _minutes_text(wait)}, status=429)
    response["Retry-After"] = str(int(wait.total_seconds()))
    return response


def login_locked_out(request: HttpRequest, original_response: Any = None, credentials: Any = None) -> HttpResponse:
    """django-axes' lockout answer (AXES_LOCKOUT_CALLABLE): 429 and when to try again."""
    return _too_many(request, settings.AXES_COOLOFF_TIME)


def rate_limited(request: HttpRequest, exception: Exception) -> HttpResponse:
    """django-ratelimit's answer (RATELIMIT_VIEW) for password reset, tokens and LTI log-in."""
    return _too_many(request, RATE_WINDOW)


def rate(count: int) -> str:
    """A django-ratelimit rate of `count` per RATE_WINDOW."""
    return f"{count}/{int(RATE_WINDOW.total_seconds() // 60)}m"
