"""The recording duties of a media worker that the registry adds: never an orphan's pieces left.

A recorder stores numbered pieces while it records (recording.py, "Why pieces"); when its
worker is killed, the worker that takes the session over (`_continue_recording`) or hears
it end (`_session_ended`) joins them into a recording. Neither need happen: if nobody's
media comes back to any worker, no live worker carries the session, so none continues it
and none hears it end, and the host, told the session was recorded, would get no
recording while the pieces stayed in storage.

So a recording is on in Redis like a broadcast (`placement.WorkerRegistry.recording_claim`:
the set `<ns>:media:recordings` and the owner key, claimed by compare-and-set), and every
live worker's heartbeat sweeps it (`_recording_orphans_sweep`): one without a live
recorder is kept at once when its session is over, or after
`RECORDING_ORPHAN_GRACE_SECONDS` when nobody continued it. The keeper claims the owner
key, joins the dead worker's pieces (each folder claimed once:
`recording_pieces_claim`), keeps the recording with the session and turns the notice
off. The embedded worker (no registry) is one process and needs none of this.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from channels.db import database_sync_to_async

from .broadcast_outcomes import broadcast_session_over
from .outcomes import recording_event, recordings_keep
from .routing import media_setting
from .selectors import media_recording_active

if TYPE_CHECKING:
    from typing import Any

    from .placement import WorkerRegistry
    from .recording import RoomRecorder

logger = logging.getLogger(__name__)


def recording_orphan_grace_seconds() -> float:
    """How long a recording may go without a live recorder before a worker keeps its pieces.

    30 s by default, like a broadcast's (worker_broadcast.orphan_grace_seconds): a session
    moved off a killed worker is continued at the first offer of its people on the next
    worker (8 s after a kill as measured, docs/broadcast.md), within a browser's 10-s
    reconnect backoff. Shorter would turn the notice off while people are on their way
    back (their continuation then sees it off and records nothing); a session's end does
    not wait for it.
    """
    return max(0.0, float(media_setting("RECORDING_ORPHAN_GRACE_SECONDS", 30)))


class WorkerRecordings:
    """The registry's recording duties of `MediaWorker` (sessions/media/worker.py)."""

    registry: WorkerRegistry | None
    worker_id: str
    draining: bool
    recorders: dict[int, RoomRecorder]
    #: Sessions whose orphaned recording this worker keeps now (`_recording_keep_orphan`).
    _keeping: set[int]

    if TYPE_CHECKING:
        async def _recover_pieces(self, session_id: int) -> list[str]: ...

        def _spawn_task(self, work: Any) -> None: ...

    async def _recording_owner_release(self, session_id: int, *, ended: bool) -> None:
        """This worker no longer records the session; ``ended``: not handed over (forgotten)."""
        if self.registry is None:
            return
        try:
            await self.registry.recording_release(session_id, self.worker_id, ended=ended)
        except Exception:
            logger.warning("session %s: the recording's owner key was not released", session_id, exc_info=True)

    async def _recording_orphans_sweep(self) -> None:
        """Keep the recordings nobody records (one heartbeat's look; with the registry).

        An orphan (on in Redis, its owner key missing or naming a worker whose heartbeat
        expired) is kept once `recording_orphan_grace_seconds` passed since a sweep first saw
        it, or at once when its session is over. The database is read only for orphans.
        A draining worker leaves this to the others (it is about to exit).
        """
        if self.registry is None or self.draining:
            return
        try:
            now = time.time()
            grace = recording_orphan_grace_seconds()
            for session_id, since in (await self.registry.recordings_unowned(now=now)).items():
                if session_id in self.recorders or session_id in self._keeping:
                    continue
                if now - since < grace and not await database_sync_to_async(broadcast_session_over)(session_id=session_id):
                    continue
                logger.warning("session %s: its recording has had no recorder for %.0f s; keeping its pieces",
                               session_id, now - since)
                self._spawn_task(self._recording_keep_orphan(session_id))
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("media worker %s: the recording orphan sweep failed", self.worker_id, exc_info=True)

    async def _recording_keep_orphan(self, session_id: int) -> None:
        """Keep what a recording no live worker records left: its dead worker's pieces joined
        into a recording with the session, and the room's notice off.

        Only the worker that wins the owner key by compare-and-set does it (a live owner
        means it is being recorded: left alone); afterwards the key says "ended" for a while,
        so a continuation that read the notice on before cannot claim it. Cancelled halfway
        (this worker stops), it stays an orphan for another worker.
        """
        if self.registry is None or session_id in self.recorders or session_id in self._keeping:
            return
        self._keeping.add(session_id)
        try:
            owner = await self.registry.recording_owner(session_id)
            if owner and owner != "ended" and await self.registry.worker(owner) is not None:
                return
            if not await self.registry.recording_claim(session_id, self.worker_id, instead_of=owner):
                return  # another worker continues or keeps it
            kept = False
            try:
                names = await self._recover_pieces(session_id)
                if names:
                    await database_sync_to_async(recordings_keep)(session_id, names)
                if await database_sync_to_async(media_recording_active)(session_id=session_id):
                    await recording_event(session_id, active=False)
                kept = True
                logger.info("session %s: orphaned recording kept (%d file(s))", session_id, len(names))
            finally:
                await self.registry.recording_release(session_id, self.worker_id, ended=kept, tombstone=kept)
        finally:
            self._keeping.discard(session_id)
