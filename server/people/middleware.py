"""Show every time in the viewer's own time zone and interface language."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation


class UserTimezoneMiddleware:
    """Activate the signed-in user's time zone (stored times are UTC) and language.

    Anonymous visitors get UTC unless the browser told us its zone in the `tz` cookie
    (set by frontend/static/js/timezone.js).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        zone_name = user.time_zone if user is not None and user.is_authenticated else request.COOKIES.get("tz", "UTC")
        try:
            timezone.activate(zoneinfo.ZoneInfo(zone_name))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder name ("America"), a too-long name
            timezone.activate(zoneinfo.ZoneInfo("UTC"))
        # The profile's language is the default on any device; the footer's language
        # switch (Django's language cookie) wins for the browser where it was used.
        has_language_cookie = settings.LANGUAGE_COOKIE_NAME in request.COOKIES
        if user is not None and user.is_authenticated and user.preferred_language and not has_language_cookie:
            translation.activate(user.preferred_language)
            request.LANGUAGE_CODE = translation.get_language()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
