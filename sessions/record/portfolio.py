"""A student's portfolio: their international learning, read from the other parts.

Private by default: the student sees it; anyone else only through the secret link the
student made (and may revoke). Through the link, reflections show only if the student
shared them; consults show as counts and specialties only, never a title or anything
about a patient (consult titles and notes may describe one). Cases presented are the
case conferences the student presented (their session titles and specialties).
Competencies are the tags of the library materials behind what they did: the cases of
the sessions they attended and the items of the courses they completed. A course is
completed by its own criterion (`courses.assessment.selectors.course_completions`, the
one its certificate asks): every question set passed, or, without any, every item done.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from courses.assessment.selectors import course_completions
from courses.models import Course, Material, ModuleItem
from server.people.http import AnyUser
from server.people.models import Membership, User
from sessions.models import Attendance, LiveSession, PortfolioShare, Reflection, SessionKind, SessionStatus

from .report import country_name


@dataclass(frozen=True)
class AttendedSession:
    title: str
    kind: str
    kind_label: str
    specialty: str
    starts_at: Any
    countries: list[str]  # names, in the reader's language


@dataclass
class Portfolio:
    owner: User
    is_owner: bool
    sessions: list[AttendedSession] = field(default_factory=list)
    countries_met: list[str] = field(default_factory=list)
    peer_exchanges: int = 0
    consults_observed: Counter = field(default_factory=Counter)  # specialty -> count
    consults_led: Counter = field(default_factory=Counter)
    cases_presented: list[LiveSession] = field(default_factory=list)
    courses: list[tuple[str, Any]] = field(default_factory=list)  # (title, completed_at)
    reflections: list[Reflection] = field(default_factory=list)
    competencies: list[tuple[str, int]] = field(default_factory=list)

    # (specialty, count) rows for templates: a template's `.items` on a Counter looks up
    # the key "items" (a count of 0) before the method.
    @property
    def observed_rows(self) -> list[tuple[str, int]]:
        return sorted(self.consults_observed.items())

    @property
    def led_rows(self) -> list[tuple[str, int]]:
        return sorted(self.consults_led.items())


def portfolio_share_of(*, user: User) -> PortfolioShare | None:
    return PortfolioShare.objects.filter(user=user).first()


def portfolio_owner_by_token(*, token: str) -> User | None:
    """Whose portfolio a link opens; None when the link was revoked or never existed."""
    if not token or len(token) > 64:
        return None
    share = PortfolioShare.objects.select_related("user").filter(token=token).first()
    return share.user if share is not None else None


def portfolio_read(*, viewer: AnyUser, owner: User, through_link: bool = False) -> Portfolio | None:
    """The portfolio as `viewer` may see it: the owner, or anyone holding the link (the
    caller resolved the token). Anyone else: None."""
    is_owner = viewer.is_authenticated and viewer.pk == owner.pk
    if not is_owner and not through_link:
        return None
    portfolio = Portfolio(owner=owner, is_owner=bool(is_owner))
    attended = Attendance.objects.filter(user=owner).values("session_id")
    sessions = list(LiveSession.objects.filter(pk__in=attended).exclude(status=SessionStatus.CANCELLED).order_by("-starts_at"))
    open_ids = [s.pk for s in sessions if s.kind != SessionKind.CONSULT]
    # The countries of the people met, one grouped query over every session at once.
    met: dict[int, set[str]] = {}
    rows = (
        Membership.objects.filter(is_active=True, user__attendance__session_id__in=open_ids)
        .exclude(user=owner).values_list("user__attendance__session_id", "institution__country").distinct()
    )
    for session_id, country in rows:
        met.setdefault(session_id, set()).add(str(country))
    labels = dict(SessionKind.choices)
    every_country: set[str] = set()
    for session in sessions:
        if session.kind == SessionKind.CONSULT:
            if session.host_id != owner.pk:
                portfolio.consults_observed[session.specialty or "—"] += 1
            continue
        if session.kind == SessionKind.PEER:
            portfolio.peer_exchanges += 1
        countries = sorted(country_name(code) for code in met.get(session.pk, set()))
        every_country.update(countries)
        portfolio.sessions.append(AttendedSession(
            title=session.title, kind=session.kind, kind_label=str(labels.get(session.kind, session.kind)),
            specialty=session.specialty, starts_at=session.starts_at, countries=countries,
        ))
    for specialty in LiveSession.objects.filter(host=owner, kind=SessionKind.CONSULT).exclude(status=SessionStatus.CANCELLED).values_list("specialty", flat=True):
        portfolio.consults_led[specialty or "—"] += 1
    portfolio.countries_met = sorted(every_country)
    portfolio.cases_presented = list(
        LiveSession.objects.filter(presenter=owner, kind=SessionKind.CASE_CONFERENCE).exclude(status=SessionStatus.CANCELLED)
        .order_by("-starts_at")
    )
    completions = course_completions(user_ids=[owner.pk])
    titles = dict(Course.objects.filter(pk__in=[c.course_id for c in completions]).values_list("pk", "title"))
    portfolio.courses = sorted(((titles.get(c.course_id, ""), c.completed_at) for c in completions), key=lambda pair: str(pair[1]), reverse=True)
    reflections = Reflection.objects.filter(author=owner).select_related("session").order_by("-created_at")
    if not is_owner:
        reflections = reflections.filter(shared=True)
    portfolio.reflections = list(reflections.exclude(session__kind=SessionKind.CONSULT))
    material_ids = Q(pk__in=LiveSession.objects.filter(pk__in=open_ids, case_material__isnull=False).values("case_material_id")) | Q(
        pk__in=ModuleItem.objects.filter(module__course_id__in=[c.course_id for c in completions]).values("material_id"))
    tally: Counter = Counter()
    for tags in Material.objects.filter(material_ids).values_list("competencies", flat=True):
        tally.update(str(tag) for tag in (tags or []) if str(tag).strip())
    portfolio.competencies = sorted(tally.items(), key=lambda pair: (-pair[1], pair[0]))
    return portfolio
