"""Writes about scheduled sessions: create, edit, cancel, register, and what comes after.

Each function checks who may do it, raises `PermissionRefused` / `InvalidRequest` with a
message for people and a stable code, writes, and emits one event after commit
(`events.scheduling_event_on_commit`). Views, the API and the room only translate.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any

from django.core.mail import send_mass_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from server.people.errors import InvalidRequest, PermissionRefused
from server.people.mail import messages_in_their_language
from server.people.models import Institution, Membership, User
from sessions.models import (
    Audience,
    CalendarFeed,
    LiveSession,
    Recommendation,
    Reflection,
    RegistrationStatus,
    SessionInvitation,
    SessionKind,
    SessionRegistration,
    SessionStatus,
)

from .events import scheduling_event_on_commit
from .selectors import (
    PEER_ROLES,
    TEACHING_ROLES,
    session_has_ended,
    session_user_is_participant,
    session_user_may_see,
    session_waitlist_position,
)

logger = logging.getLogger(__name__)

#: Peer sessions are for 2–6 people: the proposer plus 1–5 places.
PEER_MIN_PLACES = 1
PEER_MAX_PLACES = 5
MAX_CAPACITY = 5000
MAX_DURATION = dt.timedelta(hours=12)
LANGUAGE_CODE_RE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,4})?$")
SCHEDULABLE_KINDS = (SessionKind.CASE_CONFERENCE, SessionKind.LECTURE, SessionKind.PEER)


@dataclass
class SessionDetails:
    """What a host chooses for a session. `starts_at`/`ends_at` are aware datetimes (any zone)."""

    title: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    description: str = ""
    specialty: str = ""
    language: str = "en"
    capacity: int = 100
    audience: str = Audience.EVERYONE
    lobby_enabled: bool = False
    presenter: User | None = None
    case_material_id: int | None = None


# --- checks shared by create and edit -------------------------------------------------


def _host_institution(*, by: User, kind: str, institution: Institution | None) -> Institution:
    """The school a session belongs to: one where `by` holds a role allowed for `kind`."""
    roles = TEACHING_ROLES if kind in (SessionKind.CASE_CONFERENCE, SessionKind.LECTURE) else PEER_ROLES
    memberships = Membership.objects.filter(user=by, is_active=True, role__in=list(roles)).select_related("institution")
    if institution is not None:
        memberships = memberships.filter(institution=institution)
    membership = memberships.order_by("joined_at").first()
    if membership is not None:
        return membership.institution
    if institution is not None and Membership.objects.filter(user=by, is_active=True, role__in=list(roles)).exists():
        raise PermissionRefused(
            _("You cannot host sessions for %(school)s.") % {"school": institution.name}, code="not_member_of_school"
        )
    if kind == SessionKind.PEER:
        raise PermissionRefused(_("Peer sessions are proposed by students and trainees."), code="not_student")
    raise PermissionRefused(
        _("Only faculty and supervisors can create lectures and case conferences."), code="not_faculty"
    )


def _check_details(*, kind: str, details: SessionDetails, now: dt.datetime, by: User) -> None:
    if not details.title.strip():
        raise InvalidRequest(_("Give the session a title."), code="title_missing")
    if timezone.is_naive(details.starts_at) or timezone.is_naive(details.ends_at):
        raise InvalidRequest(_("Times need a time zone."), code="naive_time")
    if details.ends_at <= details.starts_at:
        raise InvalidRequest(_("The session must end after it starts."), code="ends_before_start")
    if details.ends_at - details.starts_at > MAX_DURATION:
        raise InvalidRequest(_("A session lasts at most 12 hours."), code="too_long")
    if details.starts_at <= now:
        raise InvalidRequest(_("The session must start in the future."), code="starts_in_past")
    if details.audience not in Audience.values:
        raise InvalidRequest(_("Unknown audience."), code="bad_audience")
    if not LANGUAGE_CODE_RE.match(details.language or ""):
        raise InvalidRequest(_("Give the language as a code such as en, fr or pt."), code="bad_language")
    if kind == SessionKind.PEER:
        if not PEER_MIN_PLACES <= details.capacity <= PEER_MAX_PLACES:
            raise InvalidRequest(
                _("A peer session is for 2 to 6 people: choose 1 to 5 places besides you."), code="peer_capacity"
            )
    elif not 1 <= details.capacity <= MAX_CAPACITY:
        raise InvalidRequest(
            _("Capacity must be between 1 and %(max)d.") % {"max": MAX_CAPACITY}, code="bad_capacity"
        )
    if details.case_material_id is not None:
        if kind != SessionKind.CASE_CONFERENCE:
            raise InvalidRequest(_("Only case conferences carry a case."), code="case_not_allowed")
        from courses.library.selectors import material_user_can_see
        from courses.models import Material

        material = Material.objects.filter(pk=details.case_material_id).first()
        if material is None or not material_user_can_see(user=by, material=material):
            raise PermissionRefused(_("You cannot use this material as the case."), code="case_not_visible")


def _require_host(*, by: User, session: LiveSession) -> None:
    if by.pk != session.host_id:
        raise PermissionRefused(_("Only the host can change this session."), code="not_host")


def _require_open(session: LiveSession, *, now: dt.datetime | None = None) -> None:
    """Refuse changes to a cancelled or ended session."""
    if session.status == SessionStatus.CANCELLED:
        raise InvalidRequest(_("This session was cancelled."), code="session_cancelled")
    if session_has_ended(session=session, now=now):
        raise InvalidRequest(_("This session has ended."), code="session_ended")


# --- sessions ------------------------------------------------------------------------


def session_create(
    *, by: User, kind: str, details: SessionDetails, institution: Institution | None = None,
    now: dt.datetime | None = None,
) -> LiveSession:
    """Faculty and supervisors create conferences and lectures; students and trainees propose peer sessions.

    The session belongs to a school where `by` holds such a role (`institution` if given).
    The presenter defaults to the host.
    """
    now = now or timezone.now()
    if kind not in SCHEDULABLE_KINDS:
        raise InvalidRequest(_("Consults are requested from the consults page."), code="kind_not_schedulable")
    school = _host_institution(by=by, kind=kind, institution=institution)
    _check_details(kind=kind, details=details, now=now, by=by)
    with transaction.atomic():
        session = LiveSession.objects.create(
            kind=kind,
            title=details.title.strip(),
            description=details.description.strip(),
            specialty=details.specialty.strip(),
            language=details.language,
            host=by,
            presenter=details.presenter or by,
            institution=school,
            starts_at=details.starts_at.astimezone(dt.UTC),
            ends_at=details.ends_at.astimezone(dt.UTC),
            capacity=details.capacity,
            audience=details.audience,
            lobby_enabled=details.lobby_enabled,
            case_material_id=details.case_material_id,
        )
        scheduling_event_on_commit(name="session.created", session_id=session.pk, data={"kind": kind})
    logger.info("session %s created (%s) by user %s", session.pk, kind, by.pk)
    return session


def session_update(
    *, by: User, session: LiveSession, details: SessionDetails, now: dt.datetime | None = None, base_url: str = ""
) -> LiveSession:
    """The host changes a scheduled session. Raising the capacity promotes people waiting.

    Lowering it below the number of people already registered is refused (nobody loses a
    seat they were given).
    """
    now = now or timezone.now()
    _require_host(by=by, session=session)
    _require_open(session, now=now)
    if session.status != SessionStatus.SCHEDULED:
        raise InvalidRequest(_("A session that has started cannot be rescheduled."), code="session_started")
    _check_details(kind=session.kind, details=details, now=now, by=by)
    with transaction.atomic():
        locked = LiveSession.objects.select_for_update().get(pk=session.pk)
        registered = locked.registrations.filter(status=RegistrationStatus.REGISTERED).count()
        if details.capacity < registered:
            raise InvalidRequest(
                _("%(count)d people are already registered: the capacity cannot be lower.") % {"count": registered},
                code="capacity_below_registered",
            )
        locked.title = details.title.strip()
        locked.description = details.description.strip()
        locked.specialty = details.specialty.strip()
        locked.language = details.language
        locked.starts_at = details.starts_at.astimezone(dt.UTC)
        locked.ends_at = details.ends_at.astimezone(dt.UTC)
        locked.capacity = details.capacity
        locked.audience = details.audience
        locked.lobby_enabled = details.lobby_enabled
        locked.presenter = details.presenter or locked.host
        locked.case_material_id = details.case_material_id
        locked.save()
        promoted = _promote_waiting(session=locked, base_url=base_url)
        scheduling_event_on_commit(name="session.updated", session_id=locked.pk, data={"promoted": [u.pk for u in promoted]})
    logger.info("session %s updated by host", session.pk)
    return locked


def session_cancel(*, by: User, session: LiveSession, now: dt.datetime | None = None) -> LiveSession:
    """The host cancels; everyone registered or waiting is told by e-mail."""
    _require_host(by=by, session=session)
    _require_open(session, now=now)
    with transaction.atomic():
        locked = LiveSession.objects.select_for_update().get(pk=session.pk)
        locked.status = SessionStatus.CANCELLED
        locked.save(update_fields=["status"])
        recipients = list(
            User.objects.filter(
                session_registrations__session=locked,
                session_registrations__status__in=[RegistrationStatus.REGISTERED, RegistrationStatus.WAITLISTED],
            ).exclude(email="")
        )
        messages = messages_in_their_language(recipients, lambda _user: (
            _("Cancelled: %(title)s") % {"title": locked.title},
            _("%(host)s cancelled the session “%(title)s”.") % {"host": by.name, "title": locked.title},
        ))
        transaction.on_commit(lambda: send_mass_mail(messages), robust=True)
        scheduling_event_on_commit(name="session.cancelled", session_id=locked.pk)
    logger.info("session %s cancelled; %d people told", session.pk, len(recipients))
    return locked


def session_start(*, by: User, session: LiveSession) -> LiveSession:
    """The host opens the session (status live). Called by the room when the host starts it."""
    _require_host(by=by, session=session)
    _require_open(session)
    if session.status == SessionStatus.LIVE:
        return session
    LiveSession.objects.filter(pk=session.pk).update(status=SessionStatus.LIVE)
    session.status = SessionStatus.LIVE
    scheduling_event_on_commit(name="session.started", session_id=session.pk)
    return session


def session_end(*, by: User, session: LiveSession) -> LiveSession:
    """The host ends the session for everyone (status ended). Idempotent."""
    _require_host(by=by, session=session)
    if session.status == SessionStatus.CANCELLED:
        raise InvalidRequest(_("This session was cancelled."), code="session_cancelled")
    if session.status == SessionStatus.ENDED:
        return session
    LiveSession.objects.filter(pk=session.pk).update(status=SessionStatus.ENDED)
    session.status = SessionStatus.ENDED
    scheduling_event_on_commit(name="session.ended", session_id=session.pk)
    return session


def session_invite(*, by: User, session: LiveSession, user: User) -> SessionInvitation:
    """The host invites a person (needed when the audience is 'invited'; also skips the lobby)."""
    _require_host(by=by, session=session)
    _require_open(session)
    invitation, created = SessionInvitation.objects.get_or_create(session=session, user=user, defaults={"invited_by": by})
    if created:
        scheduling_event_on_commit(name="registration.changed", session_id=session.pk, data={"user_id": user.pk, "state": "invited"})
    return invitation


# --- registration ----------------------------------------------------------------------


def _promote_waiting(*, session: LiveSession, base_url: str = "") -> list[User]:
    """Give free seats to the people waiting, first come first served. Caller holds the session lock."""
    registered = session.registrations.filter(status=RegistrationStatus.REGISTERED).count()
    free = session.capacity - registered
    if free <= 0:
        return []
    waiting = list(
        session.registrations.select_for_update()
        .filter(status=RegistrationStatus.WAITLISTED)
        .select_related("user")
        .order_by("created_at", "pk")[:free]
    )
    for registration in waiting:
        registration.status = RegistrationStatus.REGISTERED
        registration.save(update_fields=["status", "updated_at"])
    users = [registration.user for registration in waiting]
    if users:
        link = base_url + reverse("scheduling:detail", args=[session.pk])
        messages = messages_in_their_language(users, lambda _user: (
            _("You have a place: %(title)s") % {"title": session.title},
            _("A place became free in “%(title)s” and it is yours. Details: %(link)s")
            % {"title": session.title, "link": link},
        ))
        transaction.on_commit(lambda: send_mass_mail(messages), robust=True)
        logger.info("session %s promoted %d from the waiting list", session.pk, len(users))
    return users


def session_register(*, user: User, session: LiveSession, now: dt.datetime | None = None) -> SessionRegistration:
    """Take a place, or a place on the waiting list when the session is full.

    Concurrency: the session row is locked (`select_for_update`) while seats are counted,
    so two people cannot take the last seat. Registering again is harmless (returns the
    current registration); after unregistering, a new registration goes to the back.
    """
    if not session_user_may_see(session=session, user=user):
        raise PermissionRefused(_("This session is not open to you."), code="not_in_audience")
    if session.kind == SessionKind.CONSULT:
        raise InvalidRequest(_("Consults take no registrations."), code="no_registration")
    if user.pk == session.host_id:
        raise InvalidRequest(_("You host this session: you have your place."), code="host_cannot_register")
    now = now or timezone.now()
    with transaction.atomic():
        locked = LiveSession.objects.select_for_update().get(pk=session.pk)
        _require_open(locked, now=now)
        registration = SessionRegistration.objects.select_for_update().filter(session=locked, user=user).first()
        if registration is not None and registration.status != RegistrationStatus.CANCELLED:
            return registration
        registered = locked.registrations.filter(status=RegistrationStatus.REGISTERED).count()
        waiting = locked.registrations.filter(status=RegistrationStatus.WAITLISTED).exists()
        status = RegistrationStatus.REGISTERED if registered < locked.capacity and not waiting else RegistrationStatus.WAITLISTED
        if registration is None:
            try:
                with transaction.atomic():
                    registration = SessionRegistration.objects.create(session=locked, user=user, status=status, created_at=now)
            except IntegrityError:  # a concurrent request of the same person won; theirs stands
                return SessionRegistration.objects.get(session=locked, user=user)
        else:
            registration.status = status
            registration.created_at = now
            registration.save(update_fields=["status", "created_at", "updated_at"])
        scheduling_event_on_commit(
            name="registration.changed", session_id=locked.pk, data={"user_id": user.pk, "state": status}
        )
    logger.info("session %s: user %s %s", session.pk, user.pk, status)
    return registration


def session_unregister(*, user: User, session: LiveSession, base_url: str = "") -> list[User]:
    """Give up a place (or a place on the waiting list); the first person waiting moves up.

    Returns the people promoted. Refused when the person holds no registration.
    """
    with transaction.atomic():
        locked = LiveSession.objects.select_for_update().get(pk=session.pk)
        if locked.status == SessionStatus.CANCELLED:
            raise InvalidRequest(_("This session was cancelled."), code="session_cancelled")
        if session_has_ended(session=locked):
            raise InvalidRequest(_("This session has ended."), code="session_ended")
        registration = (
            SessionRegistration.objects.select_for_update()
            .filter(session=locked, user=user)
            .exclude(status=RegistrationStatus.CANCELLED)
            .first()
        )
        if registration is None:
            raise InvalidRequest(_("You are not registered for this session."), code="not_registered")
        registration.status = RegistrationStatus.CANCELLED
        registration.save(update_fields=["status", "updated_at"])
        promoted = _promote_waiting(session=locked, base_url=base_url)
        scheduling_event_on_commit(
            name="registration.changed", session_id=locked.pk,
            data={"user_id": user.pk, "state": "cancelled", "promoted": [u.pk for u in promoted]},
        )
    logger.info("session %s: user %s unregistered, %d promoted", session.pk, user.pk, len(promoted))
    return promoted


def registration_message(*, session: LiveSession, user: User, registration: SessionRegistration) -> str:
    """What to tell the person after registering (used by the page and the API)."""
    if registration.status == RegistrationStatus.REGISTERED:
        return _("You are registered.")
    position = session_waitlist_position(session=session, user=user)
    return _("The session is full: you are number %(position)d on the waiting list.") % {"position": position or 0}


# --- after the session --------------------------------------------------------------------


def recommendation_create(*, by: User, session: LiveSession, body: str, base_url: str = "") -> Recommendation:
    """The host writes recommendations for the presenter of a case conference, after it.

    The presenter is told by e-mail after commit and reads them on the session page.
    """
    _require_host(by=by, session=session)
    if session.kind != SessionKind.CASE_CONFERENCE:
        raise InvalidRequest(_("Recommendations are for case conferences."), code="not_case_conference")
    if session.status == SessionStatus.CANCELLED:
        raise InvalidRequest(_("This session was cancelled."), code="session_cancelled")
    if not session_has_ended(session=session):
        raise InvalidRequest(_("Recommendations can be written once the session has ended."), code="session_not_ended")
    presenter = session.presenter
    if presenter is None or presenter.pk == by.pk:
        raise InvalidRequest(
            _("Set who presented the case first: recommendations go to the presenter."), code="no_presenter"
        )
    text = body.strip()
    if not text:
        raise InvalidRequest(_("Write the recommendations."), code="body_missing")
    if len(text) > 5000:
        raise InvalidRequest(_("Recommendations are at most 5000 characters."), code="body_too_long")
    with transaction.atomic():
        recommendation = Recommendation.objects.create(session=session, author=by, presenter=presenter, body=text)
        link = base_url + reverse("scheduling:detail", args=[session.pk])

        messages = messages_in_their_language([presenter], lambda _user: (
            _("Recommendations after “%(title)s”") % {"title": session.title},
            _("%(host)s wrote recommendations for you after the case conference “%(title)s”.\n\nRead them here: %(link)s\n")
            % {"host": by.name, "title": session.title, "link": link},
        ))
        transaction.on_commit(lambda: send_mass_mail(messages), robust=True)
        scheduling_event_on_commit(
            name="recommendation.created", session_id=session.pk,
            data={"recommendation_id": recommendation.pk, "presenter_id": presenter.pk},
        )
    logger.info("session %s: recommendation %s for user %s", session.pk, recommendation.pk, presenter.pk)
    return recommendation


def reflection_save(*, by: User, session: LiveSession, body: str, shared: bool = False) -> Reflection:
    """A participant writes (or rewrites) their reflection on a session, after it.

    Every kind of session but consults (their record is the signed note). Private unless
    `shared`; shared reflections are read by the other participants only.
    """
    if session.kind == SessionKind.CONSULT:
        raise InvalidRequest(_("A consult's record is its signed note."), code="consult_session")
    if not session_user_is_participant(session=session, user=by):
        raise PermissionRefused(_("Only the people who took part can write a reflection."), code="not_participant")
    if session.status == SessionStatus.CANCELLED:
        raise InvalidRequest(_("This session was cancelled."), code="session_cancelled")
    if not session_has_ended(session=session):
        raise InvalidRequest(_("Reflections can be written once the session has ended."), code="session_not_ended")
    text = body.strip()
    if not text:
        raise InvalidRequest(_("Write your reflection."), code="body_missing")
    if len(text) > 2000:
        raise InvalidRequest(_("A reflection is at most 2000 characters."), code="body_too_long")
    with transaction.atomic():
        reflection, _created = Reflection.objects.update_or_create(
            session=session, author=by, defaults={"body": text, "shared": shared}
        )
        scheduling_event_on_commit(
            name="reflection.saved", session_id=session.pk,
            data={"reflection_id": reflection.pk, "shared": shared},
        )
    return reflection


# --- calendar feed --------------------------------------------------------------------------


def calendar_feed_get_or_create(*, user: User) -> CalendarFeed:
    """The person's calendar-feed secret, made on first use."""
    feed = CalendarFeed.objects.filter(user=user).first()
    if feed is not None:
        return feed
    try:
        with transaction.atomic():
            return CalendarFeed.objects.create(user=user, token=secrets.token_urlsafe(32))
    except IntegrityError:
        return CalendarFeed.objects.get(user=user)


def calendar_feed_rotate(*, user: User) -> CalendarFeed:
    """Replace the secret: the old feed address stops working at once."""
    feed = calendar_feed_get_or_create(user=user)
    feed.token = secrets.token_urlsafe(32)
    feed.created_at = timezone.now()
    feed.save(update_fields=["token", "created_at"])
    logger.info("calendar feed of user %s replaced", user.pk)
    return feed


def session_details_from(session: LiveSession, **changes: Any) -> SessionDetails:
    """The session's current details with some changed: what edit forms and tests start from."""
    values: dict[str, Any] = dict(
        title=session.title, starts_at=session.starts_at, ends_at=session.ends_at,
        description=session.description, specialty=session.specialty, language=session.language,
        capacity=session.capacity, audience=session.audience, lobby_enabled=session.lobby_enabled,
        presenter=session.presenter, case_material_id=session.case_material_id,
    )
    values.update(changes)
    return SessionDetails(**values)
