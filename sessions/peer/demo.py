"""Demo requests for exchange partners, for `seed_demo`; safe to run again.

A few students of different countries wait for partners, with free times a few days
ahead (moved relative to now on each run). They do not match each other yet: Greta
(Heidelberg) and Beatriz (São Paulo) both want a group of three about infectious
diseases, so when Amina (Lagos) asks about malaria at the same time, the three are
matched at once. Requests are found again by (person, topic); a matched one is left alone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TextIO

from django.db import transaction
from django.utils import timezone

from server.people.models import User
from sessions.models import PeerMatchRequest, PeerRequestStatus, PeerWindow

from . import matching, selectors


@dataclass(frozen=True)
class DemoRequest:
    username: str
    topic: str
    discipline: str
    group_size: int
    windows: tuple[tuple[int, int, int], ...]  # (days from today, UTC hour, hours long)


DEMO_REQUESTS = [
    DemoRequest("greta", "Antibiotic resistance in intensive care", "Infectious diseases", 3, ((3, 14, 4), (5, 15, 3))),
    DemoRequest("beatriz", "Dengue and chikungunya in cities", "Infectious diseases", 3, ((3, 15, 3), (6, 12, 4))),
    DemoRequest("yui", "Stroke thrombolysis time targets", "Neurology", 2, ((4, 8, 3),)),
    DemoRequest("priya", "Diabetic foot care in primary care", "Endocrinology", 4, ((4, 9, 3), (7, 10, 2))),
    DemoRequest("lucia", "Tuberculose e HIV em adolescentes", "Infecciologia", 2, ((5, 16, 3),)),
]


def _at(day: int, hour: int, now: dt.datetime) -> dt.datetime:
    today = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + dt.timedelta(days=day, hours=hour)


@transaction.atomic
def seed(stdout: TextIO) -> None:
    """Create or refresh the demo requests (open, with windows ahead)."""
    now = timezone.now()
    users = {u.username: u for u in User.objects.filter(username__in=[d.username for d in DEMO_REQUESTS])}
    count = 0
    for demo in DEMO_REQUESTS:
        user = users.get(demo.username)
        if user is None:
            continue
        country, membership = selectors.user_country(user=user)
        if membership is None:
            continue
        existing = PeerMatchRequest.objects.filter(user=user, topic=demo.topic).first()
        if existing is not None and existing.status == PeerRequestStatus.MATCHED:
            continue
        other_open = PeerMatchRequest.objects.filter(user=user, status=PeerRequestStatus.OPEN)
        if existing is not None:
            other_open = other_open.exclude(pk=existing.pk)
        if other_open.exists():  # the person asked for something else themselves: leave theirs
            continue
        windows = [(_at(day, hour, now), _at(day, hour, now) + dt.timedelta(hours=hours)) for day, hour, hours in demo.windows]
        values = dict(
            discipline=demo.discipline, topic_words=sorted(matching.topic_words(demo.topic, demo.discipline)),
            languages=list(user.languages or ["en"]), group_size=demo.group_size, same_country_ok=False,
            time_zone=user.time_zone or "UTC", country=country, institution=membership.institution,
            status=PeerRequestStatus.OPEN, expires_at=max(end for _start, end in windows), session=None, matched_at=None, closed_at=None,
        )
        request, _created = PeerMatchRequest.objects.update_or_create(user=user, topic=demo.topic, defaults=values)
        request.windows.all().delete()
        PeerWindow.objects.bulk_create([PeerWindow(request=request, starts_at=s, ends_at=e) for s, e in windows])
        count += 1
    stdout.write(f"Peer exchange: {count} open requests for partners.\n")
