"""Delivering room events to sockets, in order, once, across processes.

Why one long module (about 740 lines): the node, its hubs and the backends are one
algorithm — ordered delivery with gap repair and catch-up — whose invariants (the next
sequence number per hub, what a resume may miss) must be read together.

Design (measured against the alternatives in bench/room_fanout.py, docs/benchmarks.md):

- Every process runs one `RoomNode`. It holds a `RoomHub` per room with local sockets.
- An event is published ONCE to the cluster, whatever the size of the room: with Redis,
  one PUBLISH on a single channel that every process subscribes to; without Redis,
  straight to the local node. Each process then fans out to its own sockets, serialising
  the frame once (not per socket). Stock channels `group_send` on the core layer costs a
  Redis write per member per message instead; the pub/sub layer costs a decode and a
  queue hop per member. `ROOM_FANOUT=group` keeps the stock path for comparison.
- The database is the source of truth (events are stored before they are published), so
  live delivery may lose nothing durable: each hub delivers sequence numbers in order, waits
  briefly for a missing number and then reads it from the database, drops duplicates, and
  polls the room's last number every few seconds to catch a lost tail (e.g. while Redis
  restarts). Clients do the same across reconnects with `?since=`.
- Presence: one heartbeat row per process (`RoomProcess`); connections of a process that
  stops beating are swept by any other process within `ROOM_PRESENCE_TTL_SECONDS` plus a
  sweep interval (under 30 s by default). A process that was only stalled (its beats
  late past the TTL) finds its row gone at its next beat and puts its sockets' rows back,
  so nobody's presence is lost for good. Joins and leaves are coalesced into one
  `presence` event per room per short window; poll counts into `poll.counts` messages.
- Deadlines (breakout groups closing on time): the deadline lives in the database; every
  node reads the ones due soon at each sweep and sets a timer for each, and whichever
  node's timer fires first does the work under a row lock that the others then find
  done. So a deadline is kept to within a fraction of a second whichever process opened
  it or died meanwhile, with no scheduler process of its own (`deadline_run` below).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from channels.db import database_sync_to_async
from django.conf import settings

if TYPE_CHECKING:
    from sessions.models import RoomEvent

logger = logging.getLogger(__name__)


def _setting(name: str, default: float) -> float:
    """A number from settings (server/settings/base.py reads each from the environment)."""
    return float(getattr(settings, name, default))


def db_parallel(func: Any) -> Any:
    """`database_sync_to_async(func)`, on a pool of threads when the database allows it.

    Channels runs every ORM call of a process on ONE thread (thread_sensitive), so 1,000
    joiners or voters queue behind each other's round trips and commits. Calls that need
    no thread affinity (read-only snapshots, idempotent votes) run on the loop's thread
    pool on PostgreSQL instead, where concurrent commits also share one WAL flush.
    SQLite (tests, one writer anyway) keeps the single thread.
    """
    from django.db import connection

    return database_sync_to_async(func, thread_sensitive=connection.vendor != "postgresql")


def fanout_mode() -> str:
    """"hub" (one message per event per cluster, local fan-out) or "group" (stock group_send)."""
    return str(getattr(settings, "ROOM_FANOUT", "hub"))


def redis_channel() -> str:
    default = f"{getattr(settings, 'REDIS_NAMESPACE', 'openrounds')}:room-events"
    return str(getattr(settings, "ROOM_FANOUT_CHANNEL", None) or default)


# --- envelopes -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Envelope:
    """One message to a room's sockets, serialised once.

    seq is None for ephemeral messages (poll counts), which are not stored and not replayed.
    target is the user an event is about (consumers react when it is them).
    """

    session_id: int
    seq: int | None
    type: str
    target: int | None
    visible_to: frozenset[int] | None
    frame: str

    def visible_for(self, user_id: int) -> bool:
        return self.visible_to is None or user_id in self.visible_to

    def encode(self) -> bytes:
        header = json.dumps(
            [self.session_id, self.seq, self.type, self.target, sorted(self.visible_to) if self.visible_to is not None else None],
            separators=(",", ":"),
        )
        return (header + "\n" + self.frame).encode()

    @classmethod
    def decode(cls, data: bytes | str) -> Envelope:
        text = data.decode() if isinstance(data, bytes) else data
        header, frame = text.split("\n", 1)
        session_id, seq, type_, target, visible = json.loads(header)
        return cls(session_id, seq, type_, target, frozenset(visible) if visible is not None else None, frame)


@dataclass(frozen=True)
class ConnectionRow:
    """What a live socket of this process needs in `RoomConnection` (see `presence.room_connections_restore`)."""

    channel_name: str
    session_id: int
    user_id: int
    in_lobby: bool


@dataclass(frozen=True)
class HubHooks:
    """The room-domain functions the node calls; `sessions/apps.py` installs them at start-up.

    Why handed in, not imported: the transport sits below the room's domain (presence,
    polls, snapshots) and must not import it back (docs/architecture.md).
    """

    process_beat: Callable[..., bool]
    connections_restore: Callable[..., None]
    connection_close: Callable[..., Any]
    connections_sweep: Callable[..., dict[int, set[int]]]
    orphans: Callable[[], dict[int, set[int]]]
    presence_flush: Callable[..., Any]
    poll_counts_take: Callable[..., dict[str, Any]]
    #: Every event this process learns about (keeps the joiners' shared snapshot honest).
    event_seen: Callable[..., None]
    #: Deadlines due within `horizon_seconds`: [(key, unix time)] (registry.room_deadlines_upcoming).
    deadlines_upcoming: Callable[..., list[tuple[str, float]]] | None = None
    #: Do what deadline `key` asks if it is due and not done yet; every node may call it
    #: at once, the database lets one act (registry.room_deadline_run).
    deadline_run: Callable[..., Any] | None = None


_HOOKS: HubHooks | None = None


def install_hooks(hooks: HubHooks) -> None:
    global _HOOKS
    _HOOKS = hooks


def hooks() -> HubHooks:
    if _HOOKS is None:
        raise RuntimeError("the room node's hooks are not installed (sessions/apps.py calls fanout.install_hooks)")
    return _HOOKS


def event_frame_dict(event: RoomEvent) -> dict[str, Any]:
    """An event as clients receive it (the same shape live and on replay)."""
    return {
        "type": event.type, "seq": event.seq, "at": event.created_at.isoformat(), "actor": event.actor_id,
        "data": event.payload,
    }


def envelope_of(event: RoomEvent) -> Envelope:
    payload = event.payload or {}
    target = payload.get("user_id") if isinstance(payload.get("user_id"), int) else None
    return Envelope(
        event.session_id, event.seq, event.type, target,
        frozenset(event.visible_to) if event.visible_to is not None else None,
        json.dumps(event_frame_dict(event), separators=(",", ":")),
    )


def ephemeral(session_id: int, type: str, data: dict[str, Any], visible_to: Iterable[int] | None = None) -> Envelope:
    frame = json.dumps({"type": type, "data": data}, separators=(",", ":"))
    return Envelope(session_id, None, type, None, frozenset(visible_to) if visible_to is not None else None, frame)


class RoomSocket(Protocol):
    """What a hub needs from a consumer."""

    user_id: int
    in_lobby: bool

    async def room_deliver(self, envelope: Envelope) -> None: ...

    def connection_row(self) -> ConnectionRow | None:
        """This socket's `RoomConnection` row, if it has one (to restore it after a sweep)."""
        ...


# --- one room in one process -----------------------------------------------------------


class RoomHub:
    """The sockets of one room in this process, and the in-order delivery gate."""

    #: How long to wait for a missing sequence number before reading it from the database.
    GAP_WAIT = 0.1

    def __init__(self, node: RoomNode, session_id: int) -> None:
        self.node = node
        self.session_id = session_id
        self.sockets: set[RoomSocket] = set()
        self.delivered: int | None = None  # None until initialised from the database
        self.pending: dict[int, Envelope] = {}
        self._gap_timer: asyncio.TimerHandle | None = None
        self._filling = False
        self._seen_behind: int | None = None
        self.ready = asyncio.Event()

    async def start(self) -> None:
        from sessions.models import RoomState

        last = await database_sync_to_async(
            lambda: RoomState.objects.filter(pk=self.session_id).values_list("last_seq", flat=True).first()
        )()
        self.delivered = max(last or 0, self.delivered or 0)
        for seq in sorted(s for s in self.pending if s <= self.delivered):
            del self.pending[seq]
        self.ready.set()
        await self._drain()

    async def receive(self, envelope: Envelope) -> None:
        note_event(envelope)
        if envelope.seq is None:
            await self._fanout(envelope)
            return
        if self.delivered is not None and envelope.seq <= self.delivered:
            return
        self.pending[envelope.seq] = envelope
        if self.delivered is not None:
            await self._drain()

    async def _drain(self) -> None:
        assert self.delivered is not None
        while self.delivered + 1 in self.pending:
            envelope = self.pending.pop(self.delivered + 1)
            self.delivered += 1
            await self._fanout(envelope)
        if self.pending and self._gap_timer is None and not self._filling:
            self._gap_timer = asyncio.get_running_loop().call_later(self.GAP_WAIT, self._start_fill)
        elif not self.pending and self._gap_timer is not None:
            self._gap_timer.cancel()
            self._gap_timer = None

    def _start_fill(self) -> None:
        self._gap_timer = None
        if self.pending:
            self.node.spawn(self.fill(max(self.pending)))

    async def fill(self, upto: int) -> None:
        """Read the events after the last delivered one (up to `upto`) from the database."""
        if self._filling or self.delivered is None or upto <= self.delivered:
            return
        self._filling = True
        try:
            envelopes = await database_sync_to_async(_stored_envelopes)(self.session_id, self.delivered, upto)
            for envelope in envelopes:
                if envelope.seq > self.delivered:
                    self.pending.setdefault(envelope.seq, envelope)
            # Numbers that are not in the database were never committed (a rolled back
            # transaction cannot burn one: the counter is in the same transaction).
        except Exception:
            logger.warning("room %s: reading missed events failed", self.session_id, exc_info=True)
        finally:
            self._filling = False
        await self._drain()

    async def check_behind(self, last_seq: int) -> None:
        """Called by the catch-up loop: deliver a tail that was published but never arrived."""
        if self.delivered is None or last_seq <= self.delivered:
            self._seen_behind = None
            return
        if self._seen_behind is not None and self.delivered < self._seen_behind:
            await self.fill(last_seq)
        self._seen_behind = last_seq

    async def _fanout(self, envelope: Envelope) -> None:
        for sock in list(self.sockets):
            if sock.in_lobby and envelope.visible_to is None:
                continue
            if not envelope.visible_for(sock.user_id):
                continue
            try:
                await sock.room_deliver(envelope)
            except Exception:
                logger.warning("room %s: delivery to a socket failed", self.session_id, exc_info=True)


def _stored_envelopes(session_id: int, after: int, upto: int) -> list[Envelope]:
    from sessions.models import RoomEvent

    return [envelope_of(e) for e in RoomEvent.objects.filter(session_id=session_id, seq__gt=after, seq__lte=upto).order_by("seq")]


# --- transports between processes ------------------------------------------------------


class LocalBackend:
    """One process (no REDIS_URL): publishing is delivering."""

    def __init__(self, node: RoomNode) -> None:
        self.node = node

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, envelope: Envelope) -> None:
        await self.node.receive(envelope)


class RedisBackend:
    """One Redis channel for every room: one PUBLISH per event per cluster.

    Each process subscribes once and drops the events of rooms it has no socket for (a
    header parse). A dropped Redis connection is re-established with back-off, and every
    hub then catches up from the database.
    """

    def __init__(self, node: RoomNode, url: str) -> None:
        import redis.asyncio as aioredis

        self.node = node
        self.channel = redis_channel()
        self.client = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_keepalive=True)
        self.connected = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._read())
        try:
            await asyncio.wait_for(self.connected.wait(), timeout=3)
        except TimeoutError:
            logger.warning("room fan-out: Redis is not reachable yet; rooms catch up from the database")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        try:
            await self.client.aclose()
        except Exception:
            pass

    async def publish(self, envelope: Envelope) -> None:
        try:
            await self.client.publish(self.channel, envelope.encode())
        except Exception:
            # Stored already: every hub finds it in the database (catch-up loop).
            logger.warning("room %s: publishing event %s to Redis failed", envelope.session_id, envelope.seq)

    async def _read(self) -> None:
        backoff = 0.2
        first = True
        while True:
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self.connected.set()
                if not first:
                    logger.info("room fan-out: Redis connection is back; catching up from the database")
                    self.node.spawn(self.node.catch_up(force=True))
                first = False
                backoff = 0.2
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=10.0)
                    if message is None:
                        await pubsub.ping()
                        continue
                    if message.get("type") != "message":
                        continue
                    try:
                        envelope = Envelope.decode(message["data"])
                    except Exception:
                        logger.warning("room fan-out: undecodable message on %s", self.channel)
                        continue
                    hub = self.node.hubs.get(envelope.session_id)
                    if hub is not None:
                        await hub.receive(envelope)
            except asyncio.CancelledError:
                await _quiet_close(pubsub)
                raise
            except Exception as exc:
                self.connected.clear()
                logger.warning("room fan-out: Redis subscription lost (%s); retrying", type(exc).__name__)
                await _quiet_close(pubsub)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)


async def _quiet_close(pubsub: Any) -> None:
    try:
        await pubsub.aclose()
    except Exception:
        pass


class GroupBackend:
    """The stock Channels path (baseline): `group_send` to a group with one member per socket."""

    def __init__(self, node: RoomNode) -> None:
        self.node = node

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, envelope: Envelope) -> None:
        from channels.layers import get_channel_layer

        try:
            await get_channel_layer().group_send(
                group_name(envelope.session_id), {"type": "room.frame", "envelope": envelope.encode().decode()}
            )
        except Exception:
            logger.warning("room %s: group_send of event %s failed", envelope.session_id, envelope.seq)


def group_name(session_id: int) -> str:
    return f"room.{session_id}"


# --- the process -----------------------------------------------------------------------


class RoomNode:
    """This process's part of the room fabric: hubs, transport, presence and coalescing."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.thread_id = threading.get_ident()
        self.process_id = f"{socket.gethostname()[:16]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.mode = fanout_mode()
        self.hubs: dict[int, RoomHub] = {}
        self.tasks: set[asyncio.Task] = set()
        self._presence: dict[int, set[int]] = {}
        self._presence_timers: dict[int, asyncio.TimerHandle] = {}
        self._poll_timers: dict[int, asyncio.TimerHandle] = {}
        self._deadline_timers: dict[str, tuple[float, asyncio.TimerHandle]] = {}
        self._outbox: asyncio.Queue[Envelope] = asyncio.Queue()
        self._restoring: asyncio.Task | None = None
        self._restore_again = False
        self.started = False
        self._start_lock = asyncio.Lock()
        redis_url = getattr(settings, "REDIS_URL", "")
        if self.mode == "group":
            self.backend: LocalBackend | RedisBackend | GroupBackend = GroupBackend(self)
        elif redis_url:
            self.backend = RedisBackend(self, redis_url)
        else:
            self.backend = LocalBackend(self)

    # lifecycle

    async def ensure_started(self) -> None:
        if self.started:
            return
        async with self._start_lock:
            if self.started:
                return
            await database_sync_to_async(hooks().process_beat)(process_id=self.process_id)
            await self.backend.start()
            self.spawn(self._publisher())
            self.spawn(self._every(_setting("ROOM_HEARTBEAT_SECONDS", 5), self._beat))
            self.spawn(self._every(_setting("ROOM_SWEEP_SECONDS", 5), self._sweep))
            self.spawn(self._every(_setting("ROOM_CATCHUP_SECONDS", 1.5), self.catch_up))
            if hooks().deadlines_upcoming is not None:
                self.spawn(self._deadlines_first())
                self.spawn(self._every(_setting("ROOM_SWEEP_SECONDS", 5), self._deadlines))
            self.started = True
            logger.info("room node %s started (%s, %s)", self.process_id, self.mode, type(self.backend).__name__)

    async def stop(self) -> None:
        for timer in [*self._presence_timers.values(), *self._poll_timers.values()]:
            timer.cancel()
        for _when, timer in self._deadline_timers.values():
            timer.cancel()
        self._deadline_timers.clear()
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        await self.backend.stop()
        self.started = False

    def spawn(self, coro: Any) -> asyncio.Task:
        task = self.loop.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _every(self, seconds: float, job: Any) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("room node %s: %s failed", self.process_id, getattr(job, "__name__", job), exc_info=True)

    async def _beat(self) -> None:
        # Not on the single ORM thread: a beat queued behind slow work (a presence flush
        # waiting on the room's lock, a large snapshot) would make a live process look dead.
        if await db_parallel(hooks().process_beat)(process_id=self.process_id):
            logger.warning("room node %s was swept as stale while alive; restoring its connections", self.process_id)
            self.restore_soon()

    def restore_soon(self) -> None:
        """This process was swept as dead while alive: put its sockets' rows back (once at a time)."""
        if self._restoring is not None and not self._restoring.done():
            self._restore_again = True
            return
        self._restoring = self.spawn(self._restore())

    async def _restore(self) -> None:
        while True:
            self._restore_again = False
            live = {
                row.channel_name: (row, sock)
                for hub in list(self.hubs.values()) for sock in list(hub.sockets)
                if (row := _row_of(sock)) is not None
            }
            try:
                await db_parallel(hooks().connections_restore)(
                    process_id=self.process_id, rows=[row for row, _sock in live.values()]
                )
            except Exception:
                logger.warning("room node %s: restoring connections failed; retrying", self.process_id, exc_info=True)
                await asyncio.sleep(1)
                self._restore_again = True
            else:
                for channel_name, (row, sock) in live.items():
                    hub = self.hubs.get(row.session_id)
                    if hub is None or sock not in hub.sockets or _row_of(sock) is None:
                        # Closed while we restored it: its own close may have run first.
                        await db_parallel(hooks().connection_close)(channel_name=channel_name)
                    if not row.in_lobby:
                        self.presence_changed(row.session_id, row.user_id)
            if not self._restore_again:
                return

    async def _sweep(self) -> None:
        ttl = _setting("ROOM_PRESENCE_TTL_SECONDS", 20)
        affected = await database_sync_to_async(hooks().connections_sweep)(ttl_seconds=ttl)
        orphans = await database_sync_to_async(hooks().orphans)()
        for session_id, users in orphans.items():
            affected.setdefault(session_id, set()).update(users)
        for session_id, users in affected.items():
            for user_id in users:
                self.presence_changed(session_id, user_id)

    async def _deadlines_first(self) -> None:
        try:
            await self._deadlines()
        except Exception:
            logger.warning("room node %s: reading deadlines failed", self.process_id, exc_info=True)

    async def _deadlines(self) -> None:
        """Set a timer for every deadline due before the next sweep or two (in every node).

        A deadline already past (its process died, the cluster was down) fires at once.
        The timer fires a little after the deadline so that the work finds it due.
        """
        upcoming = hooks().deadlines_upcoming
        if upcoming is None:
            return
        horizon = 2 * _setting("ROOM_SWEEP_SECONDS", 5) + 1
        for key, when in await db_parallel(upcoming)(horizon_seconds=horizon):
            known = self._deadline_timers.get(key)
            if known is not None and known[0] == when:
                continue
            if known is not None:
                known[1].cancel()
            delay = max(0.0, when - time.time()) + self.DEADLINE_MARGIN
            self._deadline_timers[key] = (when, self.loop.call_later(delay, self._deadline_fire, key))

    #: Seconds after a deadline that its timer fires (clocks of processes on one host or NTP).
    DEADLINE_MARGIN = 0.05

    def _deadline_fire(self, key: str) -> None:
        self._deadline_timers.pop(key, None)
        self.spawn(self._deadline_run(key))

    async def _deadline_run(self, key: str) -> None:
        run = hooks().deadline_run
        if run is None:
            return
        try:
            await db_parallel(run)(key=key)
        except Exception:
            # Still due in the database: the next sweep sets its timer again.
            logger.warning("room node %s: deadline %s failed", self.process_id, key, exc_info=True)

    async def catch_up(self, force: bool = False) -> None:
        """Compare every hub with the room's last number in the database."""
        if not self.hubs:
            return
        from sessions.models import RoomState

        ids = list(self.hubs)
        rows = await database_sync_to_async(lambda: dict(RoomState.objects.filter(pk__in=ids).values_list("pk", "last_seq")))()
        for session_id, last_seq in rows.items():
            hub = self.hubs.get(session_id)
            if hub is None:
                continue
            if force:
                await hub.fill(last_seq)
            else:
                await hub.check_behind(last_seq)

    # sockets

    async def register(self, session_id: int, sock: RoomSocket, channel_name: str | None = None) -> None:
        """Start delivering room `session_id`'s messages to `sock` (call before reading the snapshot)."""
        await self.ensure_started()
        if self.mode == "group":
            from channels.layers import get_channel_layer

            await get_channel_layer().group_add(group_name(session_id), channel_name)
        hub = self.hubs.get(session_id)
        if hub is None:
            hub = self.hubs[session_id] = RoomHub(self, session_id)
            hub.sockets.add(sock)
            await hub.start()
        else:
            hub.sockets.add(sock)
            await hub.ready.wait()

    async def unregister(self, session_id: int, sock: RoomSocket, channel_name: str | None = None) -> None:
        hub = self.hubs.get(session_id)
        if hub is not None:
            hub.sockets.discard(sock)
            if not hub.sockets:
                del self.hubs[session_id]
        if self.mode == "group" and channel_name:
            from channels.layers import get_channel_layer

            try:
                await get_channel_layer().group_discard(group_name(session_id), channel_name)
            except Exception:
                pass

    async def receive(self, envelope: Envelope) -> None:
        hub = self.hubs.get(envelope.session_id)
        if hub is not None:
            await hub.receive(envelope)

    # publishing

    def publish_nowait(self, envelope: Envelope) -> None:
        self._outbox.put_nowait(envelope)

    async def publish(self, envelope: Envelope) -> None:
        self._outbox.put_nowait(envelope)

    async def _publisher(self) -> None:
        """Publish in commit order (one task, so events of this process never overtake)."""
        while True:
            envelope = await self._outbox.get()
            try:
                await self.backend.publish(envelope)
            except Exception:
                logger.warning("room %s: publishing failed", envelope.session_id, exc_info=True)

    # coalescing

    def presence_changed(self, session_id: int, user_id: int) -> None:
        """Someone's presence in a room may have changed; one event per room per window."""
        self._presence.setdefault(session_id, set()).add(user_id)
        if session_id not in self._presence_timers:
            # Small rooms see joins at once; a large one gets one event per second at
            # most (a join storm of 1,000 would otherwise be ~7 events/s to everyone).
            hub = self.hubs.get(session_id)
            size = len(hub.sockets) if hub is not None else 0
            delay = max(_setting("ROOM_PRESENCE_COALESCE_SECONDS", 0.15), min(1.0, size / 300))
            self._presence_timers[session_id] = self.loop.call_later(delay, self._flush_presence_soon, session_id)

    def _flush_presence_soon(self, session_id: int) -> None:
        self._presence_timers.pop(session_id, None)
        users = self._presence.pop(session_id, set())
        if users:
            self.spawn(self._flush_presence(session_id, users))

    async def _flush_presence(self, session_id: int, users: set[int]) -> None:
        try:
            await database_sync_to_async(hooks().presence_flush)(session_id=session_id, user_ids=users)
        except Exception:
            logger.warning("room %s: presence flush failed; retrying", session_id, exc_info=True)
            await asyncio.sleep(1)
            for user_id in users:
                self.presence_changed(session_id, user_id)

    def poll_counts_soon(self, session_id: int, poll_id: int) -> None:
        """A vote was stored; send the poll's counts to the room within a short window."""
        if poll_id not in self._poll_timers:
            delay = _setting("ROOM_POLL_COALESCE_SECONDS", 0.25)
            self._poll_timers[poll_id] = self.loop.call_later(delay, self._flush_poll_soon, session_id, poll_id)

    def _flush_poll_soon(self, session_id: int, poll_id: int) -> None:
        self._poll_timers.pop(poll_id, None)
        self.spawn(self._flush_poll(session_id, poll_id))

    async def _flush_poll(self, session_id: int, poll_id: int) -> None:
        counts = await db_parallel(hooks().poll_counts_take)(poll_id=poll_id)
        if counts:
            await self.publish(ephemeral(session_id, "poll.counts", counts))


def _row_of(sock: RoomSocket) -> ConnectionRow | None:
    row_of = getattr(sock, "connection_row", None)  # sockets of benchmarks have no row
    return row_of() if row_of is not None else None


_NODE: RoomNode | None = None
_NODE_LOCK = threading.Lock()


def get_node() -> RoomNode:
    """This process's node (created on first use in the running event loop)."""
    global _NODE
    loop = asyncio.get_running_loop()
    with _NODE_LOCK:
        if _NODE is None or _NODE.loop is not loop:
            _NODE = RoomNode(loop)
        return _NODE


async def node_shutdown() -> None:
    """Stop this process's node (tests; a process exiting needs nothing)."""
    global _NODE
    node, _NODE = _NODE, None
    if node is not None and node.loop is asyncio.get_running_loop():
        await node.stop()


def note_event(envelope: Envelope) -> None:
    """Every event this process learns about: keep the joiners' shared snapshot honest."""
    if envelope.seq is not None and _HOOKS is not None:
        _HOOKS.event_seen(session_id=envelope.session_id, event_type=envelope.type)


def publish_after_commit(envelope: Envelope) -> None:
    """Hand a stored event to the fan-out; called by `room_event_emit` after commit (any thread)."""
    note_event(envelope)
    node = _NODE
    if node is not None and node.started and not node.loop.is_closed():
        if threading.get_ident() == node.thread_id:
            node.publish_nowait(envelope)
        else:
            node.loop.call_soon_threadsafe(node.publish_nowait, envelope)
        return
    _publish_without_node(envelope)


def _publish_without_node(envelope: Envelope) -> None:
    """A process without room sockets (a worker, a shell): publish so the others deliver."""
    redis_url = getattr(settings, "REDIS_URL", "")
    try:
        if fanout_mode() == "group":
            from asgiref.sync import async_to_sync
            from channels.layers import get_channel_layer

            async_to_sync(get_channel_layer().group_send)(
                group_name(envelope.session_id), {"type": "room.frame", "envelope": envelope.encode().decode()}
            )
        elif redis_url:
            import redis

            client = redis.Redis.from_url(redis_url, socket_connect_timeout=2)
            try:
                client.publish(redis_channel(), envelope.encode())
            finally:
                client.close()
    except Exception:
        logger.warning("room %s: event %s not published (stored; rooms catch up)", envelope.session_id, envelope.seq)
