"""Who is in a room: process heartbeats, socket rows, sweeps, and the presence events.

Why apart from the room's domain writes (`services.py`): this is the cluster's
bookkeeping, called by the fan-out's node (`fanout.py`) and by the consumer when a socket
opens or closes, never by a handler. The node does not import it: `sessions/apps.py`
hands the node these functions at start-up (`fanout.install_hooks`), so the transport
stays below the domain and nothing imports in a circle.

All functions are synchronous (called through `database_sync_to_async`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from server.people.models import User
from sessions.models import Attendance, LobbyRequest, LobbyStatus, Participant, RoomConnection, RoomProcess, RoomState

from .events import room_event_emit
from .fanout import ConnectionRow
from .selectors import participant_cards, room_moderator_ids

logger = logging.getLogger(__name__)


def room_state_of(*, session_id: int) -> RoomState:
    state, _created = RoomState.objects.get_or_create(session_id=session_id)
    return state



def room_process_beat(*, process_id: str) -> bool:
    """Keep this process's connections alive (one row per process, not per socket).

    Returns True when the row was missing: the process is new, or another process swept
    it as dead (its beats stopped for longer than the TTL, e.g. its database thread was
    busy or the machine paused it) and deleted its connection rows with it. A live process
    must then put its sockets back (`room_connections_restore`), or its people silently
    vanish from the room's presence.
    """
    if RoomProcess.objects.filter(pk=process_id).update(last_seen=timezone.now()):
        return False
    RoomProcess.objects.get_or_create(pk=process_id)
    return True


def room_connections_restore(*, process_id: str, rows: list[ConnectionRow]) -> None:
    """Put back the connection rows of this process's live sockets after it was swept.

    Idempotent (keyed by channel name). The caller re-checks presence of these people
    afterwards, and deletes again the rows of sockets that closed meanwhile.
    """
    room_process_beat(process_id=process_id)
    if not rows:
        return
    with transaction.atomic():
        RoomConnection.objects.bulk_create(
            [
                RoomConnection(
                    channel_name=row.channel_name, process_id=process_id, session_id=row.session_id,
                    user_id=row.user_id, in_lobby=row.in_lobby,
                )
                for row in rows
            ],
            update_conflicts=True, unique_fields=["channel_name"], update_fields=["process", "session", "user", "in_lobby"],
        )
    logger.info("restored %d room connections of process %s after it was swept", len(rows), process_id)


def room_connection_open(
    *, session_id: int, user: User, role: str, channel_name: str, process_id: str, in_lobby: bool
) -> bool:
    """Record one open socket; an admitted person gets their participant row.

    Returns True if this process had been swept (see `room_process_beat`): its other
    sockets' rows are gone and must be restored.
    """
    swept = room_process_beat(process_id=process_id)
    with transaction.atomic():
        if not in_lobby:
            participant, created = Participant.objects.get_or_create(
                session_id=session_id, user=user, defaults={"role": role}
            )
            if not created and participant.role != role and role == "host":
                Participant.objects.filter(pk=participant.pk).update(role=role)
        RoomConnection.objects.update_or_create(
            channel_name=channel_name,
            defaults={"process_id": process_id, "session_id": session_id, "user": user, "in_lobby": in_lobby},
        )
    return swept


def room_connection_close(*, channel_name: str) -> tuple[int, int, bool] | None:
    """Forget one socket. Returns (session id, user id, was in lobby) or None."""
    row = RoomConnection.objects.filter(channel_name=channel_name).values_list("session_id", "user_id", "in_lobby").first()
    if row is None:
        return None
    RoomConnection.objects.filter(channel_name=channel_name).delete()
    session_id, user_id, in_lobby = row
    if in_lobby and not RoomConnection.objects.filter(session_id=session_id, user_id=user_id, in_lobby=True).exists():
        request = LobbyRequest.objects.filter(session_id=session_id, user_id=user_id, status=LobbyStatus.WAITING).first()
        if request is not None:
            room_event_emit(
                session_id=session_id, type="lobby.left", payload={"user_id": user_id},
                visible_to=room_moderator_ids(session_id=session_id),
            )
    return session_id, user_id, in_lobby


def room_presence_flush(*, session_id: int, user_ids: Iterable[int]) -> int | None:
    """Emit one `presence` event for people whose presence may have changed.

    Reads the truth (open connections) under the room's row lock, so flushes from several
    processes about the same person end in the right state whatever their order.
    Attendance rows open and close here. Returns the event's number, or None if nothing
    changed.
    """
    ids = set(user_ids)
    if not ids:
        return None
    with transaction.atomic():
        room_state_of(session_id=session_id)
        RoomState.objects.select_for_update().filter(pk=session_id).first()
        present = set(
            RoomConnection.objects.filter(session_id=session_id, user_id__in=ids, in_lobby=False).values_list("user_id", flat=True)
        )
        attending = set(
            Attendance.objects.filter(session_id=session_id, user_id__in=ids, left_at__isnull=True).values_list("user_id", flat=True)
        )
        joined = present - attending
        left = (ids - present) & attending
        if not joined and not left:
            return None
        now = timezone.now()
        Attendance.objects.bulk_create([Attendance(session_id=session_id, user_id=uid, joined_at=now) for uid in joined])
        if left:
            Attendance.objects.filter(session_id=session_id, user_id__in=left, left_at__isnull=True).update(left_at=now)
        cards = participant_cards(session_id=session_id, user_ids=joined) if joined else []
        return room_event_emit(
            session_id=session_id, type="presence", payload={"joined": cards, "left": sorted(left)}
        )


def room_connections_sweep(*, ttl_seconds: float) -> dict[int, set[int]]:
    """Drop the sockets of processes that stopped beating; return {session: user ids} to re-check."""
    cutoff = timezone.now() - timedelta(seconds=ttl_seconds)
    if not RoomProcess.objects.filter(last_seen__lt=cutoff).exists():
        return {}
    affected: dict[int, set[int]] = {}
    with transaction.atomic():
        # The stale rows are locked (and re-checked) before their connections go: a beat
        # of a process that is alive after all either lands first (the process is not
        # stale any more) or waits and then finds its row deleted, which tells it to
        # restore its connections. Deleting connections but keeping the row would lose
        # them without the process ever knowing.
        stale = list(
            RoomProcess.objects.select_for_update(skip_locked=True).filter(last_seen__lt=cutoff).values_list("pk", flat=True)
        )
        if not stale:
            return {}
        unannounced: dict[tuple[int, int], Any] = {}
        for session_id, user_id, in_lobby, connected_at in (
            RoomConnection.objects.filter(process_id__in=stale).values_list("session_id", "user_id", "in_lobby", "connected_at")
        ):
            affected.setdefault(session_id, set()).add(user_id)
            if not in_lobby:
                key = (session_id, user_id)
                unannounced[key] = min(connected_at, unannounced.get(key, connected_at))
        if unannounced:
            _attendance_of_the_unannounced(unannounced, stale)
        RoomConnection.objects.filter(process_id__in=stale).delete()
        RoomProcess.objects.filter(pk__in=stale).delete()
    logger.info("swept %d stale room processes", len(stale))
    return affected


def _attendance_of_the_unannounced(connections: dict[tuple[int, int], Any], stale: list[str]) -> None:
    """Open the attendance that a dead process had not recorded yet, so that it is closed.

    A process records presence a moment after a socket opens (joins are coalesced). If it
    dies in that moment (or is too busy to flush before it is swept), the person was in
    the room (they may have chatted) but has no attendance, and the sweep's flush would
    find nothing to close: the room would never show them leaving and the record would
    lose their visit. So the sweeper does what the process did not, under the rooms' row
    locks like `room_presence_flush`; the following flush then closes these rows (a
    `presence` event with them in `left`). People still connected through a live process
    are left to that process's own flush, which announces them.
    """
    session_ids = sorted({session_id for session_id, _user in connections})
    user_ids = {user_id for _session, user_id in connections}
    list(RoomState.objects.select_for_update().filter(pk__in=session_ids).order_by("pk").values_list("pk", flat=True))
    known = set(
        Attendance.objects.filter(session_id__in=session_ids, user_id__in=user_ids, left_at__isnull=True)
        .values_list("session_id", "user_id")
    ) | set(
        RoomConnection.objects.filter(session_id__in=session_ids, user_id__in=user_ids, in_lobby=False)
        .exclude(process_id__in=stale).values_list("session_id", "user_id")
    )
    visits = [
        Attendance(session_id=session_id, user_id=user_id, joined_at=connected_at)
        for (session_id, user_id), connected_at in connections.items() if (session_id, user_id) not in known
    ]
    if visits:
        Attendance.objects.bulk_create(visits)
        logger.info("recorded %d visits that swept processes had not recorded yet", len(visits))


def room_orphans() -> dict[int, set[int]]:
    """Open attendance of people with no socket left (e.g. after the whole cluster restarted)."""
    sockets = RoomConnection.objects.filter(session_id=OuterRef("session_id"), user_id=OuterRef("user_id"), in_lobby=False)
    rows = (
        Attendance.objects.filter(left_at__isnull=True).annotate(connected=Exists(sockets))
        .filter(connected=False).values_list("session_id", "user_id")[:1000]
    )
    affected: dict[int, set[int]] = {}
    for session_id, user_id in rows:
        affected.setdefault(session_id, set()).add(user_id)
    return affected
