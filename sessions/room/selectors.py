"""Permission-checked reads of the live room: who may enter as what, the join snapshot,
events to replay, poll counts and attendance.

The audience rules are not repeated here: `room_role_for` asks
`sessions.scheduling.selectors` (or a part registered for the session's kind, e.g.
consults), so the catalog, the session page and the room always agree.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.db.models import Count, Prefetch, QuerySet
from django.utils.translation import gettext as _

from server.people.errors import PermissionRefused
from server.people.models import Membership, User
from sessions.models import (
    Attendance,
    LiveSession,
    LobbyRequest,
    LobbyStatus,
    Participant,
    Poll,
    PollStatus,
    PollVote,
    Question,
    QuestionStatus,
    QuestionVote,
    RoomConnection,
    RoomEvent,
    RoomState,
)

from .fanout import event_frame_dict
from .registry import ROLE_PERMISSIONS, role_permissions

#: Replay at most this many missed events; older gaps are covered by the snapshot's state.
MAX_REPLAY = 1000
#: Recent events (chat…) shown to a newcomer.
RECENT_EVENTS = 50
#: Participants listed in a snapshot (hosts, presenters, raised hands and yourself first);
#: `participants_total` says how many are present. Keeps joining a 1,000-person lecture light.
SNAPSHOT_PARTICIPANTS = 300

RoleResolver = Callable[[LiveSession, User], "str | None"]
_ROLE_RESOLVERS: dict[str, RoleResolver] = {}


def register_role_resolver(kind: str, resolver: RoleResolver) -> None:
    """Let a part decide who enters rooms of sessions of `kind`, as what (None = refused).

    Consults use this: only the trainee, the supervisor and invited observers enter.
    """
    _ROLE_RESOLVERS[kind] = resolver


RefusalReason = Callable[[LiveSession, User], "tuple[str, str] | None"]
_REFUSAL_REASONS: dict[str, RefusalReason] = {}


def register_refusal_reason(kind: str, reason: RefusalReason) -> None:
    """Let a part say why its resolver refused someone: (error code, message), so the socket
    closes with that instead of the generic "not in the audience" (breakout groups use it)."""
    _REFUSAL_REASONS[kind] = reason


def room_refusal_for(*, session: LiveSession, user: User) -> tuple[str, str] | None:
    reason = _REFUSAL_REASONS.get(session.kind)
    return reason(session, user) if reason is not None else None


def room_role_for(*, session: LiveSession, user: User) -> str | None:
    """The role `user` enters `session`'s room with, or None when the audience rules refuse."""
    if user is None or not user.is_authenticated:
        return None
    resolver = _ROLE_RESOLVERS.get(session.kind)
    if resolver is not None:
        return resolver(session, user)
    from sessions.scheduling.selectors import session_role_of

    return session_role_of(session, user)


def room_session(*, session_id: int) -> LiveSession | None:
    return LiveSession.objects.select_related("host", "institution").filter(pk=session_id).first()


def room_moderator_ids(*, session_id: int) -> list[int]:
    """People who may moderate the room now: the host and participants with that permission."""
    roles = [role for role, perms in ROLE_PERMISSIONS.items() if "moderate" in perms]
    ids = set(
        Participant.objects.filter(session_id=session_id, role__in=roles, removed_at__isnull=True).values_list("user_id", flat=True)
    )
    host_id = LiveSession.objects.filter(pk=session_id).values_list("host_id", flat=True).first()
    if host_id is not None:
        ids.add(host_id)
    return sorted(ids)


def _school_of(user: User) -> tuple[str, str]:
    memberships = [m for m in user.memberships.all() if m.is_active]
    if not memberships:
        return "", ""
    first = min(memberships, key=lambda m: m.joined_at)
    return first.institution.short_name or first.institution.name, str(first.institution.country.code or "")  # type: ignore[attr-defined]  # CountryField gives a Country


def _users_with_schools(user_ids: Iterable[int]) -> QuerySet[User]:
    return User.objects.filter(pk__in=list(user_ids)).prefetch_related(
        Prefetch("memberships", queryset=Membership.objects.select_related("institution"))
    )


def participant_cards(*, session_id: int, user_ids: Iterable[int], lobby: bool = False) -> list[dict[str, Any]]:
    """What the room shows about each person: name, school, country, role and state."""
    users = list(_users_with_schools(user_ids))
    rows = {} if lobby else {p.user_id: p for p in Participant.objects.filter(session_id=session_id, user_id__in=[u.pk for u in users])}
    cards = []
    for user in users:
        school, country = _school_of(user)
        card: dict[str, Any] = {"user_id": user.pk, "name": user.name, "school": school, "country": country}
        participant = rows.get(user.pk)
        if participant is not None:
            card.update(
                role=participant.role, muted=participant.muted, has_floor=participant.has_floor,
                hand_raised_at=participant.hand_raised_at.isoformat() if participant.hand_raised_at else None,
            )
        cards.append(card)
    return cards


def question_public(question: Question, *, author_name: str | None = None) -> dict[str, Any]:
    return {
        "id": question.pk, "text": question.text, "status": question.status, "votes": question.votes,
        "author_id": question.author_id, "author_name": author_name if author_name is not None else question.author.name,
        "created_at": question.created_at.isoformat(),
    }


def poll_counts(*, poll_id: int) -> dict[str, Any]:
    """Live counts of one poll: votes per option, voters, and the poll's version."""
    poll = Poll.objects.filter(pk=poll_id).values("pk", "version", "session_id").first()
    if poll is None:
        return {}
    counts = dict(PollVote.objects.filter(poll_id=poll_id).values_list("option_id").annotate(n=Count("pk")))
    voters = PollVote.objects.filter(poll_id=poll_id).values("user_id").distinct().count()
    return {"poll_id": poll_id, "version": poll["version"], "counts": {str(k): v for k, v in counts.items()}, "voters": voters}


def poll_public(poll: Poll) -> dict[str, Any]:
    counts = poll_counts(poll_id=poll.pk)
    return {
        "id": poll.pk, "question": poll.question, "multiple": poll.multiple, "status": poll.status,
        "options": [{"id": o.pk, "label": o.label} for o in poll.options.all()],
        "counts": counts.get("counts", {}), "voters": counts.get("voters", 0), "version": counts.get("version", 0),
    }


def visible(event: RoomEvent, user_id: int) -> bool:
    return event.visible_to is None or user_id in event.visible_to


def room_events_since(*, session_id: int, user: User, since: int, until: int | None = None, limit: int = MAX_REPLAY) -> tuple[list[dict[str, Any]], bool]:
    """Events after `since` that `user` may see, oldest first, and whether some were cut."""
    query = RoomEvent.objects.filter(session_id=session_id, seq__gt=since)
    if until is not None:
        query = query.filter(seq__lte=until)
    rows = list(query.order_by("seq")[: limit * 2])
    events = [event_frame_dict(e) for e in rows if visible(e, user.pk)]
    truncated = len(events) > limit or (len(rows) == limit * 2)
    return events[:limit], truncated


def room_recent_events(*, session_id: int, user: User, until: int, count: int = RECENT_EVENTS) -> list[dict[str, Any]]:
    rows = list(RoomEvent.objects.filter(session_id=session_id, seq__lte=until).exclude(type="presence").order_by("-seq")[: count * 3])
    events = [event_frame_dict(e) for e in rows if visible(e, user.pk)][:count]
    return list(reversed(events))


#: How long the shared part of a join snapshot is reused by later joiners of the room in
#: this process. A join storm (1,000 people at the start of a lecture) then costs one
#: participants/questions/polls read per room per window instead of one per joiner.
SNAPSHOT_SHARE_SECONDS = 1.0
_shared_snapshots: dict[int, tuple[float, dict[str, Any]]] = {}
_shared_locks: dict[int, threading.Lock] = {}
_shared_guard = threading.Lock()
_shared_generation: dict[int, int] = {}


def _room_shared_state(*, session: LiveSession) -> dict[str, Any]:
    """What every joiner of the room sees alike, read after (so consistent with) `seq`."""
    state = RoomState.objects.get(pk=session.pk)
    seq = state.last_seq
    present_ids = set(
        RoomConnection.objects.filter(session=session, in_lobby=False).values_list("user_id", flat=True)
    )
    listed = present_ids
    if len(present_ids) > SNAPSHOT_PARTICIPANTS:
        first = set(
            Participant.objects.filter(session=session, user_id__in=present_ids)
            .exclude(role="attendee", hand_raised_at__isnull=True, has_floor=False)
            .values_list("user_id", flat=True)[:SNAPSHOT_PARTICIPANTS]
        )
        rest = sorted(present_ids - first)[: max(0, SNAPSHOT_PARTICIPANTS - len(first))]
        listed = first | set(rest)
    questions = list(
        Question.objects.filter(session=session, status=QuestionStatus.OPEN).select_related("author").order_by("-votes", "created_at")[:200]
    )
    polls = list(Poll.objects.filter(session=session).prefetch_related("options").order_by("created_at")[:50])
    return {
        "seq": seq,
        "room": {"locked": state.locked, "chat_enabled": state.chat_enabled, "ended": state.ended_at is not None},
        "present_ids": frozenset(present_ids),
        "participants": participant_cards(session_id=session.pk, user_ids=listed),
        "questions": [question_public(q) for q in questions],
        "polls": [poll_public(p) for p in polls],
    }


def _shared_state(*, session: LiveSession, at_least: int | None) -> dict[str, Any]:
    """The room's shared snapshot state, reused for SNAPSHOT_SHARE_SECONDS (one reader at a time).

    `at_least`: a reconnecting client's `since`; a shared state older than it would undo
    events the client has already applied, so it is read afresh.
    """
    with _shared_guard:
        lock = _shared_locks.setdefault(session.pk, threading.Lock())
    with lock:
        cached = _shared_snapshots.get(session.pk)
        now = time.monotonic()
        if cached is not None and now - cached[0] < SNAPSHOT_SHARE_SECONDS and (at_least is None or cached[1]["seq"] >= at_least):
            return cached[1]
        generation = _shared_generation.get(session.pk, 0)
        shared = _room_shared_state(session=session)
        if _shared_generation.get(session.pk, 0) == generation:  # no event changed it meanwhile
            _shared_snapshots[session.pk] = (now, shared)
        if len(_shared_snapshots) > 256:  # forget rooms not joined lately
            for key, (when, _value) in list(_shared_snapshots.items()):
                if now - when > SNAPSHOT_SHARE_SECONDS:
                    _shared_snapshots.pop(key, None)
        return shared


def room_snapshot(*, session: LiveSession, user: User, role: str, since: int | None) -> dict[str, Any]:
    """Everything a socket needs on joining, consistent with sequence number `seq`.

    The shared state (participants, hands, questions, polls) was read after its own
    number S (and may be shared with other joiners for about a second); `seq` is the
    room's number now, and `events` bring the client from S to `seq`: with `since`,
    exactly the visible events in (since, seq]; otherwise the last few chat-like events
    up to S plus every visible event in (S, seq]. State may already include the effect
    of later events; clients apply events as upserts.
    """
    shared = _shared_state(session=session, at_least=since)
    base = shared["seq"]
    seq = RoomState.objects.filter(pk=session.pk).values_list("last_seq", flat=True).get()
    if since is not None and since <= seq:
        events, truncated = room_events_since(session_id=session.pk, user=user, since=since, until=seq)
    else:
        events = room_recent_events(session_id=session.pk, user=user, until=base)
        truncated = since is not None
        if seq > base:
            tail, cut = room_events_since(session_id=session.pk, user=user, since=base, until=seq)
            events += tail
            truncated = truncated or cut
    participants = list(shared["participants"])
    present_ids = set(shared["present_ids"])
    if user.pk not in {c["user_id"] for c in participants}:
        participants = participant_cards(session_id=session.pk, user_ids=[user.pk]) + participants
    present_ids.add(user.pk)
    me = Participant.objects.filter(session=session, user=user).first()
    question_ids = [q["id"] for q in shared["questions"]]
    my_question_votes = set(
        QuestionVote.objects.filter(question_id__in=question_ids, user=user).values_list("question_id", flat=True)
    ) if question_ids else set()
    my_poll_votes: dict[int, list[int]] = {}
    poll_ids = [p["id"] for p in shared["polls"]]
    if poll_ids:
        for poll_id, option_id in PollVote.objects.filter(poll_id__in=poll_ids, user=user).values_list("poll_id", "option_id"):
            my_poll_votes.setdefault(poll_id, []).append(option_id)
    permissions = sorted(role_permissions(role))
    snapshot: dict[str, Any] = {
        "type": "snapshot",
        "v": 1,
        "seq": seq,
        "session": {
            "id": session.pk, "title": session.title, "kind": session.kind, "status": session.status,
            "host_id": session.host_id, "lobby": session.lobby_enabled,
        },
        "room": dict(shared["room"]),
        "you": {
            "user_id": user.pk, "name": user.name, "role": role, "permissions": permissions,
            "muted": bool(me and me.muted), "has_floor": bool(me and me.has_floor),
            "hand_raised": bool(me and me.hand_raised_at),
        },
        "participants": participants,
        "participants_total": len(present_ids),
        "hands": [
            {"user_id": c["user_id"], "at": c["hand_raised_at"]}
            for c in sorted(participants, key=lambda c: c.get("hand_raised_at") or "") if c.get("hand_raised_at")
        ],
        "questions": [dict(q, voted=q["id"] in my_question_votes) for q in shared["questions"]],
        "polls": [dict(p, my_choice=sorted(my_poll_votes.get(p["id"], []))) for p in shared["polls"]],
        "events": events,
        "events_truncated": truncated,
    }
    if "moderate" in permissions:
        waiting = LobbyRequest.objects.filter(session=session, status=LobbyStatus.WAITING).values_list("user_id", flat=True)
        knocking = set(
            RoomConnection.objects.filter(session=session, in_lobby=True, user_id__in=list(waiting)).values_list("user_id", flat=True)
        )
        snapshot["lobby"] = participant_cards(session_id=session.pk, user_ids=knocking, lobby=True)
    return snapshot


#: Events whose effect joiners may learn from the events after the shared state's number
#: (the bulk of a busy room); any other event makes the next joiner read the state afresh.
SHARED_SNAPSHOT_SURVIVES = frozenset({"chat.message", "presence"})


def room_snapshot_forget(*, session_id: int, event_type: str | None = None) -> None:
    """Drop the shared snapshot state of a room after an event that changes it.

    Called by the fan-out for every event this process sees, so the snapshot's own
    fields (locked, polls, questions…) are never older than the last such event.
    """
    if event_type not in SHARED_SNAPSHOT_SURVIVES:
        _shared_generation[session_id] = _shared_generation.get(session_id, 0) + 1
        _shared_snapshots.pop(session_id, None)


def poll_state_for(*, poll_id: int) -> str | None:
    return Poll.objects.filter(pk=poll_id).values_list("status", flat=True).first()


def room_attendance(*, session: LiveSession, user: User) -> QuerySet[Attendance]:
    """Join and leave times of everyone; only the host (or a room moderator) may read them."""
    if not user.is_authenticated:
        raise PermissionRefused(_("Sign in first."), code="forbidden")
    if user.pk != session.host_id and user.pk not in room_moderator_ids(session_id=session.pk):
        raise PermissionRefused(_("Only the host can export attendance."), code="forbidden")
    return Attendance.objects.filter(session=session).select_related("user").prefetch_related(
        Prefetch("user__memberships", queryset=Membership.objects.select_related("institution"))
    ).order_by("joined_at", "pk")


def room_breakout_groups(*, session: LiveSession) -> dict[int, str]:
    """user id -> the breakout groups (sessions/breakouts) they were put in, for the attendance export."""
    from sessions.models import BreakoutMember

    rows = BreakoutMember.objects.filter(parent=session, group__opened_at__isnull=False).order_by(
        "split", "group__number"
    ).values_list("user_id", "group__name")
    found: dict[int, list[str]] = {}
    for user_id, name in rows:
        found.setdefault(user_id, []).append(name)
    return {user_id: "; ".join(names) for user_id, names in found.items()}


def room_breakout_reports(*, session: LiveSession) -> list[dict[str, Any]]:
    """Each closed breakout group's notes (its report-back) with its members, for the session's record page."""
    from sessions.models import BreakoutGroup, BreakoutMember

    groups = list(BreakoutGroup.objects.filter(parent=session, closed_at__isnull=False).order_by("split", "number"))
    names: dict[int, list[str]] = {}
    for member in BreakoutMember.objects.filter(group__in=groups).select_related("user"):
        names.setdefault(member.group_id, []).append(member.user.name)
    return [{"name": g.name, "split": g.split, "members": sorted(names.get(g.pk, [])), "report": g.report} for g in groups]


def user_attendance_history(*, user: User, limit: int = 50) -> QuerySet[Attendance]:
    """A person's own attendance (for their profile)."""
    return Attendance.objects.filter(user=user).select_related("session").order_by("-joined_at")[:limit]


def school_and_country(user: User) -> tuple[str, str]:
    """The school and ISO country shown next to a person (expects prefetched memberships)."""
    return _school_of(user)


def room_page_context(*, session_id: int, user: User) -> LiveSession:
    """The session whose room page `user` may open (the socket repeats the finer checks)."""
    session = room_session(session_id=session_id)
    if session is None:
        raise PermissionRefused(_("There is no such session."), code="not_found")
    if room_role_for(session=session, user=user) is None and not Participant.objects.filter(
        session=session, user=user, removed_at__isnull=True
    ).exists():
        reason = room_refusal_for(session=session, user=user)
        raise PermissionRefused(reason[1] if reason else _("You are not in the audience of this session."), code="forbidden")
    return session


def poll_is_open(*, poll_id: int) -> bool:
    return poll_state_for(poll_id=poll_id) == PollStatus.OPEN


def room_record(*, session: LiveSession, user: User) -> dict[str, Any]:
    """What a finished session's room leaves to read: chat, questions, polls with results,
    and attendance (everyone's for the host and moderators; one's own otherwise).

    The caller has already checked that `user` may open the room page (room_page_context).
    """
    chat = [
        e for e in RoomEvent.objects.filter(session=session, type="chat.message").order_by("seq")[:500]
        if visible(e, user.pk)
    ]
    questions = list(Question.objects.filter(session=session).select_related("author").order_by("-votes", "created_at")[:200])
    polls = []
    for poll in Poll.objects.filter(session=session).prefetch_related("options").order_by("created_at")[:50]:
        public = poll_public(poll)
        voters = public["voters"] or 0
        options = []
        for option in public["options"]:
            count = public["counts"].get(str(option["id"]), 0)
            options.append({"label": option["label"], "count": count, "percent": round(100 * count / voters) if voters else 0})
        polls.append({"question": poll.question, "status": poll.status, "voters": voters, "options": options})
    moderator = user.pk == session.host_id or user.pk in room_moderator_ids(session_id=session.pk)
    attendance = Attendance.objects.filter(session=session).select_related("user").order_by("joined_at", "pk")
    if not moderator:
        attendance = attendance.filter(user=user)
    return {
        "chat": [{"name": e.payload.get("name", ""), "text": e.payload.get("text", ""), "at": e.created_at} for e in chat],
        "questions": questions,
        "polls": polls,
        "attendance": list(attendance[:1000]),
        "attendance_total": Attendance.objects.filter(session=session).values("user_id").distinct().count(),
        "is_moderator": moderator,
    }
