"""Review finding: the 'consult scheduled' notice gave the time in UTC to everyone,
although each person reads times in their own zone (a trainee in Malawi is UTC+2)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.utils import timezone

from sessions.consults import services
from sessions.models import ConsultNotification


def _scheduled_notice(consult, user) -> str:
    return ConsultNotification.objects.filter(consult=consult, user=user).order_by("-pk").first().text


def test_scheduled_consult_notice_shows_each_person_their_own_time(people, pending):
    start = (timezone.now() + dt.timedelta(days=2)).astimezone(dt.UTC).replace(hour=8, minute=0, second=0, microsecond=0)
    services.consult_accept(supervisor=people.mensah, consult=pending, starts_at=start)
    for person in (people.chikondi, people.mensah):
        local = start.astimezone(zoneinfo.ZoneInfo(person.time_zone))
        notice = _scheduled_notice(pending, person)
        assert f"{local:%Y-%m-%d %H:%M} {person.time_zone}" in notice, (person.username, notice)
