"""Writes of the live room. Each one checks permission, changes rows, and emits its event.

Every write that others must see goes through `events.room_event_emit`, which stores a
`RoomEvent` with the session's next sequence number in the same transaction and hands it
to the fan-out after commit. The sender is acknowledged only after that commit, so an
acknowledged event is never lost, whatever happens to a process or to Redis later.
Presence (sockets, processes, sweeps) is `presence.py`; this module is the domain only.

All functions are synchronous (the consumer calls them through
`database_sync_to_async`) and take keyword-only arguments.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from server.people.errors import InvalidRequest, PermissionRefused
from server.people.models import User
from sessions.models import (
    LiveSession,
    LobbyRequest,
    LobbyStatus,
    Participant,
    Poll,
    PollOption,
    PollStatus,
    PollVote,
    Question,
    QuestionStatus,
    QuestionVote,
    RoomEvent,
    RoomState,
    SessionStatus,
)

from .events import room_event_emit
from .presence import room_state_of
from .protocol import ErrorCode
from .registry import ASSIGNABLE_ROLES, role_permissions
from .selectors import (
    participant_cards,
    poll_public,
    question_public,
    room_moderator_ids,
    room_refusal_for,
    room_role_for,
)

logger = logging.getLogger(__name__)


# --- admission and presence ------------------------------------------------------------


@dataclass(frozen=True)
class Admission:
    """The answer to "may this person come in now?"."""

    outcome: str  # "joined", "lobby" or "refused"
    role: str = "attendee"
    code: str = ""
    close_code: int = 0
    message: str = ""


def _refused(code: ErrorCode, close_code: int, message: str) -> Admission:
    return Admission("refused", code=str(code), close_code=close_code, message=message)


def room_admission(*, session: LiveSession | None, user: User) -> Admission:
    """Decide whether `user` enters `session`'s room, waits in its lobby, or is refused.

    Order: the session exists and is open; a removed person stays out; the audience rules
    (sessions.scheduling) must allow them; a locked room admits only people already in it
    and its hosts/presenters; with the lobby on, new attendees wait for the host.
    """
    from .protocol import CloseCode

    if session is None:
        return _refused(ErrorCode.NO_SUCH_SESSION, CloseCode.NO_SUCH_SESSION, _("There is no such session."))
    state = room_state_of(session_id=session.pk)
    if state.ended_at is not None or session.status in (SessionStatus.ENDED, SessionStatus.CANCELLED):
        return _refused(ErrorCode.ROOM_ENDED, CloseCode.ROOM_ENDED, _("This session has ended."))
    participant = Participant.objects.filter(session=session, user=user).first()
    if participant is not None and participant.removed_at is not None:
        return _refused(ErrorCode.REMOVED, CloseCode.REMOVED, _("The host removed you from this session."))
    role = room_role_for(session=session, user=user)
    if role is None and (reason := room_refusal_for(session=session, user=user)) is not None:
        return Admission("refused", code=reason[0], close_code=CloseCode.NOT_ALLOWED, message=reason[1])
    if role is None:
        return _refused(ErrorCode.NOT_ALLOWED, CloseCode.NOT_ALLOWED, _("You are not in the audience of this session."))
    if participant is not None and role not in ("host",):
        role = participant.role  # a role given in the room survives reconnects
    privileged = "moderate" in role_permissions(role) or "present" in role_permissions(role)
    if participant is None and not privileged:
        if state.locked:
            return _refused(ErrorCode.ROOM_LOCKED, CloseCode.ROOM_LOCKED, _("The host has locked the room."))
        if session.lobby_enabled:
            request = LobbyRequest.objects.filter(session=session, user=user).first()
            if request is not None and request.status == LobbyStatus.REFUSED:
                return _refused(ErrorCode.REFUSED, CloseCode.REFUSED, _("The host did not let you in."))
            if request is None or request.status == LobbyStatus.WAITING:
                return Admission("lobby", role=role)
    if role == "host" and session.status == SessionStatus.SCHEDULED:
        from sessions.scheduling.services import session_start

        session_start(by=user, session=session)
        RoomState.objects.filter(pk=session.pk, started_at__isnull=True).update(started_at=timezone.now())
    return Admission("joined", role=role)


# --- permission helpers ----------------------------------------------------------------


def _participant(*, session_id: int, user: User) -> Participant:
    participant = Participant.objects.filter(session_id=session_id, user=user).first()
    if participant is None or participant.removed_at is not None:
        raise PermissionRefused(_("You are not in this room."), code=ErrorCode.FORBIDDEN)
    return participant


def _require(participant: Participant, permission: str) -> None:
    if permission not in role_permissions(participant.role):
        # Lazy: batched votes are checked for many people at once; each socket renders it.
        raise PermissionRefused(gettext_lazy("Your role in this room does not allow that."), code=ErrorCode.FORBIDDEN)


def _moderator(*, session_id: int, user: User) -> Participant:
    participant = _participant(session_id=session_id, user=user)
    _require(participant, "moderate")
    return participant


def _target(*, session_id: int, user_id: int) -> Participant:
    target = Participant.objects.filter(session_id=session_id, user_id=user_id, removed_at__isnull=True).first()
    if target is None:
        raise InvalidRequest(_("That person is not in this room."), code=ErrorCode.NOT_FOUND)
    return target


def _open_room(session_id: int) -> RoomState:
    state = room_state_of(session_id=session_id)
    if state.ended_at is not None:
        raise InvalidRequest(_("This session has ended."), code=ErrorCode.ROOM_ENDED)
    return state


# --- chat, hands and the floor ---------------------------------------------------------


def chat_send(*, session_id: int, user: User, text: str, client_id: str = "") -> int:
    """Post a chat message to everyone in the room (stored; replayed to late joiners)."""
    with transaction.atomic():
        state = _open_room(session_id)
        participant = _participant(session_id=session_id, user=user)
        _require(participant, "chat")
        moderator = "moderate" in role_permissions(participant.role)
        if not state.chat_enabled and not moderator:
            raise InvalidRequest(_("The host has turned the chat off."), code=ErrorCode.CHAT_DISABLED)
        if participant.muted:
            raise PermissionRefused(_("The host has muted you."), code=ErrorCode.MUTED)
        return room_event_emit(
            session_id=session_id, type="chat.message", payload={"user_id": user.pk, "name": user.name, "text": text},
            actor_id=user.pk, client_id=client_id,
        )


def hand_raise(*, session_id: int, user: User, client_id: str = "") -> int | None:
    with transaction.atomic():
        participant = _participant(session_id=session_id, user=user)
        _require(participant, "hand")
        if participant.hand_raised_at is not None:
            return None
        now = timezone.now()
        Participant.objects.filter(pk=participant.pk).update(hand_raised_at=now)
        return room_event_emit(
            session_id=session_id, type="hand.raised", payload={"user_id": user.pk, "at": now.isoformat()},
            actor_id=user.pk, client_id=client_id,
        )


def hand_lower(*, session_id: int, user: User, user_id: int | None = None, client_id: str = "") -> int | None:
    """Lower one's own hand, or (a moderator) someone else's."""
    with transaction.atomic():
        participant = _participant(session_id=session_id, user=user)
        target = participant
        if user_id is not None and user_id != user.pk:
            _require(participant, "moderate")
            target = _target(session_id=session_id, user_id=user_id)
        if target.hand_raised_at is None:
            return None
        Participant.objects.filter(pk=target.pk).update(hand_raised_at=None)
        return room_event_emit(
            session_id=session_id, type="hand.lowered", payload={"user_id": target.user_id},
            actor_id=user.pk, client_id=client_id,
        )


def floor_grant(*, session_id: int, user: User, user_id: int, client_id: str = "") -> int:
    """The host lets someone speak (media may then publish); their hand goes down."""
    with transaction.atomic():
        _moderator(session_id=session_id, user=user)
        target = _target(session_id=session_id, user_id=user_id)
        Participant.objects.filter(pk=target.pk).update(has_floor=True, hand_raised_at=None)
        return room_event_emit(
            session_id=session_id, type="floor.granted", payload={"user_id": user_id},
            actor_id=user.pk, client_id=client_id,
        )


def floor_revoke(*, session_id: int, user: User, user_id: int, client_id: str = "") -> int:
    with transaction.atomic():
        _moderator(session_id=session_id, user=user)
        target = _target(session_id=session_id, user_id=user_id)
        Participant.objects.filter(pk=target.pk).update(has_floor=False)
        return room_event_emit(
            session_id=session_id, type="floor.revoked", payload={"user_id": user_id},
            actor_id=user.pk, client_id=client_id,
        )


# --- questions -------------------------------------------------------------------------


def question_ask(*, session_id: int, user: User, text: str, client_id: str = "") -> int:
    with transaction.atomic():
        _open_room(session_id)
        participant = _participant(session_id=session_id, user=user)
        _require(participant, "ask")
        if client_id and RoomEvent.objects.filter(session_id=session_id, actor=user, client_id=client_id).exists():
            return room_event_emit(session_id=session_id, type="question.asked", payload={}, actor_id=user.pk, client_id=client_id)
        question = Question.objects.create(session_id=session_id, author=user, text=text)
        return room_event_emit(
            session_id=session_id, type="question.asked", payload={"question": question_public(question, author_name=user.name)},
            actor_id=user.pk, client_id=client_id,
        )


def _question(session_id: int, question_id: int) -> Question:
    question = Question.objects.select_for_update().filter(session_id=session_id, pk=question_id).first()
    if question is None:
        raise InvalidRequest(_("There is no such question."), code=ErrorCode.NOT_FOUND)
    return question


def question_upvote(*, session_id: int, user: User, question_id: int, client_id: str = "") -> int:
    """One up-vote per person per question; a second one is refused (conflict)."""
    with transaction.atomic():
        participant = _participant(session_id=session_id, user=user)
        _require(participant, "vote")
        question = _question(session_id, question_id)
        if question.status != QuestionStatus.OPEN:
            raise InvalidRequest(_("This question is closed."), code=ErrorCode.CONFLICT)
        try:
            with transaction.atomic():
                QuestionVote.objects.create(question=question, user=user)
        except IntegrityError:
            raise InvalidRequest(_("You already voted for this question."), code=ErrorCode.CONFLICT) from None
        Question.objects.filter(pk=question.pk).update(votes=F("votes") + 1)
        votes = Question.objects.filter(pk=question.pk).values_list("votes", flat=True).get()
        return room_event_emit(
            session_id=session_id, type="question.voted", payload={"question_id": question.pk, "votes": votes},
            actor_id=user.pk, client_id=client_id,
        )


def question_close(*, session_id: int, user: User, question_id: int, status: str, client_id: str = "") -> int | None:
    """The host marks a question answered or dismisses it."""
    with transaction.atomic():
        _moderator(session_id=session_id, user=user)
        question = _question(session_id, question_id)
        if question.status == status:
            return None
        Question.objects.filter(pk=question.pk).update(status=status)
        kind = "question.answered" if status == QuestionStatus.ANSWERED else "question.dismissed"
        return room_event_emit(
            session_id=session_id, type=kind, payload={"question_id": question.pk},
            actor_id=user.pk, client_id=client_id,
        )


# --- polls -----------------------------------------------------------------------------


def poll_create(*, session_id: int, user: User, question: str, options: list[str], multiple: bool, client_id: str = "") -> int:
    """Open a poll (the host or a presenter). Options: 2 to 10 distinct labels."""
    labels = [label for label in options if label]
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise InvalidRequest(_("A poll needs at least two different options."), code=ErrorCode.WRONG_FIELD)
    with transaction.atomic():
        _open_room(session_id)
        participant = _participant(session_id=session_id, user=user)
        _require(participant, "poll")
        if client_id and RoomEvent.objects.filter(session_id=session_id, actor=user, client_id=client_id).exists():
            return room_event_emit(session_id=session_id, type="poll.opened", payload={}, actor_id=user.pk, client_id=client_id)
        poll = Poll.objects.create(session_id=session_id, created_by=user, question=question, multiple=multiple)
        PollOption.objects.bulk_create([PollOption(poll=poll, label=label, position=i) for i, label in enumerate(labels)])
        return room_event_emit(
            session_id=session_id, type="poll.opened", payload={"poll": poll_public(poll)},
            actor_id=user.pk, client_id=client_id,
        )


def poll_vote(*, session_id: int, user: User, poll_id: int, option_ids: list[int]) -> None:
    """Record one person's choice (replacing an earlier one); raise its refusal, if any.

    The socket path groups votes (votes.py → `poll_votes_record`); this is the same
    write for one vote. Votes do not serialise on the poll row (see `poll_votes_record`).
    """
    [refusal] = poll_votes_record(votes=[VoteRequest(session_id, user.pk, poll_id, tuple(sorted(set(option_ids))))])
    if refusal is not None:
        raise refusal


def poll_counts_take(*, poll_id: int) -> dict[str, Any]:
    """The poll's current counts with a new, larger version (for a coalesced `poll.counts`).

    The version bump and the count are one transaction: a bump waits for the previous
    flush (of any process) to commit, so a higher version always counts at least the
    votes of a lower one, and clients keep the counts with the highest version.
    """
    from .selectors import poll_counts

    with transaction.atomic():
        if not Poll.objects.filter(pk=poll_id).update(version=F("version") + 1):
            return {}
        return poll_counts(poll_id=poll_id)


def poll_close(*, session_id: int, user: User, poll_id: int, client_id: str = "") -> int | None:
    with transaction.atomic():
        participant = _participant(session_id=session_id, user=user)
        _require(participant, "poll")
        poll = Poll.objects.select_for_update().filter(session_id=session_id, pk=poll_id).first()
        if poll is None:
            raise InvalidRequest(_("There is no such poll."), code=ErrorCode.NOT_FOUND)
        if poll.status == PollStatus.CLOSED:
            return None
        poll.status = PollStatus.CLOSED
        poll.closed_at = timezone.now()
        poll.save(update_fields=["status", "closed_at"])
        return room_event_emit(
            session_id=session_id, type="poll.closed", payload={"poll": poll_public(poll)},
            actor_id=user.pk, client_id=client_id,
        )


# --- moderation and roles --------------------------------------------------------------


def participant_set_muted(*, session_id: int, user: User, user_id: int, muted: bool, client_id: str = "") -> int | None:
    """The host mutes (no chat, no audio) or unmutes someone."""
    with transaction.atomic():
        _moderator(session_id=session_id, user=user)
        target = _target(session_id=session_id, user_id=user_id)
        if target.muted == muted:
            return None
        Participant.objects.filter(pk=target.pk).update(muted=muted)
        return room_event_emit(
            session_id=session_id, type="participant.muted" if muted else "participant.unmuted",
            payload={"user_id": user_id}, actor_id=user.pk, client_id=client_id,
        )


def participant_remove(*, session_id: int, user: User, user_id: int, client_id: str = "") -> int:
    """The host removes someone: their sockets close and they cannot come back."""
    with transaction.atomic():
        _moderator(session_id=session_id, user=user)
        if user_id == user.pk:
            raise InvalidRequest(_("You cannot remove yourself."), code=ErrorCode.WRONG_FIELD)
        target = _target(session_id=session_id, user_id=user_id)
        if target.role == "host":
            raise PermissionRefused(_("The host cannot be removed."), code=ErrorCode.FORBIDDEN)
        Participant.objects.filter(pk=target.pk).update(
            removed_at=timezone.now(), removed_by=user, has_floor=False, hand_raised_at=None
        )
        return room_event_emit(
            session_id=session_id, type="participant.removed", payload={"user_id": user_id},
            actor_id=user.pk, client_id=client_id,
        )


def participant_set_role(*, session_id: int, user: User, user_id: int, role: str, client_id: str = "") -> int | None:
    """The host makes an attendee a presenter (or back)."""
    with transaction.atomic():
        _moderator(session_id=session_id, user=user)
        if role not in ASSIGNABLE_ROLES:
            raise InvalidRequest(_("That role cannot be given in the room."), code=ErrorCode.WRONG_FIELD)
        target = _target(session_id=session_id, user_id=user_id)
        if target.role == "host":
            raise PermissionRefused(_("The host's role cannot be changed."), code=ErrorCode.FORBIDDEN)
        if target.role == role:
            return None
        changes: dict[str, Any] = {"role": role}
        if "present" not in role_permissions(role):
            changes["has_floor"] = False
        Participant.objects.filter(pk=target.pk).update(**changes)
        return room_event_emit(
            session_id=session_id, type="participant.role",
            payload={"user_id": user_id, "role": role, "permissions": sorted(role_permissions(role))},
            actor_id=user.pk, client_id=client_id,
        )


def room_set_locked(*, session_id: int, user: User, locked: bool, client_id: str = "") -> int | None:
    with transaction.atomic():
        _moderator(session_id=session_id, user=user)
        if not RoomState.objects.filter(pk=session_id).exclude(locked=locked).update(locked=locked):
            return None
        return room_event_emit(
            session_id=session_id, type="room.locked" if locked else "room.unlocked", payload={},
            actor_id=user.pk, client_id=client_id,
        )


def room_set_chat(*, session_id: int, user: User, enabled: bool, client_id: str = "") -> int | None:
    with transaction.atomic():
        _moderator(session_id=session_id, user=user)
        if not RoomState.objects.filter(pk=session_id).exclude(chat_enabled=enabled).update(chat_enabled=enabled):
            return None
        return room_event_emit(
            session_id=session_id, type="room.chat", payload={"enabled": enabled},
            actor_id=user.pk, client_id=client_id,
        )


def room_end(*, session_id: int, user: User, client_id: str = "") -> int:
    """End the session for everyone: every socket closes (4410) and nobody can enter."""
    from sessions.scheduling.events import scheduling_event_on_commit
    from sessions.scheduling.services import session_end

    with transaction.atomic():
        _moderator(session_id=session_id, user=user)
        state = RoomState.objects.select_for_update().get(pk=session_id)
        if state.ended_at is None:
            RoomState.objects.filter(pk=session_id).update(ended_at=timezone.now())
        session = LiveSession.objects.get(pk=session_id)
        if session.host_id == user.pk:
            session_end(by=user, session=session)
        elif session.status not in (SessionStatus.ENDED, SessionStatus.CANCELLED):
            LiveSession.objects.filter(pk=session_id).update(status=SessionStatus.ENDED)
            scheduling_event_on_commit(name="session.ended", session_id=session_id)
        return room_event_emit(
            session_id=session_id, type="room.ended", payload={}, actor_id=user.pk, client_id=client_id,
        )


# --- the lobby -------------------------------------------------------------------------


def lobby_enter(*, session_id: int, user: User) -> int | None:
    """A person knocks: the room's moderators see them waiting."""
    with transaction.atomic():
        request, created = LobbyRequest.objects.get_or_create(session_id=session_id, user=user)
        cards = participant_cards(session_id=session_id, user_ids=[user.pk], lobby=True)
        return room_event_emit(
            session_id=session_id, type="lobby.waiting", payload={"user": cards[0] if cards else {"user_id": user.pk}},
            visible_to=room_moderator_ids(session_id=session_id),
        )


def lobby_decide(*, session_id: int, user: User, user_id: int, admit: bool, client_id: str = "") -> int | None:
    """The host lets a waiting person in, or refuses them (they cannot knock again)."""
    with transaction.atomic():
        _moderator(session_id=session_id, user=user)
        request = LobbyRequest.objects.select_for_update().filter(session_id=session_id, user_id=user_id).first()
        if request is None:
            raise InvalidRequest(_("Nobody by that id is waiting."), code=ErrorCode.NOT_FOUND)
        status = LobbyStatus.ADMITTED if admit else LobbyStatus.REFUSED
        if request.status == status:
            return None
        request.status = status
        request.decided_by = user
        request.decided_at = timezone.now()
        request.save(update_fields=["status", "decided_by", "decided_at"])
        return room_event_emit(
            session_id=session_id, type="lobby.admitted" if admit else "lobby.refused", payload={"user_id": user_id},
            actor_id=user.pk, client_id=client_id,
            visible_to=[*room_moderator_ids(session_id=session_id), user_id],
        )


# --- votes in groups (one transaction for the votes that arrive together) ---------------


@dataclass(frozen=True)
class VoteRequest:
    """One person's vote, as sent on their socket."""

    session_id: int
    user_id: int
    poll_id: int
    option_ids: tuple[int, ...]


def poll_votes_record(*, votes: list[VoteRequest]) -> list[Exception | None]:
    """Store a group of votes in ONE transaction (group commit); per vote, None or the refusal.

    Votes do not serialise on the poll: the polls are locked FOR KEY SHARE, which voters
    hold together and which only `poll_close` (FOR UPDATE) waits for, so a vote is either
    in the closing counts or refused as late; KEY SHARE does not conflict with the version
    bump of `poll_counts_take` (a non-key UPDATE). In five statements for any number of
    votes: lock the polls and the voters (advisory, in a fixed order, so two processes
    writing the same person's votes do not interleave), read
    the voters' participant rows, the options and the current choices, then delete what
    changed and insert the new rows idempotently. The caller acknowledges each vote only
    after this returns (after the commit). A vote refused for its own reason does not
    undo the others; a database error fails the whole group (each sender gets an error).
    """
    from django.db import connection

    results: list[Exception | None] = [None] * len(votes)
    if not votes:
        return results
    poll_ids = sorted({v.poll_id for v in votes})
    user_ids = sorted({v.user_id for v in votes})
    with transaction.atomic():
        polls: dict[int, tuple[int, str, bool]] = {}
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT id, session_id, status, multiple FROM {Poll._meta.db_table} WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE",
                    [poll_ids],
                )
                polls = {row[0]: (row[1], row[2], bool(row[3])) for row in cursor.fetchall()}
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(p, u) FROM unnest(%s::int[]) AS p, unnest(%s::int[]) AS u ORDER BY p, u",
                    [[p % 2**31 for p in poll_ids], [u % 2**31 for u in user_ids]],
                )
        else:
            polls = {pk: (sid, status, multiple) for pk, sid, status, multiple in Poll.objects.filter(pk__in=poll_ids).values_list("pk", "session_id", "status", "multiple")}
        options: dict[int, set[int]] = {}
        for poll_id, option_id in PollOption.objects.filter(poll_id__in=poll_ids).values_list("poll_id", "pk"):
            options.setdefault(poll_id, set()).add(option_id)
        session_ids = {v.session_id for v in votes}
        participants = {
            (p.session_id, p.user_id): p
            for p in Participant.objects.filter(session_id__in=session_ids, user_id__in=user_ids).only("session_id", "user_id", "role", "removed_at")
        }
        current: dict[tuple[int, int], set[int]] = {}
        for poll_id, user_id, option_id in PollVote.objects.filter(poll_id__in=poll_ids, user_id__in=user_ids).values_list("poll_id", "user_id", "option_id"):
            current.setdefault((poll_id, user_id), set()).add(option_id)
        final: dict[tuple[int, int], set[int]] = {}
        # The refusals are lazy: this batch holds votes of people with different interface
        # languages, and each one's socket renders its own refusal in that person's language.
        for index, vote in enumerate(votes):
            try:
                choice = set(vote.option_ids)
                participant = participants.get((vote.session_id, vote.user_id))
                if participant is None or participant.removed_at is not None:
                    raise PermissionRefused(gettext_lazy("You are not in this room."), code=ErrorCode.FORBIDDEN)
                _require(participant, "vote")
                poll = polls.get(vote.poll_id)
                if poll is None or poll[0] != vote.session_id:
                    raise InvalidRequest(gettext_lazy("There is no such poll."), code=ErrorCode.NOT_FOUND)
                if poll[1] != PollStatus.OPEN:
                    raise InvalidRequest(gettext_lazy("This poll is closed."), code=ErrorCode.CONFLICT)
                if not choice or not choice <= options.get(vote.poll_id, set()):
                    raise InvalidRequest(gettext_lazy("Choose among the poll's options."), code=ErrorCode.WRONG_FIELD)
                if not poll[2] and len(choice) != 1:
                    raise InvalidRequest(gettext_lazy("This poll takes one choice."), code=ErrorCode.WRONG_FIELD)
                final[(vote.poll_id, vote.user_id)] = choice  # a later vote of the same person wins
            except (PermissionRefused, InvalidRequest) as exc:
                results[index] = exc
        removals = [(key, current.get(key, set()) - choice) for key, choice in final.items() if current.get(key, set()) - choice]
        for (poll_id, user_id), gone in removals:
            PollVote.objects.filter(poll_id=poll_id, user_id=user_id, option_id__in=gone).delete()
        PollVote.objects.bulk_create(
            [
                PollVote(poll_id=poll_id, user_id=user_id, option_id=option_id)
                for (poll_id, user_id), choice in final.items()
                for option_id in sorted(choice - current.get((poll_id, user_id), set()))
            ],
            ignore_conflicts=True,
        )
    return results
