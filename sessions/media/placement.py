"""Which media worker carries a session: a registry of live workers in Redis, placement by load.

Why: the media of a session lived on `session_id % MEDIA_WORKER_COUNT`, a static choice
that could not add, drain or replace a worker, and that left every session of a dead
worker without audio and video. Now each media worker announces itself and its load in
Redis with a heartbeat (a key that expires when the heartbeats stop), and a session is
placed on the least loaded live worker that is not draining, when its first media
message arrives. A placement on a worker that died or drains is replaced the same way;
the worker that notices a dead one (the first to remove it from the index) tells the
rooms of its sessions to reconnect their media (`media.moved`), so browsers renegotiate
with the new worker by themselves.

Since the cascade (`cascade.py`), a session may span several workers: each
*participant* is placed, preferring the workers that already carry the session while one
of them has room (`MEDIA_WORKER_SOFT_LIMIT` participants), else the least loaded live
worker; the session's publications cross between its workers over authenticated links.
A consult stays on one worker (its clinical media never crosses a link). The session's
*primary* worker (the first placed) runs its recorder; when it dies another worker of
the session takes the recording over in a new part.

Redis is the distributed engine here (as for the channel layer and the room fan-out):

    <ns>:media:workers                    set of worker ids ever announced and not yet reaped
    <ns>:media:worker:<id>                JSON WorkerInfo, expires MEDIA_WORKER_DEAD_AFTER_SECONDS
                                          after the last heartbeat
    <ns>:media:worker:<id>:sessions       set of session ids with media on the worker
    <ns>:media:worker:<id>:participants   set of "<session>:<participant>" placed on the worker
    <ns>:media:session:<session id>       the session's primary worker (compare-and-set)
    <ns>:media:session:<id>:workers       set of the workers carrying the session
    <ns>:media:participant:<session>:<p>  the worker carrying that participant's media
    <ns>:media:session:<id>:participants  set of the session's participants placed on any worker
    <ns>:media:drain:<id>                 "drain this worker" (`manage.py media_worker --drain ID`)
    <ns>:media:broadcast:<id>:owner       the worker whose encoder writes the session's broadcast now
                                          (set when it starts or continues, deleted by its handover;
                                          "ended" for a while after an orphan was closed)
    <ns>:media:broadcasts                 set of session ids whose broadcast is on (added by a claim,
                                          removed when it ends): what the orphan sweep looks at
    <ns>:media:broadcast:<id>:orphaned    when a sweep first found that broadcast without a live
                                          encoder (deleted by the next claim)
    <ns>:media:recording:<id>:owner       the worker whose recorder records the session now (the same
                                          life as the broadcast's: claimed by a start or continuation,
                                          deleted by a hand-over, "ended" a while after an orphan's
                                          pieces were kept)
    <ns>:media:recordings                 set of session ids being recorded (what the sweep looks at)
    <ns>:media:recording:<id>:orphaned    when a sweep first found that recording without a live recorder
    <ns>:media:recording:<id>:pieces:<f>  the worker that joins the dead worker's pieces in folder <f>
                                          (SET NX: each recording is kept once)

Capacity (the broadcast's overflow, docs/broadcast.md): a *viewer* (someone who may not
send) is refused with `PlacementFull` when the session already has
`MEDIA_SESSION_SFU_CAP` participants on its workers (0: no cap), or when every live worker
that may take people carries `MEDIA_WORKER_HARD_LIMIT` participants (about 450 video
subscribers fill one core: bench/media_fanout.py). People who may send (hosts,
presenters, whoever has the floor) are never refused for capacity: a lecture without its
speaker is no lecture. The room then offers the refused viewer the broadcast.
The check and the seat it takes are one Lua script (`_SEAT_SCRIPT`): two viewers joining
at once through two web processes cannot both take the last seat. A seat is given back
when its media leaves the worker for any reason: `media.leave`, a peer connection that
failed or closed (the SFU's `on_left`), removal, and the reaping of a dead worker (its
people leave the session's set with it).

Limits, said plainly: a recording in progress on a worker that is killed loses what its
recorder wrote after its last stored piece (recording.py, "Why pieces": about 6 s); a
drained worker stores its part whole. The embedded default (`MEDIA_WORKER_IN_PROCESS`)
does not use any of this.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

#: Place a session only on workers of this protocol version (a rolling deploy mixes them).
PROTOCOL_VERSION = 1

#: Compare-and-set of a session's placement: only if it still names the expected worker.
_PLACE_SCRIPT = """
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then return current end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[4])
redis.call('SADD', KEYS[2], ARGV[3])
return ARGV[2]
"""


#: A participant's seat, checked and taken at once. KEYS: the participant's key, the
#: session's participants, the chosen worker's participants, the worker's sessions, the
#: session's workers, the previous worker's participants (or ""). ARGV: participant,
#: "<session>:<participant>", chosen worker id, session cap (0: none), worker hard limit
#: (0: none), ttl, session id. A cap only binds someone not yet in the session's set.
#: Returns "ok", "session_cap" or "worker_full" (the chosen worker filled meanwhile).
_SEAT_SCRIPT = """
local cap = tonumber(ARGV[4])
local hard = tonumber(ARGV[5])
if cap > 0 and redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 and redis.call('SCARD', KEYS[2]) >= cap then
  return 'session_cap'
end
if hard > 0 and redis.call('SISMEMBER', KEYS[3], ARGV[2]) == 0 and redis.call('SCARD', KEYS[3]) >= hard then
  return 'worker_full'
end
if KEYS[6] ~= '' then redis.call('SREM', KEYS[6], ARGV[2]) end
redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[6])
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[6])
redis.call('SADD', KEYS[4], ARGV[7])
redis.call('SADD', KEYS[5], ARGV[3])
redis.call('EXPIRE', KEYS[5], ARGV[6])
return 'ok'
"""

#: Give a participant's seat back, if that worker still carries them (they may have moved
#: to another worker meanwhile: then only this worker's count changes). KEYS: the
#: participant's key, the session's participants, the worker's participants. ARGV:
#: worker id, participant, "<session>:<participant>".
_RELEASE_SCRIPT = """
if (redis.call('GET', KEYS[1]) or '') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], ARGV[2])
end
redis.call('SREM', KEYS[3], ARGV[3])
return 1
"""

#: Claim the broadcast of a session: only if its owner is still the one read (ARGV[1],
#: "" for none). KEYS: the owner key, the set of broadcasts that are on, the orphan mark.
#: ARGV: expected owner, new owner, ttl, session id. 1 if won.
_OWNER_SCRIPT = """
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
redis.call('SADD', KEYS[2], ARGV[4])
redis.call('DEL', KEYS[3])
return 1
"""

#: Forget the broadcast's owner if it is still ARGV[1]. KEYS: the owner key, the set of
#: broadcasts that are on, the orphan mark. ARGV: worker id, ended ("1": the broadcast is
#: over, not handed over), session id, tombstone ttl (0: delete the key; else the key says
#: "ended" that long, so a continuation that read "no owner" before cannot claim it).
_OWNER_RELEASE_SCRIPT = """
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] and current ~= '' then return 0 end
if ARGV[2] == '1' then
  redis.call('SREM', KEYS[2], ARGV[3])
  redis.call('DEL', KEYS[3])
end
if current == '' then return 0 end
if tonumber(ARGV[4]) > 0 then redis.call('SET', KEYS[1], 'ended', 'EX', ARGV[4]) else redis.call('DEL', KEYS[1]) end
return 1
"""

#: Compare-and-set of a plain key: ARGV[1] expected holder, ARGV[2] new holder ("" deletes), ARGV[3] ttl.
_SWAP_SCRIPT = """
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) end
return 1
"""

#: How long a closed orphan's owner key says "ended" (a continuation's reads take seconds).
BROADCAST_TOMBSTONE_SECONDS = 600


@dataclass(frozen=True)
class WorkerLoad:
    """What a worker carries now; placement prefers the least."""

    sessions: int = 0
    participants: int = 0
    publications: int = 0
    #: Outgoing forwarded tracks (one per subscriber per publication): the cost that grows.
    forwarded: int = 0
    #: Percent of one core used by the process since the last heartbeat.
    cpu: float = 0.0

    def score(self) -> tuple[float, ...]:
        return (self.forwarded + self.publications, self.cpu, self.sessions)


@dataclass(frozen=True)
class WorkerInfo:
    id: str
    channel: str
    version: int = PROTOCOL_VERSION
    draining: bool = False
    load: WorkerLoad = field(default_factory=WorkerLoad)
    #: "host:port" of the worker's cascade link ("" when it has none).
    link: str = ""

    def dumps(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def loads(cls, raw: bytes | str | None) -> "WorkerInfo | None":
        """A registry entry, or None for anything malformed (ignored, never trusted)."""
        if not raw:
            return None
        try:
            data = json.loads(raw)
            load = data.get("load") or {}
            info = cls(
                id=str(data["id"]), channel=str(data["channel"]), version=int(data.get("version", 0)),
                draining=bool(data.get("draining", False)), link=str(data.get("link", ""))[:300],
                load=WorkerLoad(**{k: (float(v) if k == "cpu" else int(v)) for k, v in load.items()  # type: ignore[arg-type]  # cpu float, others int
                                   if k in WorkerLoad.__dataclass_fields__}),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        if not info.id or not info.channel.startswith(worker_channel_prefix()) or not math.isfinite(info.load.cpu):
            return None
        return info


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def heartbeat_seconds() -> float:
    return float(_setting("MEDIA_WORKER_HEARTBEAT_SECONDS", 1.0))


def dead_after_seconds() -> float:
    return float(_setting("MEDIA_WORKER_DEAD_AFTER_SECONDS", 3.5))


def worker_channel_prefix() -> str:
    return f"{_setting('MEDIA_WORKER_CHANNEL', 'media-worker')}-"


def soft_limit() -> int:
    """Participants a worker takes for a session it carries before the session spreads."""
    return max(1, int(_setting("MEDIA_WORKER_SOFT_LIMIT", 300)))


def hard_limit() -> int:
    """Participants a worker carries at most before viewers are refused (0: no limit)."""
    return max(0, int(_setting("MEDIA_WORKER_HARD_LIMIT", 450)))


def session_sfu_cap() -> int:
    """Participants one session may have on the SFU before viewers are refused (0: no cap)."""
    return max(0, int(_setting("MEDIA_SESSION_SFU_CAP", 0)))


class PlacementFull(RuntimeError):
    """A viewer cannot be placed: the session's cap or every worker's hard limit is reached.

    ``reason``: "session_cap" or "workers_full" (said to the client and in the log).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")


def _ns() -> str:
    return f"{_setting('REDIS_NAMESPACE', 'openrounds')}:media"


#: Placements outlive no session by much: refreshed on each placement lookup that places.
PLACEMENT_TTL_SECONDS = 24 * 3600


class WorkerRegistry:
    """The registry and placement, over one Redis connection per event loop."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or _setting("REDIS_URL", "")
        self._clients: dict[int, Any] = {}
        #: Lua scripts registered on each loop's client (redis-py runs them by SHA).
        self._scripts: dict[tuple[int, str], Any] = {}

    def _redis(self) -> Any:
        import redis.asyncio as aioredis

        loop = asyncio.get_running_loop()
        client = self._clients.get(id(loop))
        if client is None:
            client = self._clients[id(loop)] = aioredis.Redis.from_url(self.url, socket_connect_timeout=2)
        return client

    def _script(self, source: str) -> Any:
        """`source` registered on this loop's client (EVALSHA, loaded again if Redis lost it)."""
        client = self._redis()
        key = (id(client), source)
        script = self._scripts.get(key)
        if script is None:
            script = self._scripts[key] = client.register_script(source)
        return script

    async def close(self) -> None:
        loop_client = self._clients.get(id(asyncio.get_running_loop()))
        self._scripts = {k: v for k, v in self._scripts.items() if k[0] != id(loop_client)}
        client = self._clients.pop(id(asyncio.get_running_loop()), None)
        if client is not None:
            await client.aclose()

    # ------------------------------------------------------------ workers

    async def announce(self, info: WorkerInfo) -> None:
        """The heartbeat: this worker is alive, with this load (expires unless repeated)."""
        redis = self._redis()
        async with redis.pipeline(transaction=False) as pipe:
            pipe.set(f"{_ns()}:worker:{info.id}", info.dumps(), px=int(dead_after_seconds() * 1000))
            pipe.sadd(f"{_ns()}:workers", info.id)
            await pipe.execute()

    async def withdraw(self, worker_id: str) -> list[int]:
        """A worker leaves cleanly: forget it and its placements; the sessions it carried."""
        redis = self._redis()
        await redis.delete(f"{_ns()}:worker:{worker_id}")
        await redis.srem(f"{_ns()}:workers", worker_id)
        return await self._release_all(worker_id)

    async def alive(self) -> list[WorkerInfo]:
        """Every worker whose heartbeat has not expired (entries that do not parse are skipped)."""
        redis = self._redis()
        ids = sorted(member.decode() if isinstance(member, bytes) else str(member)
                     for member in await redis.smembers(f"{_ns()}:workers"))
        if not ids:
            return []
        raws = await redis.mget([f"{_ns()}:worker:{worker_id}" for worker_id in ids])
        found = []
        for worker_id, raw in zip(ids, raws):
            info = WorkerInfo.loads(raw)
            if info is not None and info.id == worker_id:
                found.append(info)
            elif raw is not None:
                logger.warning("media registry: ignoring a malformed entry for worker %r", worker_id[:64])
        return found

    async def reap(self) -> dict[str, list[int]]:
        """Dead workers (in the index, heartbeat expired) -> the sessions they carried.

        Exactly one caller reaps each dead worker (the one whose SREM removes it), so each
        room is told once to reconnect its media.
        """
        redis = self._redis()
        ids = [member.decode() if isinstance(member, bytes) else str(member)
               for member in await redis.smembers(f"{_ns()}:workers")]
        reaped: dict[str, list[int]] = {}
        for worker_id in ids:
            if await redis.exists(f"{_ns()}:worker:{worker_id}"):
                continue
            if await redis.srem(f"{_ns()}:workers", worker_id) == 1:
                reaped[worker_id] = await self._release_all(worker_id)
                logger.warning("media worker %s missed its heartbeats: its %d session(s) move", worker_id, len(reaped[worker_id]))
        return reaped

    async def drain_requested(self, worker_id: str) -> bool:
        return bool(await self._redis().exists(f"{_ns()}:drain:{worker_id}"))

    async def request_drain(self, worker_id: str) -> bool:
        """Ask a worker to drain (it sees it at its next heartbeat); False if it is not alive."""
        redis = self._redis()
        if not await redis.exists(f"{_ns()}:worker:{worker_id}"):
            return False
        await redis.set(f"{_ns()}:drain:{worker_id}", "1", ex=3600)
        return True

    # ---------------------------------------------------------- placement

    async def placed_on(self, session_id: int) -> WorkerInfo | None:
        """The live worker carrying the session now, or None (nothing placed, or it died)."""
        redis = self._redis()
        worker_id = await redis.get(f"{_ns()}:session:{session_id}")
        if not worker_id:
            return None
        raw = await redis.get(f"{_ns()}:worker:{worker_id.decode() if isinstance(worker_id, bytes) else worker_id}")
        return WorkerInfo.loads(raw)

    async def place(self, session_id: int) -> WorkerInfo | None:
        """The worker for the session: the one carrying it, else the least loaded that may take it.

        None when no worker is alive. A worker that drains keeps the sessions it has until
        it hands them over, and takes no new one.
        """
        redis = self._redis()
        key = f"{_ns()}:session:{session_id}"
        for _ in range(5):
            current_raw = await redis.get(key)
            current = current_raw.decode() if isinstance(current_raw, bytes) else (current_raw or "")
            live = await self.alive()
            by_id = {info.id: info for info in live}
            if current and current in by_id:
                return by_id[current]
            candidates = [info for info in live if not info.draining and info.version == PROTOCOL_VERSION]
            if not candidates:
                return None
            serving = set(await self.session_workers(session_id))
            candidates = [info for info in candidates if info.id in serving] or candidates
            chosen = min(candidates, key=lambda info: (info.load.score(), info.id))
            won = await redis.eval(_PLACE_SCRIPT, 2, key, f"{_ns()}:worker:{chosen.id}:sessions",
                                   current, chosen.id, str(session_id), str(PLACEMENT_TTL_SECONDS))
            won = won.decode() if isinstance(won, bytes) else str(won)
            if won == chosen.id:
                if current:
                    logger.info("session %s: media moved from worker %s to %s", session_id, current, chosen.id)
                return chosen
        return None

    async def release(self, session_id: int, worker_id: str) -> None:
        """The session's media ended on this worker: forget the placement if it is still ours."""
        redis = self._redis()
        key = f"{_ns()}:session:{session_id}"
        current = await redis.get(key)
        if current is not None and (current.decode() if isinstance(current, bytes) else current) == worker_id:
            await redis.delete(key)
        await redis.srem(f"{_ns()}:worker:{worker_id}:sessions", str(session_id))

    async def sessions_of(self, worker_id: str) -> list[int]:
        members = await self._redis().smembers(f"{_ns()}:worker:{worker_id}:sessions")
        return sorted(int(m) for m in members if (m.decode() if isinstance(m, bytes) else str(m)).isdigit())

    async def _release_all(self, worker_id: str) -> list[int]:
        """Forget everything a worker carried: its sessions' placements and its people's seats.

        The seats matter: a viewer refused for the session's cap must not wait for seats
        held by people whose worker is gone (they join again, and are counted again).
        """
        sessions = await self.sessions_of(worker_id)
        redis = self._redis()
        await self.release_participants(worker_id)
        for session_id in sessions:
            await self.release(session_id, worker_id)
            await redis.srem(f"{_ns()}:session:{session_id}:workers", worker_id)
        await redis.delete(f"{_ns()}:worker:{worker_id}:sessions", f"{_ns()}:drain:{worker_id}",
                           f"{_ns()}:worker:{worker_id}:participants")
        return sessions

    # ------------------------------------------------- one session, several workers

    async def worker(self, worker_id: str) -> WorkerInfo | None:
        """The live worker of that id, or None (dead, or never registered)."""
        info = WorkerInfo.loads(await self._redis().get(f"{_ns()}:worker:{worker_id}"))
        return info if info is not None and info.id == worker_id else None

    async def declare_dead(self, worker_id: str) -> None:
        """Its link port refuses connections: its process is gone; reap it now, not at expiry."""
        await self._redis().delete(f"{_ns()}:worker:{worker_id}")

    async def session_workers(self, session_id: int) -> list[str]:
        return sorted(_text(m) for m in await self._redis().smembers(f"{_ns()}:session:{session_id}:workers"))

    async def session_join(self, session_id: int, worker_id: str) -> list[str]:
        """This worker carries media of the session; the other workers that do."""
        redis = self._redis()
        await redis.sadd(f"{_ns()}:session:{session_id}:workers", worker_id)
        await redis.expire(f"{_ns()}:session:{session_id}:workers", PLACEMENT_TTL_SECONDS)
        await redis.sadd(f"{_ns()}:worker:{worker_id}:sessions", str(session_id))
        return [w for w in await self.session_workers(session_id) if w != worker_id]

    async def session_leave(self, session_id: int, worker_id: str) -> None:
        redis = self._redis()
        await redis.srem(f"{_ns()}:session:{session_id}:workers", worker_id)
        await self.release(session_id, worker_id)

    async def participant_on(self, session_id: int, participant: str) -> WorkerInfo | None:
        """The live worker carrying this participant's media, or None."""
        worker_id = _text(await self._redis().get(f"{_ns()}:participant:{session_id}:{participant}"))
        return await self.worker(worker_id) if worker_id else None

    async def place_participant(
        self, session_id: int, participant: str, *, spread: bool = True, viewer: bool = False,
    ) -> WorkerInfo | None:
        """The worker for this participant's media; None when no worker can take it.

        Kept while its worker lives and does not drain. Otherwise: with ``spread``, the
        least loaded of the session's workers that has room, else the least loaded live
        worker (the session spreads); without it (a consult) the session's primary.
        The primary is set to the first worker placed. A ``viewer`` (may not send) that is
        not placed yet raises `PlacementFull` past the session's cap or every worker's
        hard limit; the check and the seat are one script (`_SEAT_SCRIPT`), so joins at
        once through several web processes cannot take more seats than there are.
        """
        redis = self._redis()
        key = f"{_ns()}:participant:{session_id}:{participant}"
        member = f"{session_id}:{participant}"
        current_id = _text(await redis.get(key))
        current = await self.worker(current_id) if current_id else None
        if current is not None and not current.draining:
            return current
        bound = viewer and not current_id
        cap = session_sfu_cap() if bound else 0
        chosen: WorkerInfo | None = None
        for _attempt in range(3):
            if cap and await redis.scard(f"{_ns()}:session:{session_id}:participants") >= cap:
                raise PlacementFull("session_cap")  # the cheap early answer; the script decides
            if not spread:
                chosen = await self.place(session_id)
            else:
                live = [info for info in await self.alive() if not info.draining and info.version == PROTOCOL_VERSION]
                if not live:
                    return None
                async with redis.pipeline(transaction=False) as pipe:
                    for info in live:
                        pipe.scard(f"{_ns()}:worker:{info.id}:participants")
                    counts = dict(zip((info.id for info in live), await pipe.execute()))
                if bound and hard_limit() and all(counts[info.id] >= hard_limit() for info in live):
                    raise PlacementFull("workers_full")
                serving = set(await self.session_workers(session_id))
                roomy = [info for info in live if info.id in serving and counts[info.id] < soft_limit()]
                chosen = min(roomy or live, key=lambda info: (counts[info.id], info.load.cpu, info.id))
            if chosen is None:
                return None
            outcome = _text(await self._script(_SEAT_SCRIPT)(
                keys=[key, f"{_ns()}:session:{session_id}:participants", f"{_ns()}:worker:{chosen.id}:participants",
                      f"{_ns()}:worker:{chosen.id}:sessions", f"{_ns()}:session:{session_id}:workers",
                      f"{_ns()}:worker:{current_id}:participants" if current_id else ""],
                args=[participant, member, chosen.id, cap, hard_limit() if bound and spread else 0,
                      PLACEMENT_TTL_SECONDS, str(session_id)]))
            if outcome == "session_cap":
                raise PlacementFull("session_cap")
            if outcome == "ok":
                break
            chosen = None  # that worker filled meanwhile: choose again
        if chosen is None:
            raise PlacementFull("workers_full")
        if spread and await self.placed_on(session_id) is None:
            primary = _text(await redis.get(f"{_ns()}:session:{session_id}"))
            await redis.eval(_PLACE_SCRIPT, 2, f"{_ns()}:session:{session_id}", f"{_ns()}:worker:{chosen.id}:sessions",
                             primary, chosen.id, str(session_id), str(PLACEMENT_TTL_SECONDS))
        return chosen

    async def release_participant(self, session_id: int, participant: str, worker_id: str) -> None:
        """The participant's media left this worker."""
        await self._script(_RELEASE_SCRIPT)(
            keys=[f"{_ns()}:participant:{session_id}:{participant}", f"{_ns()}:session:{session_id}:participants",
                  f"{_ns()}:worker:{worker_id}:participants"],
            args=[worker_id, participant, f"{session_id}:{participant}"])

    async def release_participants(self, worker_id: str) -> None:
        """A draining worker: its people's next offers go elsewhere."""
        redis = self._redis()
        for member in await redis.smembers(f"{_ns()}:worker:{worker_id}:participants"):
            session_id, _sep, participant = _text(member).partition(":")
            await self.release_participant(int(session_id), participant, worker_id)

    async def claim_primary(self, session_id: int, worker_id: str, *, instead_of: str) -> bool:
        """Become the session's primary if `instead_of` still is (it died); True if this worker won."""
        won = await self._redis().eval(_PLACE_SCRIPT, 2, f"{_ns()}:session:{session_id}",
                                       f"{_ns()}:worker:{worker_id}:sessions", instead_of, worker_id,
                                       str(session_id), str(PLACEMENT_TTL_SECONDS))
        return _text(won) == worker_id

    # ------------------------------------------------------------ the broadcast's encoder

    async def broadcast_owner(self, session_id: int) -> str:
        """The worker whose encoder writes the session's broadcast ("" for none)."""
        return _text(await self._redis().get(f"{_ns()}:broadcast:{session_id}:owner"))

    async def broadcast_on(self, session_id: int) -> bool:
        """Whether the session's broadcast is on (in `<ns>:media:broadcasts`): one SISMEMBER.

        What the per-offer continuation check asks first (`_continue_broadcast`): most
        sessions never broadcast, and their offers then cost no other Redis call and no
        database query. A broadcast started before the set existed is added when a worker
        starts (`broadcasts_adopt`).
        """
        return bool(await self._redis().sismember(f"{_ns()}:broadcasts", str(session_id)))

    async def broadcasts_adopt(self) -> int:
        """Put the broadcasts whose encoder is named (`broadcast:<id>:owner`) in the set of those
        that are on; how many were missing. Run once when a worker starts: a broadcast started
        by a worker of the release before the set existed is in no set, and without this a
        rolling deploy (new workers start, then the old ones hand their broadcasts over) would
        leave it uncontinued (`broadcast_on` says no) and unswept. One SCAN of the namespace."""
        ids: set[str] = set()
        async for key in self._redis().scan_iter(match=f"{_ns()}:broadcast:*:owner", count=1000):
            sid = _text(key)[len(f"{_ns()}:broadcast:"):-len(":owner")]
            if sid.isdigit() and _text(await self._redis().get(key)) not in ("", "ended"):
                ids.add(sid)
        return int(await self._redis().sadd(f"{_ns()}:broadcasts", *ids)) if ids else 0

    def _owned_keys(self, kind: str, session_id: int) -> list[str]:
        return [f"{_ns()}:{kind}:{session_id}:owner", f"{_ns()}:{kind}s", f"{_ns()}:{kind}:{session_id}:orphaned"]

    async def broadcast_claim(self, session_id: int, worker_id: str, *, instead_of: str = "") -> bool:
        """Become the broadcast's encoder (or its closer) if its owner is still `instead_of`
        ("" : none); True if won. The broadcast is then on (`broadcasts_unowned` watches it)."""
        return await self._owned_claim("broadcast", session_id, worker_id, instead_of=instead_of)

    async def broadcast_release(self, session_id: int, worker_id: str, *, ended: bool = False,
                                tombstone: bool = False) -> None:
        """This worker no longer encodes the broadcast: handed over (the next worker continues
        it), or ``ended`` (stopped or closed: nothing is left to continue or close).
        ``tombstone``: the key says "ended" for a while instead of going (an orphan closed)."""
        await self._owned_release("broadcast", session_id, worker_id, ended=ended, tombstone=tombstone)

    async def broadcasts_unowned(self, *, now: float) -> dict[int, float]:
        """Broadcasts that are on but have no live encoder -> when a sweep first found them so
        (`_owned_unowned`)."""
        return await self._owned_unowned("broadcast", now=now)

    # ---------------------------------------------------------------- the recorder

    async def recording_owner(self, session_id: int) -> str:
        """The worker whose recorder records the session now ("" for none, "ended" for a while
        after an orphan's pieces were kept)."""
        return _text(await self._redis().get(f"{_ns()}:recording:{session_id}:owner"))

    async def recording_claim(self, session_id: int, worker_id: str, *, instead_of: str = "") -> bool:
        """Become the session's recorder (or the keeper of an orphan's pieces) if its owner is
        still `instead_of`; True if won. The recording is then on (`recordings_unowned`)."""
        return await self._owned_claim("recording", session_id, worker_id, instead_of=instead_of)

    async def recording_release(self, session_id: int, worker_id: str, *, ended: bool = False,
                                tombstone: bool = False) -> None:
        """This worker no longer records the session: handed over (its part stored; the next
        worker continues), or ``ended`` (stopped, discarded, or an orphan's pieces kept)."""
        await self._owned_release("recording", session_id, worker_id, ended=ended, tombstone=tombstone)

    async def recordings_unowned(self, *, now: float) -> dict[int, float]:
        """Recordings that are on but have no live recorder -> when a sweep first found them so."""
        return await self._owned_unowned("recording", now=now)

    async def recording_pieces_claim(self, session_id: int, folder: str, worker_id: str) -> bool:
        """Whether this worker may join that folder of a dead worker's pieces (the first to ask).

        Why: a session's end is heard by every worker that carries some of it, and the sweep
        and a continuation may look at once; each would store its own copy of the recording.
        A claim whose holder died (a keeper killed halfway) is taken over by compare-and-set,
        and a keeper whose join failed gives its claim back (`recording_pieces_unclaim`), so
        the pieces are always joined by someone while they are in storage.
        """
        key = f"{_ns()}:recording:{session_id}:pieces:{folder}"
        redis = self._redis()
        if await redis.set(key, worker_id, nx=True, ex=PLACEMENT_TTL_SECONDS):
            return True
        holder = _text(await redis.get(key))
        if not holder or holder == worker_id or await self.worker(holder) is not None:
            return False
        won = await self._script(_SWAP_SCRIPT)(keys=[key], args=[holder, worker_id, PLACEMENT_TTL_SECONDS])
        return bool(int(won))

    async def recording_pieces_unclaim(self, session_id: int, folders: list[str], worker_id: str) -> None:
        """Give back this worker's claims on these folders (its join failed): another may join them."""
        for folder in folders:
            await self._script(_SWAP_SCRIPT)(
                keys=[f"{_ns()}:recording:{session_id}:pieces:{folder}"], args=[worker_id, "", 1])

    # ------------------------------------------- owned by one worker: claim, release, sweep

    async def _owned_claim(self, kind: str, session_id: int, worker_id: str, *, instead_of: str) -> bool:
        won = await self._script(_OWNER_SCRIPT)(
            keys=self._owned_keys(kind, session_id), args=[instead_of, worker_id, PLACEMENT_TTL_SECONDS, str(session_id)])
        return bool(int(won))

    async def _owned_release(self, kind: str, session_id: int, worker_id: str, *, ended: bool, tombstone: bool) -> None:
        await self._script(_OWNER_RELEASE_SCRIPT)(
            keys=self._owned_keys(kind, session_id),
            args=[worker_id, "1" if ended else "0", str(session_id), BROADCAST_TOMBSTONE_SECONDS if tombstone else 0])

    async def _owned_unowned(self, kind: str, *, now: float) -> dict[int, float]:
        """Sessions whose `kind` (broadcast, recording) is on but has no live owner (owner
        missing, or its heartbeat expired) -> when a sweep first found them so (`now` for
        those found now).

        Why the time is kept in Redis: every live worker sweeps, and the grace before an
        orphan is closed must count from the same moment whichever worker closes it. One
        whose owner is alive loses its mark (a continuation claimed it).
        Cost: three round trips per heartbeat whatever the number of them (plus a write for
        each orphan first seen, and for each mark a continuation left behind).
        """
        redis = self._redis()
        ids = sorted(int(m) for m in (_text(m) for m in await redis.smembers(f"{_ns()}:{kind}s")) if m.isdigit())
        if not ids:
            return {}
        async with redis.pipeline(transaction=False) as pipe:
            pipe.mget([f"{_ns()}:{kind}:{sid}:owner" for sid in ids])
            pipe.mget([f"{_ns()}:{kind}:{sid}:orphaned" for sid in ids])
            owner_raws, mark_raws = await pipe.execute()
        owners = [_text(raw) for raw in owner_raws]
        named = sorted({owner for owner in owners if owner})
        infos = [WorkerInfo.loads(raw) for raw in await redis.mget([f"{_ns()}:worker:{o}" for o in named])] if named else []
        alive = {owner for owner, info in zip(named, infos) if info is not None and info.id == owner}
        found: dict[int, float] = {}
        stale: list[str] = []
        for sid, owner, raw in zip(ids, owners, mark_raws):
            if owner in alive:
                if raw is not None:
                    stale.append(f"{_ns()}:{kind}:{sid}:orphaned")
                continue
            try:
                found[sid] = float(_text(raw)) if raw is not None else now
            except ValueError:
                found[sid] = now
            if raw is None:  # the first sweep to see it: every worker counts from here
                await redis.set(f"{_ns()}:{kind}:{sid}:orphaned", repr(now), nx=True, ex=PLACEMENT_TTL_SECONDS)
        if stale:
            await redis.delete(*stale)
        return found

    async def broadcast_owner_alive(self, session_id: int, *, besides: str = "") -> str:
        """The broadcast's owner if it is a live worker other than `besides`, else ""."""
        owner = await self.broadcast_owner(session_id)
        if not owner or owner == besides:
            return ""
        return owner if await self.worker(owner) is not None else ""


_REGISTRY: WorkerRegistry | None = None


def worker_registry() -> WorkerRegistry:
    """The process's registry (one per process; it keeps a connection per event loop)."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = WorkerRegistry()
    return _REGISTRY
