"""The media worker's broadcasts: start, stop, hand over on a drain, continue after one.

Why apart from `worker.py`: the worker is one loop of requests over several kinds of
per-session state; the broadcast's part (about 230 lines) is the one with its own
cross-worker rule, so it reads better alone (like LiveKit's participant split by concern).
`MediaWorker` mixes this in; the attributes and helpers used here are the worker's.

Never two encoders of one broadcast: with the registry, the worker that encodes it is
named in Redis (`placement.WorkerRegistry.broadcast_owner`: set when it starts or
continues, deleted by its hand-over and its stop), and another worker continues only when
that key is missing or names a dead worker, claiming it by compare-and-set. The embedded
worker (no registry) is the only one, so it needs none of this.

Never an orphan left open: a broadcast handed over (or whose worker died) that no worker
continues within `BROADCAST_ORPHAN_GRACE_SECONDS` (nobody's media came back), or whose
session ended meanwhile, is closed from storage by one live worker (`_broadcast_orphans_sweep`,
in the heartbeat loop; the closer claims the owner key by compare-and-set like a
continuation): ENDLIST, the one MP4 of its parts, the room's notice off. Without it the
host, told the session was broadcast and recorded, would find neither ended playlists
nor a recording.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async

from .broadcast import (
    RENDITIONS,
    BroadcastUnavailable,
    RoomBroadcaster,
    broadcast_stored_close,
    broadcast_stored_playlists,
)
from .broadcast_outcomes import broadcast_current, broadcast_event, broadcast_session_over
from .outcomes import recordings_keep
from .routing import media_setting
from .sfu import MediaError

if TYPE_CHECKING:
    from .placement import WorkerRegistry
    from .sfu import SFU

logger = logging.getLogger(__name__)

#: Reads of the stored playlists before a continuation gives up (storage hiccups pass).
CONTINUE_READ_ATTEMPTS = 3
CONTINUE_READ_PAUSE_SECONDS = 0.5


def orphan_grace_seconds() -> float:
    """How long a broadcast may go without a live encoder before a worker closes it.

    30 s by default: a hand-over is continued at the first offer of the session's people
    on the next worker, 3-5 s after a drain and 8 s after a kill as measured
    (docs/broadcast.md; the failover test allows 20 s), and a browser whose room socket
    dropped as well comes back within its 10-s reconnect backoff. Longer would leave
    viewers on a frozen picture and the recording unmade for longer; shorter could end a
    broadcast whose people are still on their way back (the host would then start a new
    one, in a new folder with a second recording).
    """
    return max(0.0, float(media_setting("BROADCAST_ORPHAN_GRACE_SECONDS", 30)))


class WorkerBroadcasts:
    """The broadcast duties of `MediaWorker` (sessions/media/worker.py)."""

    registry: WorkerRegistry | None
    worker_id: str
    channel: str
    draining: bool
    sfu: SFU
    #: HLS broadcasts per session (broadcast.py): one encode, any number of viewers.
    broadcasts: dict[int, RoomBroadcaster]
    #: Sessions whose broadcast this worker is taking over now (`_continue_broadcast`).
    _continuing: set[int]
    #: Sessions whose broadcast nobody encodes that this worker closes now (`_broadcast_close_orphan`).
    _closing: set[int]
    finished: dict[int, list[str]]

    if TYPE_CHECKING:
        async def _watch_session(self, session_id: int) -> None: ...

        def _spawn_task(self, work: Any) -> None: ...

    async def _broadcast_start(self, session_id: int) -> None:
        """Encode the room's composite into HLS; the notice goes out once viewers can play it."""
        if session_id in self.broadcasts:
            return
        if self.draining:
            raise MediaError("media_moved", "this media server is being replaced: start the broadcast again in a moment")
        room = self.sfu.room(str(session_id))
        await self._watch_session(session_id)
        try:
            broadcaster = RoomBroadcaster(room, session_id=session_id, owner=self.worker_id or self.channel)
        except BroadcastUnavailable as missing:
            logger.error("session %s: %s", session_id, missing)
            await broadcast_event(session_id, active=False, error="encoder_missing")
            return
        self.broadcasts[session_id] = broadcaster
        if self.registry is not None:
            await self.registry.broadcast_claim(session_id, self.worker_id,
                                                instead_of=await self.registry.broadcast_owner(session_id))
        await broadcaster.start()

        async def announce() -> None:  # not under the host's request lock: the first segment takes ~2 s
            if await broadcaster.wait_first_segment():
                if self.broadcasts.get(session_id) is broadcaster:
                    await broadcast_event(session_id, active=True, folder=broadcaster.folder)
                    logger.info("session %s: broadcasting to %s", session_id, broadcaster.folder)
            elif self.broadcasts.get(session_id) is broadcaster:
                logger.error("session %s: the broadcast produced no segment", session_id)
                await self._broadcast_stop(session_id, error="no_output")

        self._spawn_task(announce())

    async def _broadcast_leave(self, session_id: int) -> None:
        """This worker drains: hand the broadcast to the session's next worker, or end it.

        Handed over when another worker can take the session: the playlists stay open in
        storage and the room's notice stays on, so viewers keep playing while the next
        primary continues them (`_continue_broadcast`). With no other worker it stops (its
        recording kept now: this worker will not be here when the session ends).
        """
        others = [info for info in await self.registry.alive() if info.id != self.worker_id and not info.draining] \
            if self.registry is not None else []
        broadcaster = self.broadcasts.get(session_id)
        if not others or broadcaster is None:
            await self._broadcast_stop(session_id, keep_now=True)
            return
        self.broadcasts.pop(session_id, None)
        await broadcaster.hand_over()
        await self._broadcast_owner_release(session_id)
        logger.info("session %s: broadcast %s handed over (open playlists, %d segment(s) stored here)",
                    session_id, broadcaster.folder, len(broadcaster.uploader.uploaded))

    async def _continue_broadcast(self, session_id: int) -> None:
        """The session came here while it was broadcast (a drain, a dead worker): go on.

        Only the session's primary worker does, in the same folder and playlists (after an
        `EXT-X-DISCONTINUITY`); the room's notice is already on, so no event is sent. With
        the registry only when no live worker owns the broadcast (`media:broadcast:<id>:owner`,
        deleted by a hand-over): two encoders would write the same segment names.
        """
        if session_id in self.broadcasts or session_id in self._continuing or session_id in self._closing:
            return
        self._continuing.add(session_id)  # an offer and a lost peer may both ask at once
        try:
            await self._continue_broadcast_now(session_id)
        finally:
            self._continuing.discard(session_id)

    async def _continue_broadcast_now(self, session_id: int) -> None:
        owner = ""
        if self.registry is not None:
            # This runs at every offer of a session this worker does not broadcast, and most
            # sessions never broadcast: one SISMEMBER, then nothing else for them (no other
            # Redis call, no database query; bench/continue_check.py). The set holds every
            # broadcast that is on, handed over or orphaned included (`broadcast_claim` adds,
            # only an ended release removes; `broadcasts_adopt` adds older ones at start).
            if not await self.registry.broadcast_on(session_id):
                return
            primary = await self.registry.placed_on(session_id)
            if primary is not None and primary.id != self.worker_id:
                return
            # Another live worker still encodes it (its drain has not handed it over yet, or
            # it encodes a session now spread over workers): never two encoders. Checked
            # before the database: this runs at every offer.
            if await self.registry.broadcast_owner_alive(session_id, besides=self.worker_id):
                return
            owner = await self.registry.broadcast_owner(session_id)
        current = await database_sync_to_async(broadcast_current)(session_id=session_id)
        folder = str(current.get("folder") or "")
        if not current.get("active") or not folder:
            return
        previous = await self._stored_playlists(session_id, folder)
        if previous is None or any("#EXT-X-ENDLIST" in text for text in previous.values()):
            return  # unreadable (logged), or it ended: not ours to continue
        if self.registry is not None and not await self.registry.broadcast_claim(
                session_id, self.worker_id, instead_of=owner):
            return  # someone else claimed it meanwhile
        if session_id in self.broadcasts:
            return  # the host started one while the playlists were read
        try:
            broadcaster = RoomBroadcaster(self.sfu.room(str(session_id)), session_id=session_id,
                                          owner=self.worker_id or self.channel, continue_from=folder, previous=previous)
        except BroadcastUnavailable as missing:
            logger.error("session %s: %s", session_id, missing)
            await self._broadcast_owner_release(session_id, ended=True)
            await broadcast_event(session_id, active=False, folder=folder, error="encoder_missing")
            return
        await self._watch_session(session_id)
        if session_id in self.broadcasts:
            return  # the same, after this await (the owner key names this worker either way)
        self.broadcasts[session_id] = broadcaster
        await broadcaster.start()
        logger.info("session %s: broadcast %s continues on worker %s from segment %d",
                    session_id, folder, self.worker_id or self.channel, broadcaster._hls.start_number)

        async def watch() -> None:
            if not await broadcaster.wait_first_segment() and self.broadcasts.get(session_id) is broadcaster:
                logger.error("session %s: the continued broadcast produced no segment", session_id)
                await self._broadcast_stop(session_id, error="no_output")

        self._spawn_task(watch())

    async def _stored_playlists(self, session_id: int, folder: str) -> dict[str, str] | None:
        """Every rendition's stored playlist, or None after a few tries (logged).

        Why all of them: a rendition missing from what is read would be uploaded with only
        the new part, overwriting what viewers and the recording need (a storage hiccup
        is not "nothing stored").
        """
        found: dict[str, str] = {}
        for attempt in range(CONTINUE_READ_ATTEMPTS):
            if attempt:
                await asyncio.sleep(CONTINUE_READ_PAUSE_SECONDS)
            found = await asyncio.to_thread(broadcast_stored_playlists, folder)
            if len(found) == len(RENDITIONS):
                return found
        logger.error("session %s: broadcast %s not continued: %d of %d playlists readable after %d tries",
                     session_id, folder, len(found), len(RENDITIONS), CONTINUE_READ_ATTEMPTS)
        return None

    async def _broadcasts_adopt(self) -> None:
        """At start: broadcasts of workers from before the set of broadcasts existed join it
        (`WorkerRegistry.broadcasts_adopt`), so they are continued and swept like the others."""
        if self.registry is None:
            return
        try:
            adopted = await self.registry.broadcasts_adopt()
        except Exception:
            logger.warning("media worker %s: the running broadcasts were not adopted", self.worker_id, exc_info=True)
            return
        if adopted:
            logger.info("media worker %s: %d running broadcast(s) added to the set of those that are on", self.worker_id, adopted)

    async def _broadcast_owner_release(self, session_id: int, *, ended: bool = False, tombstone: bool = False) -> None:
        """``ended``: stopped or closed, not handed over (the orphan sweep forgets it)."""
        if self.registry is None:
            return
        try:
            await self.registry.broadcast_release(session_id, self.worker_id, ended=ended, tombstone=tombstone)
        except Exception:
            logger.warning("session %s: the broadcast's owner key was not released", session_id, exc_info=True)

    async def _broadcast_stop(self, session_id: int, *, error: str = "", keep_now: bool = False) -> None:
        """Close the playlists; the finished broadcast is kept as the session's recording.

        ``keep_now``: this worker leaves (a drain), so the recording is kept at once rather
        than when the session ends.
        """
        broadcaster = self.broadcasts.pop(session_id, None)
        if broadcaster is None:
            return
        name = await broadcaster.stop()
        await self._broadcast_owner_release(session_id, ended=True)
        await self._broadcast_kept(session_id, name, keep_now=keep_now)
        # The folder whenever playlists were stored (a continued broadcast that stopped
        # before its first new segment still has its earlier parts: the replay).
        stored = bool(name or broadcaster.uploader.playlists)
        await broadcast_event(session_id, active=False, folder=broadcaster.folder if stored else "", error=error)
        logger.info("session %s: broadcast stopped (%s)", session_id, "kept" if name else "empty")

    async def _broadcast_kept(self, session_id: int, name: str | None, *, keep_now: bool = False) -> None:
        if name and keep_now:
            await database_sync_to_async(recordings_keep)(session_id, [name])
        elif name:
            self.finished[session_id].append(name)

    async def _continuation_settled(self, session_id: int) -> None:
        """A continuation in progress here: let it finish (at most 10 s), so it can be stopped."""
        for _ in range(100):
            if session_id not in self._continuing:
                return
            await asyncio.sleep(0.1)

    async def _broadcast_stop_stored(self, session_id: int) -> None:
        """The host stops a broadcast no worker encodes now (handed over, and nobody joined the
        next worker yet): close its stored playlists and keep what they list as the recording,
        so viewers stop and the room says it is off."""
        await self._continuation_settled(session_id)
        if session_id in self.broadcasts:
            await self._broadcast_stop(session_id)
            return
        await self._broadcast_close_orphan(session_id)

    async def _broadcast_end(self, session_id: int) -> None:
        """The session ended: stop its broadcast here, or close it from storage when no live
        worker encodes it (handed over and never continued: nobody's media came back).

        A draining worker leaves the close to the others' sweep (it sees the session over
        within a heartbeat): its drain ends as the session's people leave, and the close,
        cancelled with it halfway, would be done again anyway.
        """
        await self._continuation_settled(session_id)
        if session_id in self.broadcasts:
            await self._broadcast_stop(session_id)
        elif not (self.draining and self.registry is not None):
            await self._broadcast_close_orphan(session_id)

    async def _broadcast_orphans_sweep(self) -> None:
        """Close the broadcasts nobody encodes (one heartbeat's look; with the registry).

        An orphan (on in Redis, its owner key missing or naming a worker whose heartbeat
        expired) is closed once `orphan_grace_seconds` passed since a sweep first saw it,
        or at once when its session is over (ended or cancelled: no worker may be watching
        the session to hear it end). The database is read only for orphans, which exist
        for the few seconds of a failover: not per offer, not per broadcast that runs.
        A draining worker leaves this to the others (it is about to exit).
        """
        if self.registry is None or self.draining:
            return
        try:
            now = time.time()
            grace = orphan_grace_seconds()
            for session_id, since in (await self.registry.broadcasts_unowned(now=now)).items():
                if session_id in self.broadcasts or session_id in self._continuing or session_id in self._closing:
                    continue
                if now - since < grace and not await database_sync_to_async(broadcast_session_over)(session_id=session_id):
                    continue
                logger.warning("session %s: its broadcast has had no encoder for %.0f s; closing it", session_id, now - since)
                self._spawn_task(self._broadcast_close_orphan(session_id, swept=True))
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("media worker %s: the broadcast orphan sweep failed", self.worker_id, exc_info=True)

    async def _broadcast_close_orphan(self, session_id: int, *, swept: bool = False) -> None:
        """Close a broadcast that no live worker encodes: ENDLIST on its stored playlists, the
        one MP4 of every stored part, the room's notice off.

        With the registry, only the worker that wins the owner key by compare-and-set does it
        (another live owner means it is being continued: left alone); afterwards the key says
        "ended" for a while, so a continuation that read "no owner" before cannot claim it.
        The recording is kept at once, not when the session ends here: the worker closing it
        may carry none of the session's media (the host's Stop goes to whichever worker the
        session is placed on next; the sweep to any), so it may never hear the end, and the
        MP4 would be a file no session knows. ``swept``: Redis has it on, so it is
        claimed (and forgotten) even if the room's notice is off already; otherwise a session
        that is not broadcast costs one database read and no Redis write.
        """
        if session_id in self.broadcasts or session_id in self._closing:
            return
        self._closing.add(session_id)
        try:
            if not swept and not (await database_sync_to_async(broadcast_current)(session_id=session_id)).get("active"):
                return
            if self.registry is not None:
                owner = await self.registry.broadcast_owner(session_id)
                if owner and owner != self.worker_id and await self.registry.worker(owner) is not None:
                    logger.warning("session %s: the broadcast's encoder is on worker %s; not closed here", session_id, owner)
                    return
                if not await self.registry.broadcast_claim(session_id, self.worker_id, instead_of=owner):
                    return  # another worker continues or closes it
            closed = False
            try:
                await self._broadcast_close_stored(session_id)
                closed = True
            finally:
                # Cancelled halfway (the worker stops): still an orphan, for another worker.
                await self._broadcast_owner_release(session_id, ended=closed, tombstone=closed)
        finally:
            self._closing.discard(session_id)

    async def _broadcast_close_stored(self, session_id: int) -> None:
        current = await database_sync_to_async(broadcast_current)(session_id=session_id)
        folder = str(current.get("folder") or "")
        if not current.get("active"):
            return
        name = None
        if folder:
            try:
                name = await asyncio.to_thread(broadcast_stored_close, session_id, folder)
            except Exception:
                logger.exception("session %s: closing the stored broadcast %s failed", session_id, folder)
        await self._broadcast_kept(session_id, name, keep_now=True)
        await broadcast_event(session_id, active=False, folder=folder)
        logger.info("session %s: stored broadcast %s closed (%s)", session_id, folder, "kept" if name else "empty")
