"""The selective forwarding unit: peer connections, publications, subscriptions.

Why one long module (about 850 lines): `MediaRoom` is one state machine per room —
negotiation, subscription slots, send rights and quality choice all change the same
participant under the same lock and renegotiate through the same `_sync`; split apart,
the parts would pass that lock and state around. Its plain data (config, errors,
publications, participants) lives in `room_parts.py`.

One :class:`MediaRoom` holds the media of one live session; the :class:`SFU`
is the registry of rooms living in this worker process.  Nothing here knows
about Django: the room's WebSocket consumer turns client messages into calls
(``handle_offer``, ``handle_answer``, ``subscribe`` ...) and delivers what the
room emits through ``on_signal(participant_id, message)``.

Each participant has one server-side ``RTCPeerConnection``.  The client makes
the first offer (its published tracks, or just a data channel for a viewer);
the server answers.  Tracks the participant subscribes to are added by the
server, which then sends its own offer (``media.offer``) and expects
``handle_answer``.  Server offers are only made on a connected peer
connection in the ``stable`` state, so they never cross the answer to the
client's offer; a client offer that arrives while a server offer is
outstanding is refused with ``negotiation_in_progress`` (the client answers
first, then offers again).

Messages emitted through ``on_signal`` (all JSON-serialisable dicts)::

    {"type": "media.offer", "sdp": "...",
     "tracks": [{"mid": "3", "publisher": "p1", "track": "p1:0",
                 "kind": "video", "source": "camera"}]}
    {"type": "media.publications",
     "publications": [{"publisher": "p1", "track": "p1:0",
                       "kind": "video", "source": "camera"}]}
    {"type": "media.speaker", "participant": "p1"}      # or null
    {"type": "media.closed", "reason": "connection failed"}
    {"type": "media.unpublished", "reason": "floor_revoked",
     "tracks": ["p1:0", "p1:1"], "sources": ["audio", "camera"]}
    {"type": "media.quality", "video": "low", "mode": "auto", "reason": "estimate",
     "estimate": 240000, "needed": 1100000}
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict
from typing import Any

from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc import sdp as aiortc_sdp

from .forwarding import ActiveSpeakerDetector, SubscriberSlot, TrackForwarder
from .quality import AutoQuality, AutoQualityPolicy
from .renegotiation import keep_negotiated_numbering
from .room_parts import (
    ALL_PUBLISHERS,
    FORWARDED_MIME_TYPES,
    MAX_SUBSCRIBED_PUBLISHERS,
    QUALITY_MODES,
    SOURCES,
    MediaConfig,
    MediaError,
    Participant,
    Publication,
    SendRights,
    SignalCallback,
    Slot,
    expand_kinds,
    parse_sdp,
    sending_sections,
)
from .tap import (
    TappedFrame,
    forward_audio_levels,
    hook_bandwidth_estimates,
    hook_keyframe_requests,
    restrict_ice,
    sender_ssrc,
    share_packetisation,
    tap_receiver,
)

logger = logging.getLogger(__name__)


class MediaRoom:
    """The media of one live session: who publishes what, who receives what."""

    def __init__(self, room_id: str, *, config: MediaConfig, on_signal: SignalCallback) -> None:
        self.room_id = room_id
        self.config = config
        self._on_signal = on_signal
        self._participants: dict[str, Participant] = {}
        self._speakers = ActiveSpeakerDetector()
        self._speaker_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self._closed = False
        #: Publications relayed from the session's other workers (cascade.py), by track id.
        self._relayed: dict[str, Publication] = {}
        #: Called whenever the publications change (the cascade tells the other workers).
        self.on_publications_changed: Callable[[], None] | None = None
        #: Called with a participant's id when their media leaves the open room, whatever
        #: the reason: `leave`, removal, a peer connection that failed or closed.
        self.on_left: Callable[[str], Any] | None = None
        #: Set by the cascade: a publisher may be on another worker and not have published
        #: yet, so a subscription to an id this worker does not know is remembered.
        self.spans_workers = False

    # ---------------------------------------------------------------- queries

    @property
    def participant_ids(self) -> list[str]:
        return list(self._participants)

    @property
    def active_speaker(self) -> str | None:
        return self._speakers.current

    def publications(self) -> list[Publication]:
        """Every publication of the session: published here and relayed from other workers."""
        return self.local_publications() + list(self._relayed.values())

    def local_publications(self) -> list[Publication]:
        return [pub for p in self._participants.values() for pub in p.publications.values()]

    def relayed_publication(self, track_id: str) -> Publication | None:
        return self._relayed.get(track_id)

    def add_relayed_publication(
        self, *, origin: str, publisher_id: str, track_id: str, kind: str, source: str,
        request_keyframe: Callable[[], None],
    ) -> Publication | None:
        """A publication of another worker of the session, fed by the cascade link.

        To subscribers, the recorder, the low-quality copy and speaker detection it is a
        publication like any other; keyframe requests go back over the link.
        """
        if self._closed or kind not in ("audio", "video") or source not in SOURCES:
            return None
        existing = self._relayed.get(track_id)
        if existing is not None:
            return existing if existing.origin == origin else None
        forwarder = TrackForwarder(
            kind=kind, request_keyframe=request_keyframe,
            queue_frames=self.config.video_queue_frames if kind == "video" else self.config.audio_queue_frames,
            label=f"{track_id}@{origin}",
        )
        publication = Publication(
            publisher_id=publisher_id, track_id=track_id, kind=kind, source=source, mid="", forwarder=forwarder,
            origin=origin, keyframe_requester=request_keyframe,
        )
        if kind == "audio":
            forwarder.observers.append(lambda frame: self._speakers.observe(publisher_id, frame))
            self._ensure_speaker_task()
        self._relayed[track_id] = publication
        logger.info("room %s: relays %s from worker %s", self.room_id, track_id, origin)
        self._after_publications_changed()
        return publication

    def remove_relayed_publications(self, *, origin: str, track_ids: Iterable[str] | None = None) -> int:
        """The origin stopped publishing them (or the link to it ended): subscribers let go."""
        wanted = set(track_ids) if track_ids is not None else None
        gone = [pub for track_id, pub in self._relayed.items()
                if pub.origin == origin and (wanted is None or track_id in wanted)]
        for pub in gone:
            del self._relayed[pub.track_id]
            pub.close()
            if not any(p.publisher_id == pub.publisher_id and p.kind == "audio" for p in self.publications()):
                self._speakers.forget(pub.publisher_id)
        if gone and not self._closed:
            self._after_publications_changed()
        return len(gone)

    def peer_connection(self, participant_id: str) -> RTCPeerConnection | None:
        """The server-side peer connection (for stats and tests)."""
        participant = self._participants.get(participant_id)
        return participant.pc if participant else None

    def pending_offer(self, participant_id: str) -> dict[str, Any] | None:
        """The server offer still waiting for this participant's answer, if any.

        Sent again when the participant's socket reconnects, since the first copy
        may have gone to the socket that died.
        """
        participant = self._participants.get(participant_id)
        if participant is None or participant.pc.signalingState != "have-local-offer":
            return None
        return participant.last_offer

    def stats(self) -> dict[str, Any]:
        """Counters per publication and per subscriber leg."""
        result: dict[str, Any] = {}
        for pub in self.publications():
            legs = {}
            for subscriber_id in pub.forwarder.subscriber_ids:
                queue = pub.forwarder.queue_of(subscriber_id)
                if queue is not None:
                    legs[subscriber_id] = asdict(queue.stats)
            result[pub.track_id] = {
                "frames": pub.forwarder.frames,
                "keyframes": pub.forwarder.keyframes,
                "plis_sent": pub.tap.plis_sent if pub.tap else 0,
                "subscribers": legs,
            }
            copy = pub.low_copy
            if copy is not None:
                low_legs = {}
                for subscriber_id in copy.forwarder.subscriber_ids:
                    queue = copy.forwarder.queue_of(subscriber_id)
                    if queue is not None:
                        low_legs[subscriber_id] = asdict(queue.stats)
                result[pub.track_id]["low"] = {**asdict(copy.stats), "subscribers": low_legs}
        return result

    # ------------------------------------------------------------- signalling

    async def handle_offer(
        self,
        participant_id: str,
        sdp: str,
        *,
        may_publish: bool,
        may_send_audio: bool = True,
        checked_seq: int | None = None,
        sources: Mapping[str, str] | None = None,
    ) -> str:
        """Apply a client offer and return the answer SDP.

        ``may_publish`` comes from the caller's permission check (the host gave
        the floor, consent was recorded); without it an offer that sends media
        is refused.  ``may_send_audio`` is False for someone the host muted.
        ``checked_seq`` is the room's event number when that check read the
        database: a check older than the last :meth:`set_send_rights` cannot
        undo it.  ``sources`` maps a sending mid to ``camera`` or
        ``screen``; by default the first video is the camera, later ones
        screens.  On any failure a peer connection created for this offer is
        closed again and :class:`MediaError` is raised.
        """
        self._assert_open()
        description = parse_sdp(sdp, kind="offer")
        sending = sending_sections(description)
        known = self._participants.get(participant_id)
        rights = known.rights if known is not None else None
        if rights is not None and (checked_seq is None or checked_seq < rights.seq):
            may_publish = may_publish and rights.publish
            may_send_audio = may_send_audio and rights.audio
        if sending and not may_publish:
            raise MediaError("not_allowed_to_publish", "this participant may not send media in this session")
        if not may_send_audio and any(media.kind == "audio" for media in sending):
            raise MediaError("muted", "the host has muted you: send without the microphone")
        if len(sending) > self.config.max_published_tracks:
            raise MediaError(
                "too_many_tracks",
                f"{len(sending)} tracks offered, at most {self.config.max_published_tracks} may be published",
            )
        for media in sending:
            offered = {codec.mimeType.lower() for codec in media.rtp.codecs}
            if not offered & FORWARDED_MIME_TYPES:
                raise MediaError("unsupported_codec", f"{media.kind} must offer one of {sorted(FORWARDED_MIME_TYPES)}")

        participant = self._participants.get(participant_id)
        created = participant is None
        if participant is None:
            participant = self._new_participant(participant_id)
        async with participant.lock:
            if participant.pc.signalingState != "stable":
                raise MediaError(
                    "negotiation_in_progress",
                    "answer the server's offer first, then send this offer again",
                )
            participant.may_publish = may_publish
            participant.sources.update(self._default_sources(participant, description, sources))
            try:
                await participant.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
                restrict_ice(participant.pc, self.config.ice_restriction())
                answer = await participant.pc.createAnswer()
                await participant.pc.setLocalDescription(answer)
            except Exception as exc:
                logger.warning("room %s participant %s: offer failed: %r", self.room_id, participant_id, exc)
                if created:
                    await self._drop_participant(participant_id, reason=None)
                raise MediaError("malformed_sdp", f"the offer could not be applied ({exc})") from exc
            ended = self._unpublish_stopped_tracks(participant, description)
        if participant.publications or ended:
            self._after_publications_changed()
        if participant.subscriptions:
            self._schedule_sync(participant, delay=self.config.renegotiation_delay)
        return participant.pc.localDescription.sdp

    async def handle_answer(self, participant_id: str, sdp: str) -> None:
        """Apply the client's answer to the server's last ``media.offer``."""
        self._assert_open()
        participant = self._participant(participant_id)
        parse_sdp(sdp, kind="answer")
        async with participant.lock:
            if participant.pc.signalingState != "have-local-offer":
                raise MediaError("no_offer_pending", "there is no server offer to answer")
            try:
                await participant.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
            except Exception as exc:
                logger.warning("room %s participant %s: answer failed: %r", self.room_id, participant_id, exc)
                self._schedule(self._drop_participant(participant_id, reason="negotiation failed"))
                raise MediaError("malformed_sdp", f"the answer could not be applied ({exc})") from exc
        if participant.needs_negotiation:
            self._schedule_sync(participant, delay=0)

    async def handle_ice_candidate(self, participant_id: str, candidate: Mapping[str, Any] | None) -> None:
        """Add a trickled remote candidate (browser shape: candidate, sdpMid)."""
        participant = self._participant(participant_id)
        if not candidate or not candidate.get("candidate"):
            return  # end of candidates: aiortc needs no notice
        try:
            parsed = aiortc_sdp.candidate_from_sdp(str(candidate["candidate"]).removeprefix("candidate:"))
            parsed.sdpMid = candidate.get("sdpMid")
            parsed.sdpMLineIndex = candidate.get("sdpMLineIndex")
            await participant.pc.addIceCandidate(parsed)
        except Exception as exc:
            raise MediaError("malformed_sdp", f"bad ICE candidate ({type(exc).__name__})") from exc

    # ----------------------------------------------------------- subscriptions

    async def subscribe(
        self, participant_id: str, publisher_id: str, kinds: Iterable[str] = ("audio", "video")
    ) -> None:
        """Receive ``kinds`` of ``publisher_id`` (or of everyone: ``"*"``).

        Subscriptions are remembered, so a publisher who starts later is
        forwarded as soon as it publishes.  Renegotiation follows when the
        peer connection is ready.
        """
        self._assert_open()
        participant = self._participant(participant_id)
        wanted = expand_kinds(kinds)
        known = publisher_id in self._participants or any(
            pub.publisher_id == publisher_id for pub in self._relayed.values())
        if publisher_id != ALL_PUBLISHERS and not known and not self.spans_workers:
            raise MediaError("unknown_publisher", f"{publisher_id!r} is not in this room")
        if publisher_id not in participant.subscriptions and len(participant.subscriptions) >= MAX_SUBSCRIBED_PUBLISHERS:
            raise MediaError("too_many_subscriptions", f"subscribe to at most {MAX_SUBSCRIBED_PUBLISHERS} publishers, or to everyone")
        participant.subscriptions.setdefault(publisher_id, set()).update(wanted)
        await self._sync(participant)

    async def unsubscribe(
        self, participant_id: str, publisher_id: str, kinds: Iterable[str] | None = None
    ) -> None:
        """Stop receiving ``kinds`` (default: everything) of ``publisher_id``."""
        participant = self._participant(participant_id)
        current = participant.subscriptions.get(publisher_id)
        if current is None:
            return
        current -= expand_kinds(kinds) if kinds is not None else set(SOURCES)
        if not current:
            del participant.subscriptions[publisher_id]
        await self._sync(participant)

    async def set_quality(self, participant_id: str, video: str) -> None:
        """Which version of every subscribed video this participant receives.

        ``high``: the original; ``low``: the publication's shared
        low-resolution copy (started for the first low subscriber, stopped
        after the last); ``off``: no video, audio only; ``auto`` (the default):
        the server picks high or low from the participant's bandwidth estimate
        (``quality.AutoQuality``).  An explicit choice wins until ``auto`` comes
        back.  The participant is told what it gets (``media.quality``).
        """
        self._assert_open()
        participant = self._participant(participant_id)
        if video not in QUALITY_MODES:
            raise MediaError("invalid_quality", f"video quality must be one of {', '.join(QUALITY_MODES)}")
        participant.video_mode = video
        logger.info("room %s participant %s: video quality %s", self.room_id, participant_id, video)
        await self._apply_quality(participant, reason="requested", always_tell=True)

    def quality(self, participant_id: str) -> dict[str, Any]:
        """What this participant asked for and gets, and the estimate behind it (stats, tests)."""
        participant = self._participant(participant_id)
        return {
            "mode": participant.video_mode, "video": participant.video_quality,
            "estimate": participant.estimate, "needed": participant.needed,
            "probing": participant.auto_quality.probing,
        }

    async def _apply_quality(self, participant: Participant, *, reason: str, always_tell: bool = False) -> None:
        """Apply the participant's mode (or the automatic choice) to its slots and tell it."""
        mode = participant.video_mode
        quality = mode if mode != "auto" else ("low" if participant.auto_quality.low else "high")
        changed = quality != participant.video_quality
        participant.video_quality = quality
        if changed or always_tell:
            self._emit(participant.id, {
                "type": "media.quality", "video": quality, "mode": mode, "reason": reason,
                "estimate": participant.estimate, "needed": participant.needed,
            })
        if changed:
            logger.info("room %s participant %s: video %s (%s, %s)", self.room_id, participant.id, quality, mode, reason)
            await self._sync(participant)

    def _on_estimate(self, participant: Participant, bitrate: int, ssrcs: list[int]) -> None:
        """A REMB from the participant's browser: feed the automatic choice.

        The estimate covers the SSRCs it lists (a browser lists every stream it
        measured, aiortc one); it is compared with what the *originals* of those
        streams need, whichever version the participant gets now.
        """
        if participant.closed or self._closed:
            return
        now = asyncio.get_running_loop().time()
        key = (bitrate, tuple(ssrcs))
        last = participant.last_remb
        if last is not None and last[:2] == key and now - last[2] < 0.1:
            return  # the same REMB, routed to each sender it lists
        participant.last_remb = (*key, now)
        covered = [
            slot for slot in participant.slots
            if slot.publication is not None and sender_ssrc(slot.transceiver.sender) in ssrcs
        ]
        if not any(slot.publication.kind == "video" for slot in covered if slot.publication):
            return
        need = sum(slot.publication.forwarder.rate.bitrate() for slot in covered if slot.publication)
        participant.estimate, participant.needed = bitrate, need
        if self.config.auto_quality is None:
            return
        before = participant.auto_quality.low
        participant.auto_quality.observe(now=now, estimate=bitrate, need=need)
        if participant.auto_quality.low != before and participant.video_mode == "auto":
            self._schedule(self._apply_quality(participant, reason=participant.auto_quality.reason))

    async def set_send_rights(
        self, participant_id: str, *, publish: bool, audio: bool = True, reason: str, seq: int = 0
    ) -> list[str]:
        """What ``participant_id`` may send from now on; returns the tracks it ended.

        Called when the room changes it (the host took the floor back, demoted a
        presenter, muted someone).  Publications that are no longer allowed stop
        at once for every subscriber (``media.publications`` without them), the
        participant is told with ``media.unpublished`` and its reason, and offers
        that send them are refused until the rights come back.  Rights older than
        ones already applied (``seq``) are ignored.  Someone not in the room:
        nothing to do.
        """
        participant = self._participants.get(participant_id)
        if participant is None or (participant.rights is not None and seq < participant.rights.seq):
            return []
        participant.rights = SendRights(publish=publish, audio=audio, seq=seq)
        ended = [
            pub for pub in participant.publications.values()
            if not publish or (pub.kind == "audio" and not audio)
        ]
        for pub in ended:
            del participant.publications[pub.mid]
            pub.close()
            if pub.kind == "audio":
                self._speakers.forget(participant_id)
        if not ended:
            return []
        logger.info("room %s participant %s: %d tracks cut (%s)", self.room_id, participant_id, len(ended), reason)
        self._emit(participant_id, {
            "type": "media.unpublished", "reason": reason,
            "tracks": [pub.track_id for pub in ended], "sources": [pub.source for pub in ended],
        })
        self._after_publications_changed()
        return [pub.track_id for pub in ended]

    async def leave(self, participant_id: str, *, reason: str | None = None) -> None:
        """Remove a participant: its tracks stop for everyone, its connection closes.

        With a ``reason`` (e.g. ``removed``) the participant is told ``media.closed``.
        """
        await self._drop_participant(participant_id, reason=reason)

    async def close(self) -> None:
        """Close every peer connection; the room cannot be used afterwards."""
        if self._closed:
            return
        self._closed = True
        if self._speaker_task is not None:
            self._speaker_task.cancel()
        for task in list(self._tasks):
            task.cancel()
        for participant_id in list(self._participants):
            await self._drop_participant(participant_id, reason=None, notify_others=False)
        for publication in self._relayed.values():
            publication.close()
        self._relayed.clear()

    # --------------------------------------------------------------- internals

    def _assert_open(self) -> None:
        if self._closed:
            raise MediaError("room_closed", "the media of this session has ended")

    def _participant(self, participant_id: str) -> Participant:
        participant = self._participants.get(participant_id)
        if participant is None:
            raise MediaError("unknown_participant", "send an offer first")
        return participant

    def _new_participant(self, participant_id: str) -> Participant:
        pc = RTCPeerConnection(self.config.rtc_configuration())
        policy = self.config.auto_quality or AutoQualityPolicy()
        participant = Participant(id=participant_id, pc=pc, auto_quality=AutoQuality(policy))
        self._participants[participant_id] = participant

        @pc.on("track")
        def on_track(track: Any) -> None:
            self._on_track(participant, track)

        @pc.on("connectionstatechange")
        def on_state() -> None:
            state = pc.connectionState
            logger.info("room %s participant %s: connection %s", self.room_id, participant_id, state)
            if state == "connected" and participant.needs_negotiation:
                self._schedule_sync(participant, delay=0)
            elif self._participants.get(participant_id) is not participant:
                return  # an old connection of someone who has joined again
            elif state == "failed":
                self._schedule(self._drop_participant(participant_id, reason="connection failed"))
            elif state == "closed" and not participant.closed:
                # The browser went away (tab closed: DTLS close) without saying goodbye.
                self._schedule(self._drop_participant(participant_id, reason="connection closed"))

        logger.info("room %s participant %s: peer connection created", self.room_id, participant_id)
        return participant

    @staticmethod
    def _default_sources(
        participant: Participant,
        description: aiortc_sdp.SessionDescription,
        sources: Mapping[str, str] | None,
    ) -> dict[str, str]:
        result: dict[str, str] = {}
        # A camera that was cut (floor taken back) leaves its label behind, so look at
        # what is published now: a new camera after the floor comes back is a camera.
        has_camera = any(pub.source == "camera" for pub in participant.publications.values())
        for media in sending_sections(description):
            mid = media.rtp.muxId
            if mid in participant.sources:
                continue
            wanted = (sources or {}).get(mid)
            if media.kind == "audio":
                result[mid] = "audio"
            elif wanted in ("camera", "screen"):
                result[mid] = wanted
            else:
                result[mid] = "screen" if has_camera else "camera"
            has_camera = has_camera or result[mid] == "camera"
        return result

    def _on_track(self, participant: Participant, track: Any) -> None:
        transceiver = next(
            (t for t in participant.pc.getTransceivers() if t.receiver.track is track), None
        )
        if transceiver is None or transceiver.mid is None:
            return
        mid = transceiver.mid
        kind = track.kind
        source = participant.sources.get(mid, "audio" if kind == "audio" else "camera")
        track_id = f"{participant.id}:{mid}"
        publication: Publication

        def request_keyframe() -> None:
            if publication.tap is not None:
                publication.tap.request_keyframe()

        forwarder = TrackForwarder(
            kind=kind,
            request_keyframe=request_keyframe,
            queue_frames=self.config.video_queue_frames if kind == "video" else self.config.audio_queue_frames,
            label=track_id,
        )
        publication = Publication(
            publisher_id=participant.id, track_id=track_id, kind=kind, source=source, mid=mid, forwarder=forwarder
        )
        if kind == "audio":
            forwarder.observers.append(lambda frame: self._speakers.observe(participant.id, frame))
            self._ensure_speaker_task()
        publication.tap = tap_receiver(
            transceiver.receiver,
            kind=kind,
            on_frame=self._checked_push(publication),
            on_end=lambda: self._on_publication_ended(participant, publication),
            pli_interval=self.config.pli_interval,
        )
        participant.publications[mid] = publication
        logger.info("room %s participant %s: publishes %s (%s)", self.room_id, participant.id, track_id, source)

    def _checked_push(self, publication: Publication) -> Callable[[TappedFrame], None]:
        """Forward only codecs every subscriber can take, and say so once."""
        warned = False

        def push(frame: TappedFrame) -> None:
            nonlocal warned
            if frame.mime_type not in FORWARDED_MIME_TYPES:
                if not warned:
                    warned = True
                    logger.warning("room %s track %s: %s is not forwarded", self.room_id, publication.track_id, frame.mime_type)
                return
            publication.forwarder.push(frame)

        return push

    def _on_publication_ended(self, participant: Participant, publication: Publication) -> None:
        if participant.publications.get(publication.mid) is not publication:
            return
        del participant.publications[publication.mid]
        publication.close()
        logger.info("room %s participant %s: track %s ended", self.room_id, participant.id, publication.track_id)
        if not participant.closed and not self._closed:
            self._after_publications_changed()

    def _unpublish_stopped_tracks(
        self, participant: Participant, description: aiortc_sdp.SessionDescription
    ) -> bool:
        """Drop publications whose m-line the client no longer sends on."""
        sending = {media.rtp.muxId for media in sending_sections(description)}
        ended = False
        for mid, publication in list(participant.publications.items()):
            if mid not in sending:
                del participant.publications[mid]
                publication.close()
                ended = True
        return ended

    def _after_publications_changed(self) -> None:
        """Tell everyone what is published, and renegotiate affected subscribers."""
        message = {
            "type": "media.publications",
            "publications": [pub.describe() for pub in self.publications()],
        }
        if self.on_publications_changed is not None:
            try:
                self.on_publications_changed()
            except Exception:
                logger.exception("room %s: telling the other workers failed", self.room_id)
        for participant in list(self._participants.values()):
            self._emit(participant.id, message)
            self._schedule_sync(participant, delay=0)

    def _desired(self, participant: Participant) -> list[Publication]:
        wanted: list[Publication] = []
        for pub in self.publications():
            if pub.publisher_id == participant.id or pub.forwarder.closed:
                continue
            if pub.kind == "video" and participant.video_quality == "off":
                continue
            sources = participant.subscriptions.get(pub.publisher_id, set()) | participant.subscriptions.get(
                ALL_PUBLISHERS, set()
            )
            if pub.source in sources:
                wanted.append(pub)
        return wanted[: self.config.max_subscribed_tracks]

    def _schedule_sync(self, participant: Participant, *, delay: float) -> None:
        async def later() -> None:
            if delay:
                await asyncio.sleep(delay)
            await self._sync(participant)

        self._schedule(later())

    async def _sync(self, participant: Participant) -> None:
        """Make the participant's outgoing slots match its subscriptions."""
        if participant.closed or self._closed:
            return
        async with participant.lock:
            changed = self._sync_slots(participant)
            if changed or participant.needs_negotiation:
                await self._offer(participant)

    def _sync_slots(self, participant: Participant) -> bool:
        if participant.pc.remoteDescription is None:
            return False
        desired = {pub.track_id: pub for pub in self._desired(participant)}
        low = participant.video_quality == "low"
        changed = False
        for slot in participant.slots:
            pub = slot.publication
            if pub is not None and (pub.track_id not in desired or desired[pub.track_id] is not pub):
                slot.release(participant.id)
                slot.slot.detach()
                slot.publication = None
                slot.low = False
                slot.transceiver.direction = "inactive"
                changed = True
            elif pub is not None and pub.kind == "video" and slot.low != low:
                # Quality switch: the same m-line, the same codec, another
                # fan-out; no renegotiation.  The new queue starts at a keyframe.
                slot.release(participant.id)
                slot.low = low
                slot.slot.attach(self._subscribe_queue(participant, pub, low=low), (pub.publisher_id, pub.track_id))
        attached = {slot.publication.track_id for slot in participant.slots if slot.publication}
        for track_id, pub in desired.items():
            if track_id in attached:
                continue
            free = next((s for s in participant.slots if s.publication is None and s.slot.kind == pub.kind), None)
            if free is None:
                free = self._new_slot(participant, pub.kind)
            free.low = low and pub.kind == "video"
            free.slot.attach(self._subscribe_queue(participant, pub, low=free.low), (pub.publisher_id, pub.track_id))
            free.publication = pub
            free.transceiver.direction = "sendonly"
            changed = True
        return changed

    @staticmethod
    def _subscribe_queue(participant: Participant, pub: Publication, *, low: bool) -> Any:
        if low:
            return pub.low_quality_copy().forwarder.add_subscriber(participant.id)
        return pub.forwarder.add_subscriber(participant.id)

    def _new_slot(self, participant: Participant, kind: str) -> Slot:
        slot = SubscriberSlot(kind)
        transceiver = participant.pc.addTransceiver(slot.track, direction="sendonly")
        preferred = [
            codec
            for codec in RTCRtpSender.getCapabilities(kind).codecs
            if codec.mimeType.lower() in FORWARDED_MIME_TYPES or codec.mimeType.lower().endswith("/rtx")
        ]
        transceiver.setCodecPreferences(preferred)
        entry = Slot(slot=slot, transceiver=transceiver)
        hook_bandwidth_estimates(transceiver.sender, lambda bps, ssrcs: self._on_estimate(participant, bps, ssrcs))
        if kind == "audio":
            forward_audio_levels(transceiver.sender, lambda: slot.last_audio_level)

        def on_keyframe_request() -> None:
            # A low subscriber's request goes to the copy's encoder, never
            # to the publisher: one lossy 3G link must not cost everyone a
            # full-size keyframe.
            if entry.publication is None:
                return
            if entry.low:
                if entry.publication.low_copy is not None:
                    entry.publication.low_copy.request_keyframe()
            else:
                entry.publication.request_keyframe()

        share_packetisation(transceiver.sender)  # VP8 frames are packetised once for all subscribers
        hook_keyframe_requests(transceiver.sender, on_keyframe_request)
        participant.slots.append(entry)
        return entry

    async def _offer(self, participant: Participant) -> None:
        """Send a server offer, or remember to once the connection is ready."""
        pc = participant.pc
        if pc.signalingState != "stable" or pc.connectionState != "connected":
            participant.needs_negotiation = True
            return
        participant.needs_negotiation = False
        try:
            restrict_ice(pc, self.config.ice_restriction())
            offer = keep_negotiated_numbering(pc, await pc.createOffer())
            await pc.setLocalDescription(offer)
        except Exception:
            logger.exception("room %s participant %s: server offer failed", self.room_id, participant.id)
            self._schedule(self._drop_participant(participant.id, reason="negotiation failed"))
            return
        tracks = [
            {"mid": slot.transceiver.mid, **slot.publication.describe()}
            for slot in participant.slots
            if slot.publication is not None
        ]
        message = {"type": "media.offer", "sdp": pc.localDescription.sdp, "tracks": tracks}
        participant.last_offer = message
        self._emit(participant.id, message)

    async def _drop_participant(self, participant_id: str, *, reason: str | None, notify_others: bool = True) -> None:
        participant = self._participants.pop(participant_id, None)
        if participant is None or participant.closed:
            return
        participant.closed = True
        had_publications = bool(participant.publications)
        for publication in participant.publications.values():
            publication.close()
        participant.publications.clear()
        for slot in participant.slots:
            slot.release(participant_id)
            slot.slot.end()
        self._speakers.forget(participant_id)
        if reason is not None:
            self._emit(participant_id, {"type": "media.closed", "reason": reason})
        try:
            await asyncio.wait_for(participant.pc.close(), self.config.close_timeout)
        except Exception:
            logger.exception("room %s participant %s: close failed", self.room_id, participant_id)
        logger.info("room %s participant %s: left (%s)", self.room_id, participant_id, reason or "leave")
        if self.on_left is not None and not self._closed:
            try:
                result = self.on_left(participant_id)
                if inspect.isawaitable(result):
                    self._schedule(result)
            except Exception:
                logger.exception("room %s participant %s: left callback failed", self.room_id, participant_id)
        if notify_others and had_publications and not self._closed:
            self._after_publications_changed()

    # ------------------------------------------------------ speakers, signals

    def _ensure_speaker_task(self) -> None:
        if self._speaker_task is None or self._speaker_task.done():
            self._speaker_task = asyncio.ensure_future(self._run_speaker_detection())

    async def _run_speaker_detection(self) -> None:
        current: str | None = None
        while not self._closed:
            await asyncio.sleep(self.config.speaker_interval)
            speaker = self._speakers.decide()
            if speaker != current:
                current = speaker
                message = {"type": "media.speaker", "participant": speaker}
                for participant_id in list(self._participants):
                    self._emit(participant_id, message)

    def _emit(self, participant_id: str, message: dict[str, Any]) -> None:
        try:
            result = self._on_signal(participant_id, message)
            if inspect.isawaitable(result):
                self._schedule(result)
        except Exception:
            logger.exception("room %s participant %s: signal callback failed", self.room_id, participant_id)

    def _schedule(self, awaitable: Any) -> None:
        task = asyncio.ensure_future(awaitable)
        self._tasks.add(task)

        def done(finished: asyncio.Future[Any]) -> None:
            self._tasks.discard(finished)
            if not finished.cancelled() and finished.exception() is not None:
                logger.error("room %s: background task failed", self.room_id, exc_info=finished.exception())

        task.add_done_callback(done)


class SFU:
    """The rooms whose media this worker process owns."""

    def __init__(
        self, config: MediaConfig, on_signal: Callable[[str, str, dict[str, Any]], Any],
        *, on_left: Callable[[str, str], Any] | None = None,
    ) -> None:
        self.config = config
        self._on_signal = on_signal
        #: (room id, participant id) whenever a participant's media leaves a room that stays
        #: open, for whatever reason (the worker gives the seat back: placement.py).
        self._on_left = on_left
        self._rooms: dict[str, MediaRoom] = {}

    def room(self, room_id: str) -> MediaRoom:
        """The room's media, created on first use."""
        room = self._rooms.get(room_id)
        if room is None:
            room = self._rooms[room_id] = MediaRoom(
                room_id,
                config=self.config,
                on_signal=lambda participant_id, message: self._on_signal(room_id, participant_id, message),
            )
            if self._on_left is not None:
                on_left = self._on_left
                room.on_left = lambda participant_id: on_left(room_id, participant_id)
        return room

    def get_room(self, room_id: str) -> MediaRoom | None:
        return self._rooms.get(room_id)

    def room_ids(self) -> list[str]:
        return list(self._rooms)

    def load(self) -> dict[str, int]:
        """Counts for the worker registry: sessions, participants, publications, forwarded tracks."""
        rooms = list(self._rooms.values())
        return {
            "sessions": len(rooms),
            "participants": sum(len(room._participants) for room in rooms),
            "publications": sum(len(room.publications()) for room in rooms),
            "forwarded": sum(1 for room in rooms for p in room._participants.values() for slot in p.slots if slot.publication),
        }

    async def close_room(self, room_id: str) -> None:
        room = self._rooms.pop(room_id, None)
        if room is not None:
            await room.close()

    async def close(self) -> None:
        for room_id in list(self._rooms):
            await self.close_room(room_id)
