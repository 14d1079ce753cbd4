"""Permission-checked reads about scheduled live sessions.

The audience rules live here and nowhere else: the catalog, the session page, the JSON
API and the room (`sessions.room`) all ask these functions.

- `session_user_may_see(session=, user=)`: may this person see the session at all
  (catalog entry, session page, .ics)? Follows the audience, whatever the status.
- `session_user_may_join(session=, user=)` / `session_role_of(session, user)`: may this
  person enter the room now, and as what? Called by the room consumer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from server.people.http import AnyUser
from server.people.models import Role, User
from server.people.selectors import institution_partner_ids, user_has_role, user_institution_ids
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

SessionRole = Literal["host", "presenter", "attendee"]

#: Roles that may create case conferences and lectures (at any school).
TEACHING_ROLES = (Role.FACULTY, Role.SUPERVISOR)
#: Roles that may propose peer sessions.
PEER_ROLES = (Role.STUDENT, Role.TRAINEE)
#: Sessions of these kinds appear in the public catalog; consults never do.
CATALOG_KINDS = (SessionKind.CASE_CONFERENCE, SessionKind.LECTURE, SessionKind.PEER)
#: Statuses in which the room may be entered.
JOINABLE_STATUSES = (SessionStatus.SCHEDULED, SessionStatus.LIVE)


def _is_staff_of_session(session: LiveSession, user: User) -> bool:
    return user.pk == session.host_id or (session.presenter_id is not None and user.pk == session.presenter_id)


def session_user_may_see(*, session: LiveSession, user: AnyUser) -> bool:
    """Whether the audience of `session` includes `user` (status is not considered).

    - host and presenter: always;
    - everyone: any signed-in person;
    - partners: active members of the session's institution or of one of its ACTIVE
      partner schools (a proposed or ended partnership grants nothing);
    - invited: people with a `SessionInvitation` (and the host/presenter).
    """
    if user is None or not user.is_authenticated:
        return False
    if _is_staff_of_session(session, user):
        return True
    if session.audience == Audience.EVERYONE:
        return True
    if session.audience == Audience.PARTNERS:
        allowed = {session.institution_id} | institution_partner_ids(institution_ids=[session.institution_id])
        return bool(allowed & user_institution_ids(user=user))
    return SessionInvitation.objects.filter(session=session, user=user).exists()


def session_registration_of(*, session: LiveSession, user: User) -> SessionRegistration | None:
    """The person's current (not cancelled) registration, or None."""
    if not user.is_authenticated:
        return None
    return (
        SessionRegistration.objects.filter(session=session, user=user)
        .exclude(status=RegistrationStatus.CANCELLED)
        .first()
    )


def session_registered_count(*, session: LiveSession) -> int:
    return SessionRegistration.objects.filter(session=session, status=RegistrationStatus.REGISTERED).count()


def session_user_may_join(session: LiveSession, user: User) -> bool:
    """Whether `user` may enter the room of `session` now.

    Host and presenter may, unless the session is cancelled or ended. Anyone else must be
    in the audience (see `session_user_may_see`), the session must be scheduled or live,
    and they must hold a seat: registered, invited, or, without a registration, a seat
    must still be free (registered < capacity). A person on the waiting list may not
    enter until promoted. The room's own lobby/lock/removal rules come on top of this.
    """
    if user is None or not user.is_authenticated:
        return False
    if session.status not in JOINABLE_STATUSES:
        return False
    if _is_staff_of_session(session, user):
        return True
    if not session_user_may_see(session=session, user=user):
        return False
    registration = session_registration_of(session=session, user=user)
    if registration is not None:
        return registration.status == RegistrationStatus.REGISTERED
    if SessionInvitation.objects.filter(session=session, user=user).exists():
        return True
    return session_registered_count(session=session) < session.capacity


def session_role_of(session: LiveSession, user: User) -> SessionRole | None:
    """The role `user` starts with in the room of `session`: host, presenter, attendee or None.

    None means the person may not enter now (same answer as `session_user_may_join`).
    The presenter defaults to the host; a host who also presents is "host".
    """
    if not session_user_may_join(session, user):
        return None
    if user.pk == session.host_id:
        return "host"
    if session.presenter_id is not None and user.pk == session.presenter_id:
        return "presenter"
    return "attendee"


def session_get_visible(*, session_id: int, user: AnyUser) -> LiveSession | None:
    """The session if it exists and `user` may see it; None otherwise (a 404 for both)."""
    session = (
        LiveSession.objects.select_related("host", "presenter", "institution")
        .filter(pk=session_id)
        .first()
    )
    if session is None or not session_user_may_see(session=session, user=user):
        return None
    return session


def sessions_visible_to(*, user: User) -> QuerySet[LiveSession]:
    """Catalog sessions whose audience includes `user` (any status, any date), as a query."""
    if not user.is_authenticated:
        return LiveSession.objects.none()
    own = user_institution_ids(user=user)
    # Sessions of the user's schools and of schools partnered with them are open to "partners".
    partner_schools = own | institution_partner_ids(institution_ids=own)
    invited = SessionInvitation.objects.filter(session=OuterRef("pk"), user=user)
    return (
        LiveSession.objects.filter(kind__in=CATALOG_KINDS)
        .filter(
            Q(host=user)
            | Q(presenter=user)
            | Q(audience=Audience.EVERYONE)
            | Q(audience=Audience.PARTNERS, institution_id__in=partner_schools)
            | Q(Exists(invited))
        )
        .select_related("host", "institution")
    )


@dataclass(frozen=True)
class CatalogFilters:
    """What the catalog page and `/api/sessions/` can filter on. Empty means any."""

    kind: str = ""
    specialty: str = ""
    language: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None


def session_catalog(*, user: User, filters: CatalogFilters | None = None, now: dt.datetime | None = None) -> QuerySet[LiveSession]:
    """Upcoming (not ended, not cancelled) sessions `user` may see, soonest first.

    Dates in `filters` are days in the viewer's current time zone (the middleware
    activates it), so "today" means the viewer's today.
    """
    filters = filters or CatalogFilters()
    now = now or timezone.now()
    query = sessions_visible_to(user=user).filter(
        ends_at__gt=now, status__in=JOINABLE_STATUSES
    )
    if filters.kind:
        query = query.filter(kind=filters.kind)
    if filters.specialty:
        query = query.filter(specialty__iexact=filters.specialty)
    if filters.language:
        query = query.filter(language__iexact=filters.language)
    zone = timezone.get_current_timezone()
    if filters.date_from:
        start = dt.datetime.combine(filters.date_from, dt.time.min, tzinfo=zone)
        query = query.filter(starts_at__gte=start)
    if filters.date_to:
        end = dt.datetime.combine(filters.date_to + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
        query = query.filter(starts_at__lt=end)
    return query.annotate(
        registered_count=Count("registrations", filter=Q(registrations__status=RegistrationStatus.REGISTERED))
    ).order_by("starts_at", "pk")


def session_catalog_choices(*, user: User) -> dict[str, list[str]]:
    """Distinct specialties and languages among upcoming sessions, for the filter menus."""
    upcoming = session_catalog(user=user)
    specialties = sorted({s for s in upcoming.values_list("specialty", flat=True) if s})
    languages = sorted({s for s in upcoming.values_list("language", flat=True) if s})
    return {"specialties": specialties, "languages": languages}


def user_schedule(*, user: User, now: dt.datetime | None = None) -> QuerySet[LiveSession]:
    """Upcoming sessions the person hosts, presents, is registered or waitlisted for."""
    now = now or timezone.now()
    mine = SessionRegistration.objects.filter(
        session=OuterRef("pk"), user=user,
        status__in=[RegistrationStatus.REGISTERED, RegistrationStatus.WAITLISTED],
    )
    return (
        LiveSession.objects.filter(Q(host=user) | Q(presenter=user) | Q(Exists(mine)))
        .exclude(kind__in=(SessionKind.CONSULT, SessionKind.BREAKOUT))  # a breakout group belongs to its main session
        .filter(ends_at__gt=now)
        .exclude(status=SessionStatus.CANCELLED)
        .select_related("host", "institution")
        .order_by("starts_at", "pk")
    )


def user_calendar_sessions(*, user: User, now: dt.datetime | None = None, days_back: int = 30) -> QuerySet[LiveSession]:
    """What the personal calendar feed carries: the person's sessions from a month ago on.

    Cancelled ones stay in (marked cancelled) so calendar apps remove them; the person's
    own cancelled registrations do not.
    """
    now = now or timezone.now()
    mine = SessionRegistration.objects.filter(
        session=OuterRef("pk"), user=user,
        status__in=[RegistrationStatus.REGISTERED, RegistrationStatus.WAITLISTED],
    )
    return (
        LiveSession.objects.filter(Q(host=user) | Q(presenter=user) | Q(Exists(mine)))
        .exclude(kind__in=(SessionKind.CONSULT, SessionKind.BREAKOUT))  # a breakout group belongs to its main session
        .filter(ends_at__gt=now - dt.timedelta(days=days_back))
        .select_related("host", "institution")
        .order_by("starts_at", "pk")[:500]
    )


def user_past_sessions(*, user: User, now: dt.datetime | None = None, limit: int = 20) -> QuerySet[LiveSession]:
    """Recent past sessions of the person (for recommendations and reflections)."""
    now = now or timezone.now()
    mine = SessionRegistration.objects.filter(session=OuterRef("pk"), user=user, status=RegistrationStatus.REGISTERED)
    return (
        LiveSession.objects.filter(Q(host=user) | Q(presenter=user) | Q(Exists(mine)))
        .exclude(kind__in=(SessionKind.CONSULT, SessionKind.BREAKOUT))  # a breakout group belongs to its main session
        .filter(Q(ends_at__lte=now) | Q(status=SessionStatus.ENDED))
        .exclude(status=SessionStatus.CANCELLED)
        .select_related("host", "institution")
        .order_by("-starts_at")[:limit]
    )


def user_registration_states(*, user: User, session_ids: list[int]) -> dict[int, str]:
    """registration status by session id, for lists (one query)."""
    if not user.is_authenticated or not session_ids:
        return {}
    return dict(
        SessionRegistration.objects.filter(session_id__in=session_ids, user=user)
        .exclude(status=RegistrationStatus.CANCELLED)
        .values_list("session_id", "status")
    )


def session_waitlist_position(*, session: LiveSession, user: User) -> int | None:
    """1-based place on the waiting list, or None when not waitlisted."""
    registration = session_registration_of(session=session, user=user)
    if registration is None or registration.status != RegistrationStatus.WAITLISTED:
        return None
    ahead = SessionRegistration.objects.filter(
        session=session, status=RegistrationStatus.WAITLISTED
    ).filter(Q(created_at__lt=registration.created_at) | Q(created_at=registration.created_at, pk__lt=registration.pk))
    return ahead.count() + 1


def session_participants(*, session: LiveSession) -> QuerySet[User]:
    """Host, presenter and registered people: who took (or takes) part."""
    registered = SessionRegistration.objects.filter(
        session=session, user=OuterRef("pk"), status=RegistrationStatus.REGISTERED
    )
    return User.objects.filter(
        Q(pk=session.host_id) | Q(pk=session.presenter_id) | Q(Exists(registered))
    ).distinct()


def session_user_is_participant(*, session: LiveSession, user: User) -> bool:
    if not user.is_authenticated:
        return False
    if _is_staff_of_session(session, user):
        return True
    if SessionRegistration.objects.filter(session=session, user=user, status=RegistrationStatus.REGISTERED).exists():
        return True
    # A lecture or conference open to everyone needs no registration: being there counts.
    from sessions.models import Attendance

    return Attendance.objects.filter(session=session, user=user).exists()


def session_has_ended(*, session: LiveSession, now: dt.datetime | None = None) -> bool:
    """Ended by the host, or past its end time (and not cancelled)."""
    if session.status == SessionStatus.CANCELLED:
        return False
    now = now or timezone.now()
    return session.status == SessionStatus.ENDED or session.ends_at <= now


def user_may_host_kind(*, user: User, kind: str) -> bool:
    """Faculty and supervisors create conferences and lectures; students and trainees propose peer sessions."""
    if kind in (SessionKind.CASE_CONFERENCE, SessionKind.LECTURE):
        return user_has_role(user=user, roles=TEACHING_ROLES)
    if kind == SessionKind.PEER:
        return user_has_role(user=user, roles=PEER_ROLES)
    return False


def session_recommendations_for(*, session: LiveSession, user: User) -> QuerySet[Recommendation]:
    """Recommendations the host wrote: the host and the presenter see them, nobody else."""
    if not user.is_authenticated or user.pk not in (session.host_id, session.presenter_id):
        return Recommendation.objects.none()
    return Recommendation.objects.filter(session=session).select_related("author", "presenter")


def session_reflections_for(*, session: LiveSession, user: User) -> QuerySet[Reflection]:
    """The person's own reflection plus those others shared, if the person took part."""
    if not session_user_is_participant(session=session, user=user):
        return Reflection.objects.none()
    return (
        Reflection.objects.filter(session=session)
        .filter(Q(author=user) | Q(shared=True))
        .select_related("author")
        .order_by("created_at")
    )


def dashboard_next_sessions(*, user: User, limit: int) -> dict[str, Any]:
    """The home page's "Your next sessions" (server/people/dashboard.py)."""
    return {"sessions": list(user_schedule(user=user)[:limit])}
