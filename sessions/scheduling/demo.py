"""Demo sessions for `seed_demo`: every schedulable kind in the next two weeks; safe to run again.

Sessions are found again by (host, title), and their times are moved relative to now on
each run, so a demo seeded last month still shows upcoming sessions. Consults are seeded
by the consults part. Two sessions lie in the past, to show recommendations and
reflections.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TextIO

from django.db import transaction
from django.utils import timezone

from server.people.models import User
from sessions.models import (
    Audience,
    LiveSession,
    Recommendation,
    Reflection,
    RegistrationStatus,
    SessionInvitation,
    SessionKind,
    SessionRegistration,
    SessionStatus,
)


@dataclass(frozen=True)
class DemoSession:
    host: str
    kind: str
    title: str
    day: int  # days from today (negative: in the past)
    hour: int  # UTC hour of the start
    minutes: int
    specialty: str
    language: str = "en"
    audience: str = Audience.EVERYONE
    capacity: int = 100
    presenter: str | None = None
    lobby: bool = False
    description: str = ""
    registered: tuple[str, ...] = ()
    waitlisted: tuple[str, ...] = ()
    invited: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)


DEMO_SESSIONS = [
    DemoSession("tanaka", SessionKind.LECTURE, "Heart failure across continents", 3, 9, 90, "Cardiology",
                capacity=300, description="Epidemiology, diagnosis and affordable treatment of heart failure in Japan, Nigeria and Germany. Questions ranked by votes at the end.",
                registered=("amina", "lukas", "priya", "beatriz", "chikondi", "akosua")),
    DemoSession("tanaka", SessionKind.LECTURE, "心電図の読み方 — ECG basics", 8, 6, 60, "Cardiology", language="ja",
                capacity=200, registered=("yui", "ren")),
    DemoSession("hoffmann", SessionKind.CASE_CONFERENCE, "Chest pain in a 24-year-old runner", 2, 14, 60, "Cardiology",
                audience=Audience.PARTNERS, capacity=40, presenter="lukas",
                description="Lukas presents a case from Heidelberg: exertional chest pain, a normal resting ECG and a family history of sudden death. What next?",
                registered=("amina", "greta", "jonas", "priya", "tunde")),
    DemoSession("adebayo", SessionKind.CASE_CONFERENCE, "Sickle cell crisis in pregnancy", 5, 13, 75, "Haematology",
                capacity=60, presenter="chiamaka",
                description="A 28-week pregnant woman with HbSS presents with bone pain and fever. Management in a resource-limited setting.",
                registered=("lukas", "akosua", "yaw", "thoko")),
    DemoSession("adebayo", SessionKind.CASE_CONFERENCE, "Difficult airway: morbidity and mortality review", 9, 15, 60, "Anaesthesia",
                audience=Audience.INVITED, capacity=12, lobby=True, invited=("amina", "tunde", "okafor"), registered=("tunde",)),
    DemoSession("mensah", SessionKind.LECTURE, "Supervising remote consults safely", 11, 12, 60, "Family medicine",
                audience=Audience.PARTNERS, capacity=80, registered=("chikondi", "mphatso")),
    DemoSession("clarke", SessionKind.LECTURE, "Recognising sepsis early", 13, 17, 60, "Emergency medicine",
                capacity=150, registered=("oliver", "amara")),
    DemoSession("lukas", SessionKind.PEER, "TB management in Germany, India and Brazil", 4, 16, 60, "Infectious diseases",
                capacity=5, registered=("priya", "beatriz")),
    DemoSession("amina", SessionKind.PEER, "Malaria guidelines: Nigeria vs Ghana", 6, 17, 45, "Infectious diseases",
                capacity=3, registered=("akosua", "yaw", "tunde"), waitlisted=("jonas",)),
    DemoSession("beatriz", SessionKind.PEER, "Dengue em debate", 10, 21, 60, "Infectious diseases", language="pt",
                capacity=4, registered=("lucia", "rafael")),
    # In the past: to show what comes after a session.
    DemoSession("hoffmann", SessionKind.CASE_CONFERENCE, "Syncope in a teenager", -3, 14, 60, "Cardiology",
                audience=Audience.PARTNERS, capacity=40, presenter="greta", registered=("amina", "lukas", "priya"),
                extra={"recommendation": "Well presented. Next time put the ECG before the echo, and state the question for discussion at the start."}),
    DemoSession("priya", SessionKind.PEER, "Antibiotic stewardship in our hospitals", -2, 12, 60, "Infectious diseases",
                capacity=4, registered=("lukas", "beatriz"),
                extra={"reflections": {"lukas": ("Brazil's restriction lists were new to me; I want to compare them with ours.", True),
                                       "priya": ("I should prepare local resistance data next time.", False)}}),
]


def _start(day: int, hour: int, now: dt.datetime) -> dt.datetime:
    today = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + dt.timedelta(days=day, hours=hour)


@transaction.atomic
def seed(stdout: TextIO) -> None:
    """Create or refresh the demo sessions and their registrations."""
    now = timezone.now()
    users = {u.username: u for u in User.objects.filter(username__in=_usernames())}
    created = 0
    for demo in DEMO_SESSIONS:
        host = users.get(demo.host)
        if host is None:
            continue
        membership = host.primary_membership()
        if membership is None:
            continue
        starts = _start(demo.day, demo.hour, now)
        if demo.day >= 0 and starts <= now:  # a session "today" whose hour has passed: tomorrow
            starts += dt.timedelta(days=1)
        ends = starts + dt.timedelta(minutes=demo.minutes)
        status = SessionStatus.ENDED if ends <= now else SessionStatus.SCHEDULED
        session, was_created = LiveSession.objects.update_or_create(
            host=host, title=demo.title,
            defaults=dict(
                kind=demo.kind, description=demo.description, specialty=demo.specialty, language=demo.language,
                presenter=users.get(demo.presenter or "") or host, institution=membership.institution,
                starts_at=starts, ends_at=ends, capacity=demo.capacity, audience=demo.audience,
                lobby_enabled=demo.lobby, status=status,
            ),
        )
        created += was_created
        for username in demo.invited:
            if username in users:
                SessionInvitation.objects.get_or_create(session=session, user=users[username], defaults={"invited_by": host})
        for index, username in enumerate(demo.registered + demo.waitlisted):
            if username not in users:
                continue
            state = RegistrationStatus.REGISTERED if username in demo.registered else RegistrationStatus.WAITLISTED
            SessionRegistration.objects.update_or_create(
                session=session, user=users[username],
                defaults={"status": state, "created_at": session.created_at + dt.timedelta(seconds=index)},
            )
        if "recommendation" in demo.extra and session.presenter is not None and session.presenter_id != host.pk:
            Recommendation.objects.get_or_create(
                session=session, author=host, defaults={"presenter": session.presenter, "body": demo.extra["recommendation"]}
            )
        for username, (body, shared) in demo.extra.get("reflections", {}).items():
            if username in users:
                Reflection.objects.get_or_create(session=session, author=users[username], defaults={"body": body, "shared": shared})
    stdout.write(f"Sessions: {len(DEMO_SESSIONS)} demo sessions ({created} new).\n")


def _usernames() -> set[str]:
    names: set[str] = set()
    for demo in DEMO_SESSIONS:
        names |= {demo.host, *(demo.registered + demo.waitlisted + demo.invited)}
        if demo.presenter:
            names.add(demo.presenter)
        names |= set(demo.extra.get("reflections", {}))
    return names
