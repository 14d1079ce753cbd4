"""Permission-checked reads of peer exchange: my requests and matches, the shared notes."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _

from server.people.errors import PermissionRefused
from server.people.models import Membership, User
from server.people.selectors import user_has_role
from sessions.models import (
    NOTES_KINDS,
    LiveSession,
    Participant,
    PeerMatchRequest,
    PeerNotes,
    PeerRequestStatus,
    PeerWindow,
)
from sessions.scheduling.selectors import PEER_ROLES, session_user_is_participant


def user_may_request_peers(*, user: User) -> bool:
    """Students and trainees look for exchange partners (faculty propose sessions instead)."""
    return user_has_role(user=user, roles=PEER_ROLES)


def peer_requests_of(*, user: User, limit: int = 50) -> QuerySet[PeerMatchRequest]:
    """The person's own requests, newest first, with their windows and session."""
    if not user.is_authenticated:
        return PeerMatchRequest.objects.none()
    return (
        PeerMatchRequest.objects.filter(user=user)
        .select_related("session")
        .prefetch_related(Prefetch("windows", queryset=PeerWindow.objects.order_by("starts_at")))
        .order_by("-created_at", "-pk")[:limit]
    )


def peer_request_of(*, user: User, request_id: int) -> PeerMatchRequest | None:
    """One of the person's own requests (None for anyone else's: a 404, not a 403)."""
    if not user.is_authenticated:
        return None
    return (
        PeerMatchRequest.objects.filter(pk=request_id, user=user)
        .select_related("session")
        .prefetch_related("windows")
        .first()
    )


def peer_open_request_of(*, user: User) -> PeerMatchRequest | None:
    return PeerMatchRequest.objects.filter(user=user, status=PeerRequestStatus.OPEN).first()


@dataclass(frozen=True)
class Partner:
    """Someone in a matched group, as the other members see them."""

    user_id: int
    name: str
    school: str
    country: str
    topic: str


def peer_partners_of(*, request: PeerMatchRequest) -> list[Partner]:
    """The others matched into the same session as `request` (its owner's view)."""
    if request.session_id is None:
        return []
    others = (
        PeerMatchRequest.objects.filter(session_id=request.session_id, status=PeerRequestStatus.MATCHED)
        .exclude(pk=request.pk)
        .select_related("user", "institution")
        .order_by("created_at", "pk")
    )
    return [
        Partner(
            user_id=other.user_id, name=other.user.name,
            school=other.institution.short_name or other.institution.name,
            country=other.country, topic=other.topic,
        )
        for other in others
    ]


def user_country(*, user: User) -> tuple[str, Membership | None]:
    """The country of the person's first school where they study or train, and that membership."""
    membership = (
        Membership.objects.filter(user=user, is_active=True, role__in=list(PEER_ROLES))
        .select_related("institution")
        .order_by("joined_at", "pk")
        .first()
    )
    if membership is None:
        return "", None
    return str(membership.institution.country.code or ""), membership  # type: ignore[attr-defined]  # a Country


# --- shared notes ---------------------------------------------------------------------------


def peer_notes_may_read(*, session: LiveSession, user: User) -> bool:
    """Who reads a peer session's notes: its participants (host, registered people) and
    anyone the room admitted and did not remove."""
    if session.kind not in NOTES_KINDS or not user.is_authenticated:
        return False
    if session_user_is_participant(session=session, user=user):
        return True
    return Participant.objects.filter(session=session, user=user, removed_at__isnull=True).exists()


def peer_notes_read(*, session: LiveSession, user: User) -> PeerNotes:
    """The notes of `session` for `user` (an empty, version 0 text when nobody wrote yet)."""
    if not peer_notes_may_read(session=session, user=user):
        raise PermissionRefused(_("Only the participants of this peer session can read its notes."), code="not_participant")
    return PeerNotes.objects.filter(session=session).select_related("updated_by").first() or PeerNotes(session=session)
