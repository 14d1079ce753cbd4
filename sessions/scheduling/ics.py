"""Calendar files (RFC 5545) of sessions, made with the `icalendar` package.

Times are written in UTC ("…Z"), so every calendar app shows them in its own zone
without needing our zone database. Each session keeps one UID for its whole life, so a
changed or cancelled session updates the entry already in a calendar.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from django.utils import timezone
from icalendar import Calendar, Event

from sessions.models import LiveSession, SessionStatus

PRODID = "-//OpenRounds//Live sessions//EN"


def session_uid(session: LiveSession) -> str:
    return f"session-{session.pk}@openrounds"


def _calendar(name: str | None = None) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    if name:
        calendar.add("x-wr-calname", name)
    return calendar


def _event(session: LiveSession, *, url: str, stamp: dt.datetime) -> Event:
    event = Event()
    event.add("uid", session_uid(session))
    event.add("dtstamp", stamp)
    event.add("dtstart", session.starts_at.astimezone(dt.UTC))
    event.add("dtend", session.ends_at.astimezone(dt.UTC))
    event.add("summary", session.title)
    description = session.description.strip()
    event.add("description", f"{description}\n\n{url}".strip() if description else url)
    event.add("url", url)
    event.add("location", url)
    event.add("organizer", f"mailto:{session.host.email}" if session.host.email else "mailto:noreply@openrounds.invalid",
              parameters={"cn": session.host.name})
    event.add("categories", [session.get_kind_display()])
    event.add("status", "CANCELLED" if session.status == SessionStatus.CANCELLED else "CONFIRMED")
    return event


def session_calendar(session: LiveSession, *, url: str) -> bytes:
    """An .ics file with the one event of `session`."""
    calendar = _calendar()
    calendar.add_component(_event(session, url=url, stamp=timezone.now()))
    return calendar.to_ical()


def schedule_calendar(sessions: Iterable[LiveSession], *, name: str, url_of: Callable[[LiveSession], str]) -> bytes:
    """A calendar feed with one event per session."""
    calendar = _calendar(name)
    stamp = timezone.now()
    for session in sessions:
        calendar.add_component(_event(session, url=url_of(session), stamp=stamp))
    return calendar.to_ical()
