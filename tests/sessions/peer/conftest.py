"""Helpers for peer-exchange tests: free times relative to now, and requests made through the service."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from sessions.models import PeerMatchRequest
from sessions.peer import services


def day_start(now: dt.datetime | None = None) -> dt.datetime:
    """Today 00:00 UTC."""
    return (now or timezone.now()).astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def window(day: int, hour: int, hours: float = 3, *, minute: int = 0) -> tuple[dt.datetime, dt.datetime]:
    """A free time `day` days from today at hour:minute UTC, `hours` long."""
    start = day_start() + dt.timedelta(days=day, hours=hour, minutes=minute)
    return start, start + dt.timedelta(hours=hours)


@pytest.fixture
def ask(people) -> Callable[..., PeerMatchRequest]:
    """`ask(people.amina, topic=…, windows=[window(2, 14)], size=2)`: a request through the service."""

    def make(user: Any, *, topic: str = "Malaria in pregnancy", discipline: str = "Infectious diseases",
             windows: list | None = None, size: int = 2, languages: list[str] | None = None,
             same_country_ok: bool = False, now: dt.datetime | None = None) -> PeerMatchRequest:
        wish = services.PeerWish(
            topic=topic, discipline=discipline, windows=windows or [window(2, 14)], group_size=size,
            languages=languages, same_country_ok=same_country_ok,
        )
        return services.peer_request_create(by=user, wish=wish, now=now)

    return make


def make_peer_session(people: Any, *, host: Any = None, members: tuple[str, ...] = ("lukas", "yui"), **fields: Any):
    """A peer session that started 5 minutes ago, hosted by Amina, with invited, registered members."""
    from sessions.models import (
        Audience,
        LiveSession,
        RegistrationStatus,
        SessionInvitation,
        SessionKind,
        SessionRegistration,
    )

    host = host or people.amina
    now = timezone.now()
    values: dict[str, Any] = {
        "kind": SessionKind.PEER, "title": "Malaria in pregnancy", "host": host, "presenter": host,
        "institution": host.primary_membership().institution, "starts_at": now - dt.timedelta(minutes=5),
        "ends_at": now + dt.timedelta(hours=1), "audience": Audience.INVITED, "capacity": max(1, len(members)),
        "language": "en",
    }
    values.update(fields)
    session = LiveSession.objects.create(**values)
    for username in members:
        user = getattr(people, username)
        SessionInvitation.objects.create(session=session, user=user, invited_by=host)
        SessionRegistration.objects.create(session=session, user=user, status=RegistrationStatus.REGISTERED)
    return session
