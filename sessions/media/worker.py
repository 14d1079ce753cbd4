"""The media worker: the one process that owns the media of its sessions.

Peer connections and forwarders cannot be shared between processes, so the media of a
session lives in exactly one worker. Room sockets may be spread over several daphne
processes: the signalling handlers (`sessions/media/signalling.py`) check permissions
where the socket is and forward each media message over the channel layer to
`worker_channel_for(session_id)`; the worker answers on the consumer's own channel with
`{"type": "media.signal", "message": {...}}`, which the consumer writes to its socket.

Embedded default (`MEDIA_WORKER_IN_PROCESS`, true unless set): the worker loop runs inside
the web process, started lazily by the first media message. In production separate
processes run `python manage.py media_worker` (Procfile line `media:`), and web processes
set `MEDIA_WORKER_IN_PROCESS=0`. Each worker announces itself and its load in Redis
(`placement.py`); a session is placed on the least loaded live worker at its first media
message, and moved (its browsers reconnect their media by themselves) when that worker
dies or drains. `MEDIA_PLACEMENT=static` keeps the older fixed spread: sessions over
`media-worker-<n>` channels by session id, one worker (`--index n`) per channel.

(About 700 lines, with its broadcasts in `worker_broadcast.py`: the worker is one loop of requests whose per-session state — rooms,
recorders, broadcasts, transcribers, routes — is changed under one set of locks.)

Around it: `worker_broadcast.py` holds its broadcast duties (start, stop, hand over,
continue), `routing.py` says which worker's channel a request goes to, `embedded.py`
runs the worker inside the web process, `outcomes.py` writes what the worker changes in
the room and the session (room events, kept recordings), `cascade.py` links the workers
of one session.

Everything a peer does arrives here as data; nothing a peer sends may stop the loop: each
request runs in its own task, errors become `media.error` replies, and a broken peer
connection is dropped by the SFU.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import socket
import time
import uuid
from collections import defaultdict
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from .broadcast import RoomBroadcaster
from .broadcast_outcomes import media_full_message
from .cascade import Cascade, cascade_enabled
from .outcomes import caption_line_store, media_moved, recording_event, recordings_keep, session_recordings_delete
from .placement import (
    WorkerInfo,
    WorkerLoad,
    WorkerRegistry,
    hard_limit,
    heartbeat_seconds,
    session_sfu_cap,
    worker_channel_prefix,
    worker_registry,
)
from .recording import RoomRecorder, recording_piece_owners, recording_pieces_recover
from .routing import SIGNAL, media_channel_layer, media_setting, placement_by_registry, worker_channel_of_index
from .selectors import media_captions_allowed, media_recording_continues
from .sfu import SFU, MediaConfig, MediaError
from .transcription import RoomTranscriber, captions_engine_name, speech_engine
from .worker_broadcast import WorkerBroadcasts
from .worker_recording import WorkerRecordings

logger = logging.getLogger(__name__)


def media_config_from_settings() -> MediaConfig:
    """ICE addresses and UDP ports from settings; limits from MediaConfig's defaults."""
    addresses = tuple(getattr(settings, "MEDIA_ICE_HOST_ADDRESSES", ("127.0.0.1",)) or ("127.0.0.1",))
    return MediaConfig(
        ice_host_addresses=addresses,
        port_min=int(getattr(settings, "MEDIA_UDP_PORT_MIN", 0)),
        port_max=int(getattr(settings, "MEDIA_UDP_PORT_MAX", 0)),
    )


class MediaWorker(WorkerBroadcasts, WorkerRecordings):
    """Owns an SFU and the recorders of its rooms; serves requests from one channel.

    Request (sent by the signalling handlers)::

        {"type": "media.request", "session_id": 7, "participant": "12",
         "reply_to": "<consumer channel>", "op": "offer", "may_publish": true,
         "may_send_audio": true, "checked_seq": 57,
         "message": {...the cleaned socket message...}}

    ops: offer, answer, candidate, subscribe, unsubscribe, quality, leave, record_start,
    record_stop, discard, session_ended, and `rights` (sent by the room's event listener in
    `signalling.py`, no reply: `{"publish", "audio", "removed", "reason", "seq"}` when the
    host takes the floor back, demotes, mutes or removes someone). Every reply and every
    message the SFU emits for a participant goes to the channel that participant last used.
    """

    def __init__(
        self, *, layer: Any = None, channel: str = "media-worker", config: MediaConfig | None = None,
        registry: WorkerRegistry | None = None, worker_id: str = "",
    ) -> None:
        self.layer = layer if layer is not None else media_channel_layer()
        self.channel = channel
        #: Set when sessions are placed through the registry: heartbeats, reaping, drain.
        self.registry = registry
        self.worker_id = worker_id
        self.draining = False
        self._cpu_mark = (time.monotonic(), time.process_time())
        self.config = config or media_config_from_settings()
        self.sfu = SFU(self.config, self._on_signal, on_left=self._on_left)
        self.routes: dict[tuple[str, str], str] = {}
        self.recorders: dict[int, RoomRecorder] = {}
        #: HLS broadcasts per session (broadcast.py): one encode, any number of viewers.
        self.broadcasts: dict[int, RoomBroadcaster] = {}
        #: Sessions whose broadcast this worker is taking over now (`_continue_broadcast`).
        self._continuing: set[int] = set()
        #: Sessions whose broadcast nobody encodes that this worker closes now (`_broadcast_close_orphan`).
        self._closing: set[int] = set()
        #: Sessions whose orphaned recording this worker keeps now (`_recording_keep_orphan`).
        self._keeping: set[int] = set()
        #: Automatic captions per session (transcription.py), when an engine is configured.
        self.transcribers: dict[int, RoomTranscriber] = {}
        #: Finished recordings per session (storage names), published when the session ends.
        self.finished: dict[int, list[str]] = defaultdict(list)
        self._locks: dict[tuple[str, str], asyncio.Lock] = defaultdict(asyncio.Lock)
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        #: Set once the worker listens on its channel.
        self.ready = asyncio.Event()
        #: One session across workers: the links to the other workers (with the registry only).
        self.cascade: Cascade | None = None
        if registry is not None and cascade_enabled():
            self.cascade = Cascade(
                worker_id=worker_id, sfu=self.sfu, registry=registry,
                host=str(media_setting("MEDIA_CASCADE_HOST", "127.0.0.1")), port=int(media_setting("MEDIA_CASCADE_PORT", 0)),
                on_peer_lost=self._peer_lost,
            )

    # ------------------------------------------------------------------ loop

    async def run(self) -> None:
        """Serve requests until cancelled; one task per request, ordered per participant."""
        try:
            await self._subscribe()
            if self.cascade is not None:
                await self.cascade.start()
            if self.registry is not None:
                await self._heartbeat_once()
                await self._broadcasts_adopt()
                heartbeat = asyncio.ensure_future(self._heartbeats())
                self._tasks.add(heartbeat)
                heartbeat.add_done_callback(self._tasks.discard)
            self.ready.set()
            logger.info("media worker listening on %s", self.channel)
            while not self._stopping:
                try:
                    request = await self.layer.receive(self.channel)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("media worker: channel layer receive failed; retrying")
                    await asyncio.sleep(1)
                    continue
                self._spawn(request)
        finally:
            await self.close()

    async def _subscribe(self) -> None:
        """Listen before anyone may send: a pub/sub layer drops what nobody listens to."""
        get_layer = getattr(self.layer, "_get_layer", None)  # RedisPubSubChannelLayer: per-loop layer
        target = get_layer() if callable(get_layer) else self.layer
        subscribe = getattr(target, "_subscribe_to_channel", None)
        if callable(subscribe) and self.channel not in getattr(target, "channels", {}):
            await subscribe(self.channel)

    def _spawn(self, request: dict[str, Any]) -> None:
        if request.get("type") == "schedule.event":  # the session group of a watched session
            task = asyncio.ensure_future(self.dispatch_schedule_event(request))
        else:
            task = asyncio.ensure_future(self._serve(request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, request: dict[str, Any]) -> None:
        key = (str(request.get("session_id")), str(request.get("participant", "")))
        async with self._locks[key]:
            try:
                await self.handle(request)
            except MediaError as error:
                await self._reply(request, {**error.as_message(), **_about(request)})
            except Exception:
                logger.exception("media worker: %s for session %s failed", request.get("op"), request.get("session_id"))
                await self._reply(
                    request, {"type": "media.error", "code": "server_error", "message": "The media server could not do that.", **_about(request)}
                )

    async def close(self) -> None:
        self._stopping = True
        for task in list(self._tasks):
            task.cancel()
        for session_id in list(self.recorders):
            await self._record_stop(session_id)
        for session_id in list(self.broadcasts):
            await self._broadcast_stop(session_id)
        for session_id in list(self.transcribers):
            await self._stop_captions(session_id)
        if self.cascade is not None:
            await self.cascade.close()
        await self.sfu.close()
        if self.registry is not None:
            try:
                await self.registry.withdraw(self.worker_id)
                await self.registry.close()
            except Exception:
                logger.warning("media worker %s: could not leave the registry", self.worker_id, exc_info=True)

    # ------------------------------------------------------ registry, drain

    def load(self) -> WorkerLoad:
        """What this worker carries now, and its CPU since the last heartbeat."""
        now, cpu = time.monotonic(), time.process_time()
        then, cpu_then = self._cpu_mark
        self._cpu_mark = (now, cpu)
        counts = self.sfu.load()
        return WorkerLoad(cpu=round(100 * (cpu - cpu_then) / max(now - then, 1e-3), 1), **counts)

    async def _heartbeat_once(self) -> None:
        assert self.registry is not None
        await self.registry.announce(WorkerInfo(
            id=self.worker_id, channel=self.channel, draining=self.draining, load=self.load(),
            link=self.cascade.address if self.cascade is not None else ""))

    async def _heartbeats(self) -> None:
        """Announce this worker; notice a drain request; move the sessions of dead workers;
        close the broadcasts nobody continued (`_broadcast_orphans_sweep`) and keep the recordings
        nobody carries on (`_recording_orphans_sweep`)."""
        assert self.registry is not None
        while not self._stopping:
            await asyncio.sleep(heartbeat_seconds())
            try:
                await self._heartbeat_once()
                if not self.draining and await self.registry.drain_requested(self.worker_id):
                    asyncio.ensure_future(self.drain())
                for worker_id, session_ids in (await self.registry.reap()).items():
                    for session_id in session_ids:
                        await media_moved(session_id, worker_id=worker_id, reason="worker_lost")
                await self._broadcast_orphans_sweep()
                await self._recording_orphans_sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("media worker %s: heartbeat failed", self.worker_id, exc_info=True)

    async def drain(self, *, timeout: float | None = None) -> None:
        """Hand every session over and stop taking new ones (a deploy, a SIGTERM).

        Broadcasts are handed over first (their last segments stored, the playlists left
        open, the owner key deleted), while the sessions are still placed here: a join
        that came in between would otherwise land on the next worker, which would continue
        the broadcast while this one still encoded the same segment numbers. Then the
        placements are released, so the next offer of each participant goes to another
        worker; each room is told to reconnect its media (`media.moved`), and a recording
        in progress is stored as a part and continued by the new worker. Returns when every
        participant has left or `timeout` passed.
        """
        if self.registry is None or self.draining:
            return
        self.draining = True
        await self._heartbeat_once()
        session_ids = sorted(set(await self.registry.sessions_of(self.worker_id)) | {int(r) for r in self.sfu.room_ids()})
        logger.info("media worker %s drains: %d session(s) move", self.worker_id, len(session_ids))
        for session_id in session_ids:
            if session_id in self.broadcasts:
                await self._broadcast_leave(session_id)
        await self.registry.release_participants(self.worker_id)
        for session_id in session_ids:
            await self.registry.release(session_id, self.worker_id)
            if session_id in self.recorders:
                await self._record_stop(session_id, continued=True)
            await media_moved(session_id, worker_id=self.worker_id, reason="worker_draining")
        deadline = time.monotonic() + (timeout if timeout is not None else float(media_setting("MEDIA_DRAIN_SECONDS", 30)))
        while time.monotonic() < deadline and self.sfu.load()["participants"]:
            await asyncio.sleep(0.2)
        if self.cascade is not None:
            for session_id in session_ids:
                await self.cascade.leave(session_id)
        logger.info("media worker %s drained", self.worker_id)

    async def _peer_lost(self, peer: str, session_ids: list[int]) -> None:
        """The link to a worker of shared sessions ended: if its process is gone, fail over now.

        A killed process's port refuses connections at once, so its people need not wait
        for its heartbeat to expire: the registry forgets it, its rooms are told to
        reconnect their media (`media.moved`), and a recording it ran continues here in
        a new part if this worker becomes the session's primary.
        """
        if self.registry is None or self.cascade is None or self._stopping:
            return
        if await self.cascade.peer_reachable(peer):
            return  # only the link broke; the next join or offer links again
        logger.warning("media worker %s: worker %s is gone; its sessions fail over", self.worker_id, peer)
        await self.registry.declare_dead(peer)
        for worker_id, reaped in (await self.registry.reap()).items():
            for session_id in reaped:
                await media_moved(session_id, worker_id=worker_id, reason="worker_lost")
        for session_id in session_ids:
            if self.sfu.get_room(str(session_id)) is None:
                continue
            if await self.registry.claim_primary(session_id, self.worker_id, instead_of="") or \
                    await self.registry.claim_primary(session_id, self.worker_id, instead_of=peer):
                await self._continue_recording(session_id)
                await self._continue_broadcast(session_id)

    # -------------------------------------------------------------- requests

    async def handle(self, request: dict[str, Any]) -> None:
        """Do one request (raises MediaError on refusals)."""
        op = request.get("op")
        session_id = int(request["session_id"])
        room_id = str(session_id)
        participant = str(request.get("participant", ""))
        message = request.get("message") or {}
        if op == "session_ended":
            await self._session_ended(session_id)
            return
        if op == "discard":
            outcome = await self._record_discard(session_id)
            await self._reply(request, {"type": "media.discarded", **outcome})
            if outcome["stopped"]:
                await recording_event(session_id, active=False, discarded=True)
            return
        if op == "record_start":
            await self._record_start(session_id, started_by=request.get("user_name", ""))
            return
        if op == "record_stop":
            await self._record_stop(session_id)
            return
        if op == "broadcast_start":
            await self._broadcast_start(session_id)
            return
        if op == "broadcast_stop":
            if session_id in self.broadcasts:
                await self._broadcast_stop(session_id)
            else:
                await self._broadcast_stop_stored(session_id)
            return
        if op == "rights":
            await self._apply_rights(room_id, participant, message)
            return
        reply_to = request.get("reply_to")
        if reply_to:
            previous = self.routes.get((room_id, participant))
            if previous and previous != reply_to and op == "offer":
                # The same person joined from another tab or reconnected: the new socket wins.
                room = self.sfu.get_room(room_id)
                if room is not None and participant in room.participant_ids:
                    await room.leave(participant)
                await self._send(previous, {"type": "media.closed", "reason": "replaced"})
            self.routes[(room_id, participant)] = reply_to
            if previous and previous != reply_to and op != "offer":
                # The room socket reconnected: whatever the old socket missed comes again.
                room = self.sfu.get_room(room_id)
                pending = room.pending_offer(participant) if room is not None else None
                if pending is not None:
                    await self._send(reply_to, pending)
                await self._send_state(room_id, participant)
        if op == "offer":
            if self.draining:
                raise MediaError("media_moved", "this media server is being replaced: join again")
            full = self._full_for(room_id, participant, viewer=not request.get("may_publish"))
            if full:
                user_id = int(participant) if participant.isdigit() else 0
                await self._reply(request, {**await media_full_message(session_id, user_id=user_id, reason=full), **_about(request)})
                return
            new_room = self.sfu.get_room(room_id) is None
            room = self.sfu.room(room_id)
            await self._watch_session(session_id)
            if new_room and self.cascade is not None:
                await self.cascade.join(session_id)
            if new_room and self.registry is not None:
                await self._continue_recording(session_id)
            if self.registry is not None and session_id not in self.broadcasts and session_id not in self._continuing:
                # On every offer, not only a new room's: this worker may already carry some of
                # the session's people when the broadcast's worker hands over or dies.
                self._spawn_task(self._continue_broadcast(session_id))  # storage reads: not before the answer
            if new_room:
                await self._start_captions(session_id)
            checked_seq = request.get("checked_seq")
            answer = await room.handle_offer(
                participant, message.get("sdp"), may_publish=bool(request.get("may_publish")),  # type: ignore[arg-type]  # checked by the room
                may_send_audio=bool(request.get("may_send_audio", True)),
                checked_seq=int(checked_seq) if checked_seq is not None else None,
                sources=_sources(message.get("sources")),
            )
            await self._reply(request, {"type": "media.answer", "sdp": answer, "worker": self.worker_id or self.channel, **_about(request)})
            await self._send_state(room_id, participant)
            return
        room = self.sfu.get_room(room_id)
        if room is None:
            if op == "leave":
                return
            raise MediaError("unknown_participant", "send an offer first")
        if op == "answer":
            await room.handle_answer(participant, message.get("sdp"))  # type: ignore[arg-type]  # checked by the room
        elif op == "candidate":
            await room.handle_ice_candidate(participant, message.get("candidate"))
        elif op == "subscribe":
            await room.subscribe(participant, str(message.get("publisher") or "*"), message.get("kinds") or ["audio", "video"])
        elif op == "quality":
            await room.set_quality(participant, str(message.get("video") or ""))
        elif op == "unsubscribe":
            await room.unsubscribe(participant, str(message.get("publisher") or "*"), message.get("kinds"))
        elif op == "leave":
            await room.leave(participant)
            self.routes.pop((room_id, participant), None)
            self._locks.pop((room_id, participant), None)
            await self._left(session_id, participant)
        else:
            raise MediaError("unknown_operation", f"unknown media operation {op!r}")

    def _on_left(self, room_id: str, participant: str) -> None:
        """The SFU dropped a participant (leave, removal, a peer connection failed or closed):
        give the seat back, under the participant's lock so a rejoin in progress wins.

        Only the seat: the room and its cascade link stay until an explicit leave or the
        session's end. A drop happens mid-failover too (people of a killed worker are
        rejoining here while their old links die), and closing a momentarily empty room
        then would cut the media that is coming back."""
        registry = self.registry
        if registry is None or self._stopping:
            return

        async def release() -> None:
            key = (room_id, participant)
            async with self._locks[key]:
                room = self.sfu.get_room(room_id)
                if room is not None and participant in room.participant_ids:
                    return  # joined again (a new tab, a reconnect) meanwhile: the seat is theirs
                try:
                    await registry.release_participant(int(room_id), participant, self.worker_id)
                except Exception:
                    logger.warning("session %s: releasing participant %s failed", room_id, participant, exc_info=True)

        self._spawn_task(release())

    async def _left(self, session_id: int, participant: str) -> None:
        """A participant's media left this worker; a room nobody uses here leaves the cascade."""
        if self.registry is None:
            return
        await self.registry.release_participant(session_id, participant, self.worker_id)
        room = self.sfu.get_room(str(session_id))
        if self.cascade is not None and room is not None and not room.participant_ids and session_id not in self.recorders:
            await self.cascade.leave(session_id)
            await self.sfu.close_room(str(session_id))

    async def _apply_rights(self, room_id: str, participant: str, message: dict[str, Any]) -> None:
        """The room changed what `participant` may send: cut what is no longer allowed.

        Removed from the room: the peer connection closes (`media.closed`, reason
        `removed`). Otherwise the SFU ends the publications that lost their right and
        refuses offers that send them until the rights come back.
        """
        room = self.sfu.get_room(room_id)
        if room is None or participant not in room.participant_ids:
            return
        reason = str(message.get("reason") or "rights_changed")[:40]
        if message.get("removed"):
            await room.leave(participant, reason=reason)
            self.routes.pop((room_id, participant), None)
            return
        await room.set_send_rights(
            participant, publish=bool(message.get("publish")), audio=bool(message.get("audio", True)),
            reason=reason, seq=int(message.get("seq") or 0),
        )

    def _full_for(self, room_id: str, participant: str, *, viewer: bool) -> str:
        """Why a new viewer cannot join here ("" if it can): without the registry, this
        worker is the session's only one, so its own counts are the session's.

        (With the registry the web process decides at placement: `placement.PlacementFull`.)
        """
        if self.registry is not None or not viewer:
            return ""
        room = self.sfu.get_room(room_id)
        present = room.participant_ids if room is not None else []
        if participant in present:
            return ""
        if session_sfu_cap() and len(present) >= session_sfu_cap():
            return "session_cap"
        if hard_limit() and self.sfu.load()["participants"] >= hard_limit():
            return "workers_full"
        return ""

    async def _send_state(self, room_id: str, participant: str) -> None:
        """What a (re)joining participant needs: publications and the speaker."""
        room = self.sfu.get_room(room_id)
        if room is None:
            return
        await self._send(self.routes.get((room_id, participant)), {
            "type": "media.publications", "publications": [p.describe() for p in room.publications()],
        })
        await self._send(self.routes.get((room_id, participant)), {"type": "media.speaker", "participant": room.active_speaker})

    # ------------------------------------------------------------- recording

    async def _record_start(self, session_id: int, *, started_by: str = "") -> None:
        if session_id in self.recorders:
            return
        room = self.sfu.room(str(session_id))
        await self._watch_session(session_id)
        recorder = RoomRecorder(room, session_id=session_id, owner=self.worker_id or self.channel)
        await recorder.start()
        self.recorders[session_id] = recorder
        await recording_event(session_id, active=True)  # first: never recording without the notice
        if self.registry is not None:  # on in Redis: kept by a live worker if this one dies
            try:
                await self.registry.recording_claim(session_id, self.worker_id,
                                                    instead_of=await self.registry.recording_owner(session_id))
            except Exception:
                logger.warning("session %s: the recording is not on in Redis (kept at its end only)", session_id,
                               exc_info=True)
        logger.info("session %s: recording started", session_id)

    def _spawn_task(self, work: Any) -> None:
        """Run `work` beside the request loop (kept until done; cancelled on close)."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _continue_recording(self, session_id: int) -> None:
        """A session moved here while it was recorded: record its next part.

        The notice stays on (no new event): the recording goes on for the people in it.
        """
        if session_id in self.recorders or not await database_sync_to_async(media_recording_continues)(session_id=session_id):
            return
        if self.registry is not None:
            primary = await self.registry.placed_on(session_id)
            if primary is not None and primary.id != self.worker_id:
                return  # the session's primary worker records it
            # Another live recorder, or a sweep that kept the dead worker's pieces and turned the
            # notice off ("ended") since the notice was read: not continued (compare-and-set).
            owner = await self.registry.recording_owner(session_id)
            if owner == "ended" or (owner and owner != self.worker_id and await self.registry.worker(owner) is not None):
                return
            if not await self.registry.recording_claim(session_id, self.worker_id, instead_of=owner):
                return
        recorder = RoomRecorder(self.sfu.room(str(session_id)), session_id=session_id, owner=self.worker_id)
        await recorder.start()
        self.recorders[session_id] = recorder
        recovered = await self._recover_pieces(session_id)
        if recovered:
            await database_sync_to_async(recordings_keep)(session_id, recovered)
        logger.info("session %s: recording continues in a new part on worker %s", session_id, self.worker_id)

    async def _start_captions(self, session_id: int) -> None:
        """Transcribe the session's speakers if an engine is configured (never a consult).

        Only the session's primary worker does, so each utterance gives one line.
        """
        if session_id in self.transcribers or not captions_engine_name():
            return
        if self.registry is not None:
            primary = await self.registry.placed_on(session_id)
            if primary is not None and primary.id != self.worker_id:
                return
        if not await database_sync_to_async(media_captions_allowed)(session_id=session_id):
            return
        engine = await asyncio.to_thread(speech_engine)
        room = self.sfu.get_room(str(session_id))
        if engine is None or room is None:
            return

        async def on_line(publisher_id: str, text: str) -> None:
            await database_sync_to_async(caption_line_store)(session_id, publisher_id, text)

        self.transcribers[session_id] = transcriber = RoomTranscriber(room, engine=engine, on_line=on_line)
        transcriber.start()
        logger.info("session %s: automatic captions (%s)", session_id, captions_engine_name())

    async def _stop_captions(self, session_id: int) -> None:
        transcriber = self.transcribers.pop(session_id, None)
        if transcriber is not None:
            await transcriber.stop()

    async def _recover_pieces(self, session_id: int) -> list[str]:
        """Join the stored pieces of recordings whose worker died (recording.py, "Why pieces").

        Only with the registry, which says who is alive; the embedded worker is one process.
        Each folder is joined by the one worker that claims it first (every worker carrying
        the session hears its end, and the sweep may look at once): one recording, kept once.
        """
        if self.registry is None:
            return []
        owners = await asyncio.to_thread(recording_piece_owners, session_id)
        dead = [folder for folder, owner in owners.items()
                if owner != self.worker_id and await self.registry.worker(owner) is None
                and await self.registry.recording_pieces_claim(session_id, folder, self.worker_id)]
        if not dead:
            return []
        try:
            return await asyncio.to_thread(recording_pieces_recover, session_id, dead)
        except BaseException:  # storage failed or this worker stops: another worker joins them
            await asyncio.shield(self.registry.recording_pieces_unclaim(session_id, dead, self.worker_id))
            raise

    async def _record_stop(self, session_id: int, *, continued: bool = False) -> str | None:
        """Stop and store the recording; ``continued``: another worker records the next part."""
        recorder = self.recorders.pop(session_id, None)
        if recorder is None:
            return None
        name = await recorder.stop_and_store()
        await self._recording_owner_release(session_id, ended=not continued)
        if name and continued:
            # The part is kept now: this worker will not be here when the session ends.
            await database_sync_to_async(recordings_keep)(session_id, [name])
        elif name:
            self.finished[session_id].append(name)
        if continued:
            logger.info("session %s: recording part stored (%s); the next worker continues", session_id, "stored" if name else "empty")
            return name
        await recording_event(session_id, active=False)
        logger.info("session %s: recording stopped (%s)", session_id, "stored" if name else "empty")
        return name

    async def _record_discard(self, session_id: int) -> dict[str, Any]:
        """Stop a running recording and delete every file of it that is not yet published."""
        recorder = self.recorders.pop(session_id, None)
        stopped = recorder is not None
        deleted = 0
        if recorder is not None:
            await recorder.discard()
            await self._recording_owner_release(session_id, ended=True)
            deleted += 1
        self.finished.pop(session_id, None)
        # Every stored file of the session, not only those this worker remembers: the
        # session may have ended (a consult's recordings stay in storage) or the worker
        # restarted since. No database work here: the caller may be waiting inside its
        # own transaction (consent withdrawal) on the one thread Django's sync work runs on.
        deleted += await asyncio.to_thread(session_recordings_delete, session_id)
        logger.info("session %s: recording discarded (stopped=%s, files=%s)", session_id, stopped, deleted)
        return {"stopped": stopped, "deleted_files": deleted}

    async def _session_ended(self, session_id: int) -> None:
        await self._record_stop(session_id)
        await self._broadcast_end(session_id)  # also one handed over that nobody continued
        await self._stop_captions(session_id)
        names = self.finished.pop(session_id, []) + await self._recover_pieces(session_id)
        if names:
            await database_sync_to_async(recordings_keep)(session_id, names)
        room = self.sfu.get_room(str(session_id))
        if room is not None:
            for participant in room.participant_ids:
                await self._send(self.routes.get((str(session_id), participant)), {"type": "media.closed", "reason": "session ended"})
        if self.cascade is not None:
            await self.cascade.leave(session_id)
        await self.sfu.close_room(str(session_id))
        for key in [k for k in self.routes if k[0] == str(session_id)]:
            self.routes.pop(key, None)
            self._locks.pop(key, None)
            if self.registry is not None:
                await self.registry.release_participant(session_id, key[1], self.worker_id)
        if self.registry is not None:
            await self.registry.release(session_id, self.worker_id)

    async def _watch_session(self, session_id: int) -> None:
        """Hear the session's scheduling events (to finish recordings when it ends)."""
        from sessions.scheduling.events import session_group_name

        try:
            await self.layer.group_add(session_group_name(session_id), self.channel)
        except Exception:
            logger.warning("session %s: cannot watch scheduling events", session_id, exc_info=True)

    # -------------------------------------------------------------- replies

    def _on_signal(self, room_id: str, participant_id: str, message: dict[str, Any]) -> Any:
        return self._send(self.routes.get((room_id, participant_id)), message)

    async def _reply(self, request: dict[str, Any], message: dict[str, Any]) -> None:
        await self._send(request.get("reply_to"), message)

    async def _send(self, channel: str | None, message: dict[str, Any]) -> None:
        if not channel:
            return
        try:
            await self.layer.send(channel, {"type": SIGNAL, "message": message})
        except Exception:  # a full or vanished consumer channel must not break the room
            logger.warning("media worker: reply to a consumer failed", exc_info=True)

    async def dispatch_schedule_event(self, event: dict[str, Any]) -> None:
        """A watched session ended or was cancelled: finish its recording, close its media."""
        if event.get("event") in ("session.ended", "session.cancelled") and event.get("session_id") is not None:
            try:
                await self._session_ended(int(event["session_id"]))
            except Exception:
                logger.exception("session %s: ending its media failed", event.get("session_id"))


def _about(request: dict[str, Any]) -> dict[str, Any]:
    """The client's message id, so it can match a reply or error to what it sent."""
    message = request.get("message") or {}
    return {"reply_to": message["id"]} if message.get("id") else {}


def _sources(value: Any) -> dict[str, str] | None:
    if not isinstance(value, dict):
        return None
    return {str(k)[:8]: str(v) for k, v in list(value.items())[:8] if v in ("camera", "screen")}


# ------------------------------------------------------------------ in process


def new_worker_id() -> str:
    """Unique per process start: host, pid and a random part (channel-name safe)."""
    host = "".join(c if c.isalnum() or c in "-." else "-" for c in socket.gethostname())[:40] or "host"
    return f"{host}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


async def run_worker_process(*, index: int = 0, install_signals: tuple[int, ...] = ()) -> None:
    """The body of `manage.py media_worker`: serve until SIGTERM, then hand over and stop.

    With the registry (the default beside Redis) SIGTERM drains first: the sessions move
    to the other workers and their browsers reconnect their media, then the process exits.
    """
    if placement_by_registry():
        worker_id = new_worker_id()
        worker = MediaWorker(channel=f"{worker_channel_prefix()}{worker_id}", registry=worker_registry(), worker_id=worker_id)
    else:
        worker = MediaWorker(channel=worker_channel_of_index(index))
    task = asyncio.ensure_future(worker.run())
    loop = asyncio.get_running_loop()

    def stop(*, drain: bool) -> None:
        async def drain_then_stop() -> None:
            try:
                await worker.drain()
            finally:
                task.cancel()
        if drain and worker.registry is not None and not worker.draining:
            asyncio.ensure_future(drain_then_stop())
        else:
            task.cancel()

    for signum in install_signals:
        # SIGTERM (a deploy) hands the sessions over first; SIGINT stops at once (leaving
        # the registry cleanly: the sessions move when their people next offer).
        loop.add_signal_handler(signum, functools.partial(stop, drain=signum == signal.SIGTERM))
    logger.info("media worker %s started on %s", worker.worker_id or index, worker.channel)
    try:
        await task
    except asyncio.CancelledError:
        pass
    logger.info("media worker %s stopped", worker.worker_id or index)
