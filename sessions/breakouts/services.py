"""Writes of breakout groups: split, move, open, broadcast, close. Each checks who asks,
changes rows and emits its room events in one transaction (sessions/room/events.py).

Who manages groups: the main session's host and the room's moderators (co-hosts). The
main room sees each change of the plan as one event, `breakouts.changed`, carrying only
what changed (who moved where, which group changed) and a version: a move is about 430
bytes whatever the size of the room, where the whole plan was 26 KB at 300 people, 57 KB
at 700 and 82 KB (over 64 KiB) at 1,000 (bench/breakouts.py, docs/benchmarks.md). A
client applies a change whose `base_version` is the version it holds and otherwise asks
for the whole plan (`breakouts.get`). A new split carries the new assignment as ids
(about 6 bytes a person), not each person's name, school and country. A group's room
gets `breakout.message` (the host's broadcast), `breakout.moved` (only to the person
moved out while open) and `breakout.closed` followed by `room.ended` (every socket
closes; the page goes back to the main room). docs/protocol.md, "Breakout groups".

All functions are synchronous and take keyword-only arguments, as in sessions/room/services.py.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from server.people.errors import InvalidRequest, PermissionRefused
from server.people.models import User
from sessions.models import (
    Audience,
    BreakoutGroup,
    BreakoutMember,
    BreakoutPlanVersion,
    LiveSession,
    Participant,
    PeerNotes,
    RoomState,
    SessionKind,
    SessionStatus,
)
from sessions.room.events import Nullable, room_event_emit, room_event_type
from sessions.room.selectors import room_moderator_ids

from . import mixing
from .selectors import SPLITTABLE_KINDS, people_for_split, person_cards

logger = logging.getLogger(__name__)

MIN_GROUP_SIZE = 2
MAX_GROUP_SIZE = 50
MAX_GROUPS = 100
MIN_MINUTES = 1
MAX_MINUTES = 240
MAX_MESSAGE_CHARS = 500

room_event_type("breakouts.changed", version=int, base_version=int, split=int, state=str, opened_at=(str, Nullable),
                closes_at=(str, Nullable), at=str, replace=bool, groups=list, unassigned=list, moves=list, people=list)
room_event_type("breakout.message", text=str, by=dict, at=str)
room_event_type("breakout.moved", user_id=int, url=str, at=str)
room_event_type("breakout.closed", return_url=str, at=str)


def _manager(*, session: LiveSession, user: User | None) -> None:
    """The host or a co-host of the main room; `None` is the server itself (the timer)."""
    if user is None:
        return
    if user.pk != session.host_id and user.pk not in room_moderator_ids(session_id=session.pk):
        raise PermissionRefused(_("Only the host and co-hosts can manage breakout groups."), code="forbidden")


def _main_session(session: LiveSession) -> LiveSession:
    if session.kind not in SPLITTABLE_KINDS:
        raise InvalidRequest(_("This session cannot be split into breakout groups."), code="not_splittable")
    if session.status in (SessionStatus.ENDED, SessionStatus.CANCELLED) or RoomState.objects.filter(
        pk=session.pk, ended_at__isnull=False
    ).exists():
        raise InvalidRequest(_("This session has ended."), code="room_ended")
    return session


def _current(session: LiveSession, *, lock: bool = False) -> list[BreakoutGroup]:
    """The groups of the latest split (locked for update when changing them)."""
    split = BreakoutGroup.objects.filter(parent=session).order_by("-split").values_list("split", flat=True).first()
    if split is None:
        return []
    rows = BreakoutGroup.objects.filter(parent=session, split=split).order_by("number")
    if lock:
        rows = rows.select_for_update(no_key=True)
    return list(rows)


def _plan_lock(session: LiveSession) -> BreakoutPlanVersion:
    """Lock the session's plan (taken first by every change, so changes have one order)."""
    BreakoutPlanVersion.objects.get_or_create(session=session)
    return BreakoutPlanVersion.objects.select_for_update().get(pk=session.pk)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _emit_change(
    session: LiveSession, by: User | None, plan: BreakoutPlanVersion, current: list[BreakoutGroup], *,
    replace: bool = False, groups: list[dict[str, Any]] | None = None, unassigned: list[int] | None = None,
    moves: list[list[int]] | None = None, people: list[dict[str, Any]] | None = None,
) -> int:
    """Emit one `breakouts.changed`: the split's state and timing, and only what changed.

    `replace`: `groups` (each with `members`, user ids) and `unassigned` are the whole new
    assignment (a new split); otherwise `groups` holds changed fields of some groups (by
    `id`), `moves` [[user id, group id or 0]], `people` the cards of the people moved.
    Call inside the transaction that holds `plan` locked, after the change.
    """
    first = current[0]
    state = "closed" if first.closed_at else "open" if first.opened_at else "ready"
    base = plan.version
    plan.version = base + 1
    plan.save(update_fields=["version"])
    payload = {
        "version": plan.version, "base_version": base, "split": first.split, "state": state,
        "opened_at": _iso(first.opened_at), "closes_at": _iso(first.closes_at), "at": timezone.now().isoformat(),
        "replace": replace, "groups": groups or [], "unassigned": unassigned or [], "moves": moves or [],
        "people": people or [],
    }
    return room_event_emit(session_id=session.pk, type="breakouts.changed", payload=payload,
                           actor_id=by.pk if by else None)


def breakouts_split(
    *, by: User, session: LiveSession, group_size: int, mode: str = "mixed", groups: int | None = None,
    seed: int | None = None,
) -> int:
    """Make a new split of the main room's people into groups (not open yet).

    mode "mixed": groups of about `group_size` that mix schools and countries (mixing.py);
    mode "manual": `groups` empty groups, everyone unassigned, for the host to fill by hand.
    Refused while groups are open. Returns the sequence number of `breakouts.changed`.
    """
    _main_session(session)
    _manager(session=session, user=by)
    if mode not in ("mixed", "manual"):
        raise InvalidRequest(_("Choose mixed or by hand."), code="wrong_field")
    if not MIN_GROUP_SIZE <= group_size <= MAX_GROUP_SIZE:
        raise InvalidRequest(
            _("A group has between %(low)d and %(high)d people.") % {"low": MIN_GROUP_SIZE, "high": MAX_GROUP_SIZE},
            code="wrong_field",
        )
    people = people_for_split(session=session)
    if mode == "mixed":
        if not people:
            raise InvalidRequest(_("Nobody is in the room to split into groups yet."), code="nobody")
        plan = mixing.mixed_groups(people, group_size, seed=seed)
    else:
        count = groups if groups is not None else mixing.group_count(len(people), group_size)
        if not 1 <= count <= MAX_GROUPS:
            raise InvalidRequest(_("Between 1 and %(n)d groups.") % {"n": MAX_GROUPS}, code="wrong_field")
        plan = [[] for _ in range(count)]
    if len(plan) > MAX_GROUPS:
        raise InvalidRequest(_("Between 1 and %(n)d groups.") % {"n": MAX_GROUPS}, code="wrong_field")
    now = timezone.now()
    with transaction.atomic():
        LiveSession.objects.select_for_update(no_key=True).filter(pk=session.pk).first()  # one split at a time (no key: room events still reference it)
        version = _plan_lock(session)
        current = _current(session, lock=True)
        if any(group.opened_at and not group.closed_at for group in current):
            raise InvalidRequest(_("Close the open groups first."), code="groups_open")
        split = (current[0].split + 1) if current else 1
        number = (BreakoutGroup.objects.filter(parent=session).order_by("-number").values_list("number", flat=True).first() or 0)
        # Unopened groups of the previous split are replaced, not kept: they never met.
        unopened = [group.room_id for group in current if group.opened_at is None]
        if unopened:
            LiveSession.objects.filter(pk__in=unopened).delete()
        rooms = LiveSession.objects.bulk_create([
            LiveSession(
                kind=SessionKind.BREAKOUT, title=f"{session.title} · " + _("Group %(n)d") % {"n": i + 1},
                host_id=session.host_id, institution_id=session.institution_id, language=session.language,
                starts_at=now, ends_at=max(session.ends_at, now + dt.timedelta(hours=1)),
                capacity=max(len(ids), 1) + 10, audience=Audience.INVITED, status=SessionStatus.SCHEDULED,
                specialty=session.specialty,
            )
            for i, ids in enumerate(plan)
        ])
        rows = BreakoutGroup.objects.bulk_create([
            BreakoutGroup(parent=session, room=room, split=split, number=number + i + 1,
                          name=_("Group %(n)d") % {"n": i + 1}, created_at=now)
            for i, room in enumerate(rooms)
        ])
        BreakoutMember.objects.bulk_create([
            BreakoutMember(group=group, user_id=user_id, parent=session, split=split, added_at=now)
            for group, ids in zip(rows, plan, strict=True) for user_id in ids
        ])
        assigned = {user_id for ids in plan for user_id in ids}
        seq = _emit_change(
            session, by, version, rows, replace=True,
            groups=[
                {"id": group.pk, "number": group.number, "name": group.name, "url": reverse("room:room", args=[group.room_id]),
                 "members": list(ids), "report": ""}
                for group, ids in zip(rows, plan, strict=True)
            ],
            unassigned=[person.id for person in people if person.id not in assigned],
        )
    logger.info("session %s: split %s into %d groups (%s) by user %s", session.pk, split, len(plan), mode, by.pk)
    return seq


def breakout_move(*, by: User, session: LiveSession, user_id: int, group_id: int | None) -> int | None:
    """Put person `user_id` in group `group_id` (None: in no group), before or while groups are open.

    While open, the person's page follows: the main room's plan names their new group, and
    the old group's room tells them (`breakout.moved`) where to go. Returns the event's
    number, or None when the person is already there (nothing is stored).
    """
    _main_session(session)
    _manager(session=session, user=by)
    with transaction.atomic():
        version = _plan_lock(session)
        current = _current(session, lock=True)
        if not current or any(group.closed_at for group in current):
            raise InvalidRequest(_("Split the room into groups first."), code="no_groups")
        by_id = {group.pk: group for group in current}
        if group_id is not None and group_id not in by_id:
            raise InvalidRequest(_("There is no such group."), code="not_found")
        if not Participant.objects.filter(session=session, user_id=user_id, removed_at__isnull=True).exists():
            raise InvalidRequest(_("That person is not in this room."), code="not_found")
        split = current[0].split
        member = BreakoutMember.objects.filter(parent=session, split=split, user_id=user_id).select_related("group").first()
        old = member.group if member else None
        if (old.pk if old else None) == group_id:
            return None
        if group_id is None:
            BreakoutMember.objects.filter(parent=session, split=split, user_id=user_id).delete()
        elif member is not None:
            BreakoutMember.objects.filter(pk=member.pk).update(group_id=group_id, added_at=timezone.now())
        else:
            BreakoutMember.objects.create(group_id=group_id, user_id=user_id, parent=session, split=split)
        seq = _emit_change(session, by, version, current, moves=[[user_id, group_id or 0]], people=person_cards([user_id]))
        if old is not None and old.opened_at is not None:
            target = by_id[group_id].room_id if group_id is not None else session.pk
            room_event_emit(
                session_id=old.room_id, type="breakout.moved", actor_id=by.pk, visible_to=[user_id],
                payload={"user_id": user_id, "url": reverse("room:room", args=[target]), "at": timezone.now().isoformat()},
            )
    logger.info("session %s: user %s moved to group %s by user %s", session.pk, user_id, group_id, by.pk)
    return seq


def breakouts_open(*, by: User, session: LiveSession, minutes: int) -> int:
    """Open the current split's groups for `minutes`; everyone's page moves to their group."""
    _main_session(session)
    _manager(session=session, user=by)
    if not MIN_MINUTES <= minutes <= MAX_MINUTES:
        raise InvalidRequest(
            _("Groups stay open between %(low)d and %(high)d minutes.") % {"low": MIN_MINUTES, "high": MAX_MINUTES},
            code="wrong_field",
        )
    now = timezone.now()
    closes_at = now + dt.timedelta(minutes=minutes)
    with transaction.atomic():
        version = _plan_lock(session)
        current = _current(session, lock=True)
        if not current or any(group.closed_at for group in current):
            raise InvalidRequest(_("Split the room into groups first."), code="no_groups")
        if current[0].opened_at is not None:
            raise InvalidRequest(_("The groups are already open."), code="groups_open")
        ids = [group.pk for group in current]
        BreakoutGroup.objects.filter(pk__in=ids).update(opened_at=now, closes_at=closes_at)
        for group in current:
            group.opened_at, group.closes_at = now, closes_at
        LiveSession.objects.filter(pk__in=[group.room_id for group in current]).update(
            status=SessionStatus.LIVE, starts_at=now, ends_at=max(closes_at, now + dt.timedelta(minutes=5)) + dt.timedelta(minutes=30),
        )
        RoomState.objects.bulk_create(
            [RoomState(session_id=group.room_id, started_at=now) for group in current], ignore_conflicts=True,
        )
        seq = _emit_change(session, by, version, current)
    logger.info("session %s: %d groups opened for %d min by user %s", session.pk, len(current), minutes, by.pk)
    return seq


def breakouts_broadcast(*, by: User, session: LiveSession, text: str) -> int:
    """Send the host's message to the main room and to every open group's room."""
    _main_session(session)
    _manager(session=session, user=by)
    text = (text or "").strip()
    if not text:
        raise InvalidRequest(_("Write the message first."), code="wrong_field")
    if len(text) > MAX_MESSAGE_CHARS:
        raise InvalidRequest(_("A message is at most %(n)d characters.") % {"n": MAX_MESSAGE_CHARS}, code="too_long")
    payload = {"text": text, "by": {"id": by.pk, "name": by.name}, "at": timezone.now().isoformat()}
    with transaction.atomic():
        current = [group for group in _current(session) if group.opened_at and not group.closed_at]
        if not current:
            raise InvalidRequest(_("No group is open."), code="no_groups")
        seq = room_event_emit(session_id=session.pk, type="breakout.message", payload=payload, actor_id=by.pk)
        for group in current:
            room_event_emit(session_id=group.room_id, type="breakout.message", payload=payload, actor_id=by.pk)
    return seq


def breakouts_close(*, by: User | None, session: LiveSession) -> int | None:
    """Close the open groups (the host, or `by=None` when their time is up).

    Each group's shared notes are kept as its report for the main room; each group room
    ends (its sockets close, its page goes back to the main room). Returns the sequence
    number of `breakouts.changed`, or None when nothing was open (closing twice is harmless).

    Exactly once: every room process's timer may call this at the deadline; the plan's
    row lock lets one in, and the others then find the groups closed.
    """
    if by is not None:
        _main_session(session)
        _manager(session=session, user=by)
    now = timezone.now()
    back = reverse("room:room", args=[session.pk])
    with transaction.atomic():
        version = _plan_lock(session)
        current = [group for group in _current(session, lock=True) if group.opened_at and not group.closed_at]
        if not current:
            return None
        notes = dict(PeerNotes.objects.filter(session_id__in=[g.room_id for g in current]).values_list("session_id", "text"))
        for group in current:
            group.closed_at = now
            group.report = notes.get(group.room_id, "")
        BreakoutGroup.objects.bulk_update(current, ["closed_at", "report"])
        rooms = [group.room_id for group in current]
        RoomState.objects.filter(pk__in=rooms, ended_at__isnull=True).update(ended_at=now)
        LiveSession.objects.filter(pk__in=rooms).update(status=SessionStatus.ENDED)
        for room in rooms:
            room_event_emit(session_id=room, type="breakout.closed", payload={"return_url": back, "at": now.isoformat()},
                            actor_id=by.pk if by else None)
            room_event_emit(session_id=room, type="room.ended", payload={}, actor_id=by.pk if by else None)
        seq = _emit_change(session, by, version, current,
                           groups=[{"id": group.pk, "report": group.report} for group in current])
    logger.info("session %s: %d groups closed by %s", session.pk, len(current), f"user {by.pk}" if by else "the timer")
    return seq


def breakouts_close_due(*, session_id: int, now: dt.datetime | None = None) -> int | None:
    """Close the session's groups if their time is up (every room process's timer at the
    deadline, sessions/room/fanout.py; and any join of the main room after it)."""
    now = now or timezone.now()
    due = BreakoutGroup.objects.filter(
        parent_id=session_id, opened_at__isnull=False, closed_at__isnull=True, closes_at__lte=now
    ).exists()
    if not due:
        return None
    session = LiveSession.objects.get(pk=session_id)
    return breakouts_close(by=None, session=session)


def breakouts_deadlines(*, before: dt.datetime) -> list[tuple[str, dt.datetime]]:
    """Main sessions whose open groups close before `before`: [(session id, closes_at)].

    Read by every room process every few seconds (registry.register_deadlines): one
    lookup in an index of open groups only.
    """
    due: dict[int, dt.datetime] = {}
    rows = BreakoutGroup.objects.filter(closed_at__isnull=True, closes_at__isnull=False, closes_at__lte=before)
    for parent_id, closes_at in rows.values_list("parent_id", "closes_at"):
        if closes_at is not None:
            due[parent_id] = min(closes_at, due.get(parent_id, closes_at))
    return [(str(parent_id), closes_at) for parent_id, closes_at in due.items()]


def breakouts_deadline_run(*, key: str) -> int | None:
    """A room process's timer says session `key`'s groups are due to close."""
    return breakouts_close_due(session_id=int(key))
