"""Fan-out of one published track to its subscribers, without decoding.

Each published track gets a :class:`TrackForwarder`.  The tap hands it every
complete encoded frame once; it cuts a VP8 frame into RTP payloads once
(``Vp8Packetiser``) and pushes the same frame into one bounded
:class:`SubscriberQueue` per subscriber, and each subscriber's
``RTCRtpSender`` pulls from its own queue through an ``EncodedPacketTrack``.
A slow or dead subscriber therefore only ever fills its own queue:

* video: a subscriber starts at a keyframe (a delta frame without its
  reference is garbage); when its queue overflows it is cleared and the
  subscriber waits for the next keyframe, which is requested when the
  subscriber next asks for a packet, so a dead subscriber never makes the
  publisher send keyframes;
* audio: the oldest packet is dropped (audio frames are independent).

Active speaker detection lives here too, because it only needs the audio
frames flowing through: the publisher's audio-level header extension when it
sends one, else the Opus packet size (silence and DTX packets are tiny).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import av

from .tap import EncodedPacketTrack, TappedFrame, Vp8Packetiser

logger = logging.getLogger(__name__)

DEFAULT_VIDEO_QUEUE_FRAMES = 30
DEFAULT_AUDIO_QUEUE_FRAMES = 50


def is_vp8_keyframe(data: bytes) -> bool:
    """True if ``data`` (a depayloaded VP8 frame) is a keyframe.

    RFC 6386 section 9.1: bit 0 of the frame tag is 0 for key frames, and a
    keyframe carries the start code 9d 01 2a at bytes 3-5.
    """
    return len(data) >= 10 and not (data[0] & 0x01) and data[3:6] == b"\x9d\x01\x2a"


def is_h264_keyframe(data: bytes) -> bool:
    """True if an Annex-B H.264 access unit holds an IDR slice or an SPS."""
    index = data.find(b"\x00\x00\x01")
    while index != -1 and index + 3 < len(data):
        nal_type = data[index + 3] & 0x1F
        if nal_type in (5, 7):
            return True
        index = data.find(b"\x00\x00\x01", index + 3)
    return False


def keyframe_detector(mime_type: str) -> Callable[[bytes], bool]:
    """The keyframe test for a video codec; audio frames are all "keyframes"."""
    mime = mime_type.lower()
    if mime == "video/vp8":
        return is_vp8_keyframe
    if mime == "video/h264":
        return is_h264_keyframe
    if mime.startswith("video/"):
        # Unknown codec: never gate, rather than never forward.
        return lambda data: True
    return lambda data: True


#: Bytes each RTP packet adds to a frame on the wire (RTP header, extensions, SRTP tag,
#: payload descriptor), and the payload per packet: enough to compare a stream's rate
#: with a receiver's estimate, which counts packets.
RTP_OVERHEAD_BYTES = 30
RTP_PAYLOAD_BYTES = 1200


class RateMeter:
    """A stream's bitrate over the last ``window`` seconds, from the frames that passed.

    ``add`` is called per frame (constant work); ``bitrate`` sums at most a few
    seconds of frames.  The SFU compares it with subscribers' bandwidth estimates.
    """

    def __init__(self, window: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._samples: deque[tuple[float, int]] = deque()
        self._bytes = 0
        self._started: float | None = None

    def add(self, size: int) -> None:
        now = self._clock()
        if self._started is None:
            self._started = now
        packets = -(-size // RTP_PAYLOAD_BYTES) or 1
        wire = size + packets * RTP_OVERHEAD_BYTES
        self._samples.append((now, wire))
        self._bytes += wire
        self._expire(now)

    def bitrate(self) -> int:
        """Bits per second over the window (over the time since the first frame, if shorter)."""
        now = self._clock()
        self._expire(now)
        if self._started is None or not self._samples:
            return 0
        span = min(self.window, max(now - self._started, 0.5))
        return int(self._bytes * 8 / span)

    def _expire(self, now: float) -> None:
        while self._samples and self._samples[0][0] < now - self.window:
            self._bytes -= self._samples.popleft()[1]


@dataclass(slots=True)
class QueueStats:
    """Counters for one subscriber leg, for logs, tests and the benchmark."""

    offered: int = 0
    delivered: int = 0
    dropped: int = 0
    skipped_waiting_keyframe: int = 0
    keyframe_requests: int = 0


class SubscriberQueue:
    """The bounded queue between one published track and one subscriber."""

    def __init__(
        self,
        *,
        kind: str,
        capacity: int,
        request_keyframe: Callable[[], None],
    ) -> None:
        self.kind = kind
        self.capacity = capacity
        self.stats = QueueStats()
        self._items: deque[TappedFrame] = deque()
        self._request_keyframe = request_keyframe
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self.waiting_for_keyframe = kind == "video"
        self._keyframe_requested = False

    @property
    def closed(self) -> bool:
        return self._closed

    def offer(self, frame: TappedFrame, keyframe: bool) -> None:
        """Queue ``frame`` under this subscriber's drop policy (never blocks)."""
        if self._closed:
            return
        self.stats.offered += 1
        if len(self._items) >= self.capacity:
            if self.kind == "video":
                self.stats.dropped += len(self._items)
                self._items.clear()
                self.waiting_for_keyframe = True
                self._keyframe_requested = False
            else:
                self._items.popleft()
                self.stats.dropped += 1
        if self.waiting_for_keyframe:
            if not keyframe:
                self.stats.skipped_waiting_keyframe += 1
                return
            self.waiting_for_keyframe = False
        self._items.append(frame)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> TappedFrame | None:
        """The next frame, or ``None`` once the queue is closed."""
        while not self._items:
            if self._closed:
                return None
            if self.waiting_for_keyframe and not self._keyframe_requested:
                # Asked only by a consumer that is actually reading.
                self._keyframe_requested = True
                self.stats.keyframe_requests += 1
                self._request_keyframe()
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        self.stats.delivered += 1
        return self._items.popleft()

    def close(self) -> None:
        self._closed = True
        self._items.clear()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class TrackForwarder:
    """Fan-out of one published track.

    ``push`` is called by the tap on the event loop for every frame; it does
    constant work per subscriber and never awaits.
    """

    def __init__(
        self,
        *,
        kind: str,
        request_keyframe: Callable[[], None],
        queue_frames: int | None = None,
        label: str = "",
    ) -> None:
        self.kind = kind
        self.label = label
        self.mime_type = ""
        self._request_keyframe = request_keyframe
        self._queue_frames = queue_frames or (
            DEFAULT_VIDEO_QUEUE_FRAMES if kind == "video" else DEFAULT_AUDIO_QUEUE_FRAMES
        )
        self._is_keyframe: Callable[[bytes], bool] = lambda data: True
        self._queues: dict[str, SubscriberQueue] = {}
        self.frames = 0
        self.keyframes = 0
        self.closed = False
        #: Whether the frame being pushed (the one observers see) is a keyframe.
        self.last_was_keyframe = False
        self.observers: list[Callable[[TappedFrame], None]] = []
        #: What the original needs, measured from the frames forwarded.
        self.rate = RateMeter()
        #: Cuts each VP8 frame into RTP payloads once, for every subscriber's sender.
        self.packetiser = Vp8Packetiser()

    @property
    def subscriber_ids(self) -> list[str]:
        return list(self._queues)

    def push(self, frame: TappedFrame) -> None:
        if self.closed:
            return
        if frame.mime_type != self.mime_type:
            self.mime_type = frame.mime_type
            self._is_keyframe = keyframe_detector(frame.mime_type)
        data = bytes(frame.packet) if self.kind == "video" else b""
        keyframe = self._is_keyframe(data) if self.kind == "video" else True
        if self._queues and self.mime_type == "video/vp8":
            self.packetiser.packetise(frame, data)
        self.frames += 1
        self.rate.add(frame.packet.size)
        if keyframe and self.kind == "video":
            self.keyframes += 1
        self.last_was_keyframe = keyframe
        for observer in self.observers:
            observer(frame)
        for queue in self._queues.values():
            queue.offer(frame, keyframe)

    def add_subscriber(self, subscriber_id: str) -> SubscriberQueue:
        """A new queue for ``subscriber_id`` (replacing any previous one)."""
        self.remove_subscriber(subscriber_id)
        queue = SubscriberQueue(
            kind=self.kind, capacity=self._queue_frames, request_keyframe=self._request_keyframe
        )
        self._queues[subscriber_id] = queue
        return queue

    def remove_subscriber(self, subscriber_id: str) -> None:
        queue = self._queues.pop(subscriber_id, None)
        if queue is not None:
            queue.close()

    def queue_of(self, subscriber_id: str) -> SubscriberQueue | None:
        return self._queues.get(subscriber_id)

    def close(self) -> None:
        self.closed = True
        for queue in self._queues.values():
            queue.close()
        self._queues.clear()


class SubscriberSlot:
    """One outgoing track of a subscriber's peer connection, reusable.

    aiortc cannot restart a sender whose track ended, so the sender's track
    stays alive for the life of the peer connection and the slot is pointed
    at a different :class:`SubscriberQueue` (or none) as subscriptions change.
    When it is re-pointed, timestamps are shifted so they keep increasing,
    which is what the subscriber's jitter buffer expects from one SSRC.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.track = EncodedPacketTrack(kind, self._next_packet, lambda: self.last_frame)
        self._queue: SubscriberQueue | None = None
        self._attached = asyncio.Event()
        self._offset = 0
        self._last_pts: int | None = None
        self._rebase = False
        self._ended = False
        self.key: tuple[str, str] | None = None
        #: The audio level (RFC 6464) of the frame handed to the sender last.
        self.last_audio_level: int | None = None
        #: The frame handed to the sender last: its sender sends its shared payloads.
        self.last_frame: TappedFrame | None = None

    @property
    def queue(self) -> SubscriberQueue | None:
        return self._queue

    def attach(self, queue: SubscriberQueue, key: tuple[str, str]) -> None:
        self.detach()
        self._queue = queue
        self.key = key
        self._rebase = self._last_pts is not None
        self._attached.set()

    def detach(self) -> None:
        if self._queue is not None:
            self._queue.close()
        self._queue = None
        self.key = None
        self._attached.clear()

    def end(self) -> None:
        self._ended = True
        self.detach()
        self._attached.set()

    async def _next_packet(self) -> av.Packet | None:
        while True:
            if self._ended:
                return None
            queue = self._queue
            if queue is None:
                await self._attached.wait()
                continue
            frame = await queue.get()
            if frame is None:
                # Closed (unsubscribed, or the publisher left): idle until the
                # slot is attached to another queue.
                if self._queue is queue:
                    self._queue = None
                    self._attached.clear()
                continue
            self.last_audio_level = frame.audio_level
            self.last_frame = frame
            return self._retime(frame.packet)

    def _retime(self, packet: av.Packet) -> av.Packet:
        pts = int(packet.pts or 0)
        if self._rebase:
            assert self._last_pts is not None
            step = 3000 if self.kind == "video" else 960
            self._offset = self._last_pts + step - pts
            self._rebase = False
        out_pts = pts + self._offset
        self._last_pts = out_pts
        if self._offset == 0:
            return packet  # the common case: the shared packet, no copy
        copy = av.Packet(bytes(packet))
        copy.pts = out_pts
        copy.dts = out_pts
        copy.time_base = packet.time_base
        return copy


@dataclass(slots=True)
class _SpeakerState:
    score: float = 0.0
    frames: int = 0


@dataclass
class ActiveSpeakerDetector:
    """Who is speaking, from audio levels, with hysteresis.

    ``observe`` is called per audio frame (cheap: one multiply-add);
    ``decide`` is called periodically and returns the current speaker.
    Loudness is 0 (silence) to 127; the score is an exponential average so a
    cough does not steal the floor, and a new speaker must beat the current
    one by ``margin`` to take it.
    """

    threshold: float = 20.0
    margin: float = 6.0
    smoothing: float = 0.1
    current: str | None = None
    _states: dict[str, _SpeakerState] = field(default_factory=dict)

    @staticmethod
    def loudness(frame: TappedFrame) -> float:
        if frame.audio_level is not None:
            # RFC 6464: -dBov, 0 loudest, 127 silence.
            return float(127 - frame.audio_level)
        # No header extension: Opus packets of silence/DTX are a few bytes,
        # speech at typical bitrates is 40+ bytes per 20 ms.
        size = frame.packet.size
        return float(max(0, min(127, (size - 10) * 1.5)))

    def observe(self, participant_id: str, frame: TappedFrame) -> None:
        state = self._states.get(participant_id)
        if state is None:
            state = self._states[participant_id] = _SpeakerState()
        state.score += self.smoothing * (self.loudness(frame) - state.score)
        state.frames += 1

    def forget(self, participant_id: str) -> None:
        self._states.pop(participant_id, None)
        if self.current == participant_id:
            self.current = None

    def decide(self) -> str | None:
        best_id, best = None, self.threshold
        for participant_id, state in self._states.items():
            if state.frames == 0:
                # No audio since the last decision: it decays toward silence.
                state.score *= 0.5
            state.frames = 0
            if state.score > best:
                best_id, best = participant_id, state.score
        current_state = self._states.get(self.current) if self.current else None
        if current_state is not None and current_state.score >= self.threshold:
            if best_id is not None and best_id != self.current and best > current_state.score + self.margin:
                self.current = best_id
        else:
            self.current = best_id
        return self.current
