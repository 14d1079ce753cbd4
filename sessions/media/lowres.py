"""One shared low-resolution copy of a published video track.

A subscriber whose downlink cannot carry the original (a few hundred kbit/s
on 3G) would otherwise have to drop video altogether.  Per-subscriber
encoding is what makes stock aiortc expensive (one encode per receiver), so a
:class:`LowQualityCopy` does the work once per *stream*:

    publisher's frames --(observer of the publication's TrackForwarder)-->
    bounded queue --> one thread: decode (every frame: VP8 deltas need their
    references) --> keep ~7.5 fps --> downscale --> encode once (VP8, ~150
    kbit/s) --> back on the event loop --> the copy's own TrackForwarder -->
    the low subscribers' queues (the same fan-out as the original: packets
    shared, nothing encoded per subscriber).

The room creates the copy when the first subscriber asks for low quality and
stops it when the last one leaves (or the publication ends).  A low
subscriber's keyframe request forces a keyframe in the copy's encoder
(rate-limited); only a gap in the copy's own input asks the publisher for
one.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import av
from aiortc.codecs.vpx import Vp8Decoder, vp8_depayload
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import VIDEO_TIME_BASE

from .forwarding import TrackForwarder, is_vp8_keyframe
from .tap import LowBitrateVp8Encoder, TappedFrame

logger = logging.getLogger(__name__)

VIDEO_CLOCK = 90_000
#: Frames waiting to be decoded; more means the thread cannot keep up, and the
#: backlog is dropped up to the next keyframe instead of growing latency.
INPUT_QUEUE_FRAMES = 8
_GAP = object()
_STOP = object()


@dataclass(frozen=True)
class LowQualityProfile:
    """What the copy looks like: a box it fits in, a frame rate, a bitrate.

    Cameras: 320x180 at 7.5 fps (faces stay recognisable).  Screens keep more
    pixels and fewer frames, since text must stay readable and slides rarely
    move.
    """

    max_width: int = 320
    max_height: int = 180
    fps: float = 7.5
    bitrate: int = 150_000
    keyframe_interval: float = 0.5

    def size_for(self, width: int, height: int) -> tuple[int, int]:
        """The output size: the source scaled into the box (never up), even sides."""
        scale = min(self.max_width / width, self.max_height / height, 1.0)
        return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


CAMERA_PROFILE = LowQualityProfile()
SCREEN_PROFILE = LowQualityProfile(max_width=640, max_height=360, fps=2.0)


@dataclass(slots=True)
class LowQualityStats:
    frames_in: int = 0
    frames_decoded: int = 0
    frames_encoded: int = 0
    keyframes_forced: int = 0
    gaps: int = 0
    decode_errors: int = 0
    #: CPU time of the coding thread (decode, scale, encode), for stats and the benchmark.
    cpu_seconds: float = 0.0


class LowQualityCopy:
    """Decode once, downscale, encode once; fan out like a publication.

    ``source`` is the publication's forwarder (the copy observes it);
    ``request_source_keyframe`` asks the publisher for a keyframe (its PLI is
    rate-limited by the tap).  Subscribe low subscribers with
    ``copy.forwarder.add_subscriber(...)``.
    """

    def __init__(
        self,
        source: TrackForwarder,
        *,
        request_source_keyframe: Callable[[], None],
        profile: LowQualityProfile = CAMERA_PROFILE,
        label: str = "",
    ) -> None:
        self.source = source
        self.profile = profile
        self.label = label or f"{source.label}:low"
        self.stats = LowQualityStats()
        self.forwarder = TrackForwarder(kind="video", request_keyframe=self.request_keyframe, label=self.label)
        #: The one encoder of this copy, whatever the number of subscribers.
        self.encoder = LowBitrateVp8Encoder(profile.bitrate)
        self._request_source_keyframe = request_source_keyframe
        self._input: queue.Queue[object] = queue.Queue(maxsize=INPUT_QUEUE_FRAMES)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._force_keyframe = threading.Event()
        self._last_forced = -1e9

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._stopped

    def start(self) -> None:
        """Observe the source and start the coding thread (on the event loop)."""
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self.source.observers.append(self._feed)
        self._thread = threading.Thread(target=self._run, name=f"lowres {self.label}", daemon=True)
        self._thread.start()
        # Decoding can only start at a keyframe of the original.
        self._request_source_keyframe()
        logger.info("low-quality copy %s started", self.label)

    def stop(self) -> None:
        """Stop observing, end the thread, close the low subscribers' queues."""
        if self._stopped:
            return
        self._stopped = True
        try:
            self.source.observers.remove(self._feed)
        except ValueError:
            pass
        self.forwarder.close()
        self._drain()
        try:
            self._input.put_nowait(_STOP)
        except queue.Full:  # pragma: no cover - just drained
            pass
        logger.info("low-quality copy %s stopped", self.label)

    def join(self, timeout: float = 2.0) -> None:
        """Wait for the thread to end (tests)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def request_keyframe(self) -> None:
        """A low subscriber lost the picture: the copy's encoder makes a keyframe."""
        self._force_keyframe.set()

    # -------------------------------------------------------- event loop side

    def _feed(self, frame: TappedFrame) -> None:
        if self._stopped or frame.mime_type != "video/vp8":
            return
        self.stats.frames_in += 1
        try:
            self._input.put_nowait(frame)
        except queue.Full:
            # The thread fell behind: drop the backlog, restart at a keyframe.
            self.stats.gaps += 1
            self._drain()
            self._input.put_nowait(_GAP)
            self._request_source_keyframe()

    def _drain(self) -> None:
        while True:
            try:
                self._input.get_nowait()
            except queue.Empty:
                return

    def _deliver(self, packet: av.Packet) -> None:
        if not self._stopped:
            self.forwarder.push(
                TappedFrame(packet=packet, mime_type="video/vp8", ssrc=0, audio_level=None, arrival=time.perf_counter())
            )

    def _decode_failed(self) -> None:
        if not self._stopped:
            self._request_source_keyframe()

    # ------------------------------------------------------------ thread side

    def _run(self) -> None:
        try:
            self._code()
        finally:
            self.stats.cpu_seconds = time.thread_time()

    def _code(self) -> None:
        decoder = Vp8Decoder()
        ready = False  # decoding resumes only at a keyframe
        last_pts: int | None = None
        interval = int(VIDEO_CLOCK / self.profile.fps)
        slack = interval // 5
        while True:
            item = self._input.get()
            if item is _STOP or self._stopped:
                return
            if item is _GAP:
                ready = False
                continue
            assert isinstance(item, TappedFrame)
            data = bytes(item.packet)
            keyframe = is_vp8_keyframe(data)
            if not ready and not keyframe:
                continue
            ready = True
            pts = int(item.packet.pts or 0)
            try:
                frames = decoder.decode(JitterFrame(data=data, timestamp=pts))
            except Exception as exc:  # a broken frame: wait for the next keyframe
                self.stats.decode_errors += 1
                logger.debug("low-quality copy %s: decode failed: %r", self.label, exc)
                ready = False
                if not self._post(self._decode_failed):
                    return
                continue
            self.stats.cpu_seconds = time.thread_time()
            for picture in frames:
                self.stats.frames_decoded += 1
                if last_pts is not None and (pts - last_pts) % (1 << 32) < interval - slack:
                    continue  # thin the frame rate
                last_pts = pts
                try:
                    packet = self._encode(picture, pts)  # type: ignore[arg-type]  # a video decoder's frames
                except Exception:  # never let one frame end the copy for everyone
                    logger.exception("low-quality copy %s: encode failed", self.label)
                    continue
                if packet is not None and not self._post(self._deliver, packet):
                    return

    def _post(self, callback: Callable[..., None], *args: object) -> bool:
        """Run ``callback`` on the event loop; False once the loop is gone (shutdown)."""
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:
            return False
        return True

    def _encode(self, picture: av.VideoFrame, pts: int) -> av.Packet | None:
        width, height = self.profile.size_for(picture.width, picture.height)
        small = picture.reformat(width=width, height=height, format="yuv420p")
        small.pts = pts
        small.time_base = VIDEO_TIME_BASE
        force = False
        if self._force_keyframe.is_set():
            now = time.monotonic()
            if now - self._last_forced >= self.profile.keyframe_interval:
                self._force_keyframe.clear()
                self._last_forced = now
                force = True
                self.stats.keyframes_forced += 1
        payloads, timestamp = self.encoder.encode(small, force)
        if not payloads:
            return None
        self.stats.frames_encoded += 1
        packet = av.Packet(b"".join(vp8_depayload(payload) for payload in payloads))
        packet.pts = timestamp
        packet.dts = timestamp
        packet.time_base = VIDEO_TIME_BASE
        return packet
