"""The one place where OpenRounds reaches into aiortc's private internals.

Why one long module (about 700 lines): every reach into aiortc stays in one file with the
compatibility check that covers it, so an aiortc upgrade is reviewed in one place.

aiortc (1.16) can *send* pre-encoded ``av.Packet`` objects without encoding
(``RTCRtpSender._next_encoded_frame`` packs them), but an ``RTCRtpReceiver``
always hands complete frames to a decoder thread, a keyframe request from a
remote receiver only flips a flag for the sender's own encoder, and ICE gathers
every interface except loopback with random ports.  A forwarding unit needs the
opposite on each point, so this module:

* replaces the receiver's private decoder queue (``__decoder_queue``) with one
  that hands each complete ``(codec, JitterFrame)`` to a callback as an
  ``av.Packet`` (pts = RTP timestamp, time base = 1/clock rate) instead of
  decoding it;
* replaces the receiver's jitter buffer with one that releases a video frame as
  soon as its last packet (RTP marker bit) is in, and an audio packet at once,
  instead of waiting for the next frame to start (about one frame interval of
  added latency, 67 ms at 15 fps; 80 ms of prefetch for audio);
* hooks ``RTCRtpSender._send_keyframe`` so a subscriber's PLI/FIR becomes a
  callback, and sends PLIs from the publisher's receiver
  (``_send_rtcp_pli``), rate-limited;
* hooks ``RTCRtpSender._handle_rtcp_packet`` so a subscriber's bandwidth
  estimate (REMB) reaches the SFU, which has no encoder to hand it to;
* wraps ``RTCRtpSender._next_encoded_frame`` so a forwarded audio packet
  carries the publisher's audio level (RFC 6464), which aiortc only writes
  for audio it encoded itself;
* installs a packer as a forwarding sender's private encoder
  (``__encoder``) that hands out the VP8 payloads cut once per frame for all
  subscribers (:class:`Vp8Packetiser`) instead of cutting them again per
  subscriber, and swaps aiortc's NTP clock (read twice per packet sent,
  through ``datetime``) for an equal but cheaper one;
* restricts ICE host candidates of one peer connection to configured addresses
  and a UDP port range (aioice binds every interface but loopback, port 0).

Everything private is named in ``_PRIVATE_ATTRIBUTES`` and checked by
:func:`check_aiortc_compatibility`, which the tests call, so an aiortc upgrade
that renames any of it fails loudly instead of silently decoding again.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import queue
import random
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import av
from aioice import ice as aioice_ice
from aioice import turn as aioice_turn
from aioice.candidate import Candidate, candidate_foundation, candidate_priority
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc import clock as aiortc_clock
from aiortc import rtcrtpsender as aiortc_rtcrtpsender
from aiortc.codecs import get_encoder
from aiortc.codecs.base import Encoder
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.mediastreams import VIDEO_TIME_BASE, MediaStreamError, MediaStreamTrack, convert_timebase
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpsender import RTCEncodedFrame
from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, RtpPacket, unpack_remb_fci

logger = logging.getLogger(__name__)

# Name-mangled private attributes of aiortc 1.16 that this module replaces.
_DECODER_QUEUE = "_RTCRtpReceiver__decoder_queue"
_DECODER_THREAD = "_RTCRtpReceiver__decoder_thread"
_JITTER_BUFFER = "_RTCRtpReceiver__jitter_buffer"
_SENDER_ENCODER = "_RTCRtpSender__encoder"
_PRIVATE_ATTRIBUTES: dict[type, tuple[str, ...]] = {
    RTCRtpReceiver: ("_send_rtcp_pli", "_handle_rtp_packet"),
    RTCRtpSender: ("_send_keyframe", "_next_encoded_frame", "_handle_rtcp_packet", "_ssrc", _SENDER_ENCODER),
    RTCEncodedFrame: ("audio_level",),
    JitterBuffer: ("_remove_frame", "remove", "_origin", "_packets", "_capacity"),
    aioice_ice.Connection: ("get_component_candidates", "_protocols"),
    Vp8Encoder: ("_Vp8Encoder__target_bitrate", "encode", "_packetize"),
}
_PRIVATE_INSTANCE_ATTRIBUTES = (_DECODER_QUEUE, _DECODER_THREAD, _JITTER_BUFFER)

#: The shortest interval between two PLIs sent to one publisher: a keyframe
#: is several times larger than a delta frame, so a burst of joins or losses
#: must not turn into a burst of keyframes.
DEFAULT_PLI_INTERVAL = 0.5


class TapError(RuntimeError):
    """aiortc's internals are not what this module was written against."""


def check_aiortc_compatibility() -> None:
    """Raise :class:`TapError` if any private aiortc name used here is missing.

    Cheap enough to run at worker start, and the tests run it so an upgrade
    of aiortc fails in CI rather than in a live session.
    """
    missing: list[str] = []
    for owner, names in _PRIVATE_ATTRIBUTES.items():
        # Instance attributes only show up as names assigned in __init__.
        assigned = owner.__init__.__code__.co_names  # type: ignore[misc]  # `owner` is a class
        missing += [f"{owner.__name__}.{name}" for name in names if not hasattr(owner, name) and name not in assigned]
    receiver_assigned = RTCRtpReceiver.__init__.__code__.co_names
    missing += [f"RTCRtpReceiver.{name}" for name in _PRIVATE_INSTANCE_ATTRIBUTES if name not in receiver_assigned]
    # The shared packer only works if the sender still packs with the encoder
    # it keeps there (else each sender would silently cut its own payloads again).
    if _SENDER_ENCODER not in RTCRtpSender._next_encoded_frame.__code__.co_names:
        missing.append(f"RTCRtpSender._next_encoded_frame uses {_SENDER_ENCODER}")
    # The cheaper clock replaces a module function the sender looks up per packet.
    if getattr(aiortc_rtcrtpsender, "clock", None) is not aiortc_clock or not hasattr(aiortc_clock, "current_ntp_time"):
        missing.append("aiortc.rtcrtpsender.clock.current_ntp_time")
    if missing:
        raise TapError("aiortc internals changed, missing: " + ", ".join(missing))


# --------------------------------------------------------------------------
# Receiving: encoded frames instead of decoded ones
# --------------------------------------------------------------------------


@dataclass(slots=True)
class TappedFrame:
    """One complete encoded frame as the publisher sent it.

    ``packet`` is shared by every subscriber, so nobody may mutate it.
    ``arrival`` is ``time.perf_counter()`` when the frame's first packet
    reached the receiver, for measuring the latency the server adds.
    """

    packet: av.Packet
    mime_type: str
    ssrc: int
    audio_level: int | None
    arrival: float
    #: The RTP payloads of a VP8 frame, cut once by the publication's
    #: :class:`Vp8Packetiser` before fan-out and sent as they are by every
    #: forwarding sender; ``None`` for other codecs (their senders pack).
    payloads: list[bytes] | None = None


class _TapJitterFrame(JitterFrame):
    """A JitterFrame that also remembers what the forwarder needs."""

    def __init__(
        self, data: bytes, timestamp: int, ssrc: int, audio_level: int | None, arrival: float
    ) -> None:
        super().__init__(data=data, timestamp=timestamp)
        self.ssrc = ssrc
        self.audio_level = audio_level
        self.arrival = arrival


class FrameReleasingJitterBuffer(JitterBuffer):
    """A jitter buffer that releases a frame as soon as it is complete.

    aiortc's buffer notices a frame is complete only when a packet of the next
    frame arrives.  A forwarder does not need the reorder slack (subscribers
    have their own jitter buffers), so: video frames are released when the
    packet carrying the RTP marker bit (last packet of a frame) is in and all
    packets before it are contiguous; every audio packet is a frame of its own
    and is released at once.  A timestamp change still completes a frame, for
    senders that never set the marker bit.
    """

    def __init__(self, capacity: int, *, is_video: bool) -> None:
        super().__init__(capacity=capacity, prefetch=0, is_video=is_video)

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        packet._tap_arrival = time.perf_counter()  # type: ignore[attr-defined]
        return super().add(packet)

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        assert self._origin is not None
        packets: list[RtpPacket] = []
        timestamp: int | None = None
        for count in range(self._capacity):
            packet = self._packets[(self._origin + count) % self._capacity]
            if packet is None:
                return None
            if timestamp is None:
                timestamp = packet.timestamp
            elif packet.timestamp != timestamp:
                # The marker of the previous frame was lost or never set.
                return self._release(packets, count)
            packets.append(packet)
            if not self._is_video or packet.marker:
                return self._release(packets, count + 1)
        return None

    def _release(self, packets: list[RtpPacket], count: int) -> JitterFrame:
        first = packets[0]
        level = first.extensions.audio_level
        frame = _TapJitterFrame(
            data=b"".join(p._data for p in packets),  # type: ignore[attr-defined]
            timestamp=first.timestamp,
            ssrc=first.ssrc,
            audio_level=None if level is None else int(level[1]),
            arrival=getattr(first, "_tap_arrival", time.perf_counter()),
        )
        self.remove(count)
        return frame


class _EncodedFrameQueue(queue.Queue):
    """Stands in for the receiver's decoder queue.

    The receiver calls ``put((codec, frame))`` on the event loop for each
    complete frame, and ``put(None)`` when it stops.  Frames go straight to the
    callback.  ``get()`` answers "stop" at once, so the receiver's decoder
    thread exits as soon as it starts: no idle thread per published track, and
    none that would keep the process alive at exit (aiortc only checks that the
    thread object exists before handing frames to this queue).
    """

    def __init__(self, tap: ReceiverTap) -> None:
        super().__init__()
        self._tap = tap

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:
            super().put(None)
            self._tap._ended()
            return
        codec, frame = item
        self._tap._frame(codec, frame)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        return None


class ReceiverTap:
    """Encoded frames out of one ``RTCRtpReceiver``, and PLIs back into it.

    Install with :func:`tap_receiver` from the peer connection's ``track``
    event: aiortc emits it before it starts the receiver, so the decoder
    thread is started on the replaced queue and never decodes anything.
    """

    def __init__(
        self,
        receiver: RTCRtpReceiver,
        *,
        kind: str,
        on_frame: Callable[[TappedFrame], None],
        on_end: Callable[[], None],
        pli_interval: float = DEFAULT_PLI_INTERVAL,
    ) -> None:
        self.receiver = receiver
        self.kind = kind
        self._on_frame = on_frame
        self._on_end = on_end
        self._pli_interval = pli_interval
        self._last_pli = -1e9
        self._pli_pending: asyncio.TimerHandle | None = None
        self._ssrc: int | None = None
        self._ended_flag = False
        self.frames = 0
        self.plis_sent = 0
        self._time_bases: dict[int, fractions.Fraction] = {}

    def _frame(self, codec: RTCRtpCodecParameters, frame: JitterFrame) -> None:
        time_base = self._time_bases.get(codec.clockRate)
        if time_base is None:
            time_base = self._time_bases[codec.clockRate] = fractions.Fraction(1, codec.clockRate)
        packet = av.Packet(frame.data)
        packet.pts = frame.timestamp
        packet.dts = frame.timestamp
        packet.time_base = time_base
        ssrc = getattr(frame, "ssrc", 0)
        self._ssrc = ssrc or self._ssrc
        self.frames += 1
        try:
            self._on_frame(
                TappedFrame(
                    packet=packet,
                    mime_type=codec.mimeType.lower(),
                    ssrc=ssrc,
                    audio_level=getattr(frame, "audio_level", None),
                    arrival=getattr(frame, "arrival", time.perf_counter()),
                )
            )
        except Exception:
            # A fault in fan-out must not kill the publisher's receive path.
            logger.exception("tap(%s): frame callback failed", self.kind)

    def _ended(self) -> None:
        if self._ended_flag:
            return
        self._ended_flag = True
        if self._pli_pending is not None:
            self._pli_pending.cancel()
        try:
            self._on_end()
        except Exception:
            logger.exception("tap(%s): end callback failed", self.kind)

    def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe, at most once per ``pli_interval``.

        A request inside the interval is not lost: one PLI is sent when the
        interval is over, so a subscriber that joins right after another one
        still gets its keyframe.
        """
        if self.kind != "video" or self._ended_flag or self._pli_pending is not None:
            return
        loop = asyncio.get_running_loop()
        wait = self._last_pli + self._pli_interval - loop.time()
        if wait <= 0:
            self._send_pli()
        else:
            self._pli_pending = loop.call_later(wait, self._send_pli)

    def _send_pli(self) -> None:
        self._pli_pending = None
        if self._ssrc is None or self._ended_flag:
            # Nothing received yet: the first frame the publisher sends is a
            # keyframe anyway.
            return
        self._last_pli = asyncio.get_running_loop().time()
        self.plis_sent += 1
        task = asyncio.ensure_future(self.receiver._send_rtcp_pli(self._ssrc))
        task.add_done_callback(_log_task_failure)


def _log_task_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.warning("tap: RTCP send failed: %r", task.exception())


def tap_receiver(
    receiver: RTCRtpReceiver,
    *,
    kind: str,
    on_frame: Callable[[TappedFrame], None],
    on_end: Callable[[], None],
    pli_interval: float = DEFAULT_PLI_INTERVAL,
) -> ReceiverTap:
    """Make ``receiver`` deliver encoded frames to ``on_frame`` and never decode.

    Precondition: called before the receiver starts (i.e. from the peer
    connection's ``track`` event).  ``on_end`` runs once when the receiver
    stops (remote BYE, transport closed, connection closed).
    """
    for name in _PRIVATE_INSTANCE_ATTRIBUTES:
        if not hasattr(receiver, name):
            raise TapError(f"aiortc internals changed: RTCRtpReceiver has no {name}")
    if getattr(receiver, _DECODER_THREAD) is not None:
        raise TapError("receiver already started; tap it from the 'track' event")
    tap = ReceiverTap(
        receiver, kind=kind, on_frame=on_frame, on_end=on_end, pli_interval=pli_interval
    )
    setattr(receiver, _DECODER_QUEUE, _EncodedFrameQueue(tap))
    capacity = 512 if kind == "video" else 16
    setattr(receiver, _JITTER_BUFFER, FrameReleasingJitterBuffer(capacity, is_video=kind == "video"))
    return tap


# --------------------------------------------------------------------------
# Encoding below aiortc's minimum bitrate (the shared low-quality copy)
# --------------------------------------------------------------------------


class LowBitrateVp8Encoder(Vp8Encoder):
    """aiortc's VP8 encoder, allowed below its 250 kbit/s floor.

    ``Vp8Encoder.target_bitrate`` clamps to 250 kbit/s..1.5 Mbit/s, which is
    more than a 320x180 picture at a few frames per second needs and more
    than the subscribers it is for can take.  ``encode`` reads the property
    for the rate and the private attribute for the buffer size, so both are
    set here.
    """

    def __init__(self, bitrate: int) -> None:
        super().__init__()
        self._low_bitrate = int(bitrate)
        setattr(self, "_Vp8Encoder__target_bitrate", self._low_bitrate)

    @property
    def target_bitrate(self) -> int:
        return self._low_bitrate

    @target_bitrate.setter
    def target_bitrate(self, bitrate: int) -> None:
        self._low_bitrate = int(bitrate)
        setattr(self, "_Vp8Encoder__target_bitrate", self._low_bitrate)


# --------------------------------------------------------------------------
# Sending: pre-encoded packets, keyframe requests out
# --------------------------------------------------------------------------


class Vp8Packetiser:
    """Cuts each VP8 frame of one publication into RTP payloads, once for all subscribers.

    aiortc's sender packs per subscriber (``Vp8Encoder.pack``: copy the frame,
    cut it, prepend a payload descriptor), so the same cut was repeated for
    every subscriber.  Here it is done once per frame and the payload list is
    shared.  There is one picture-ID sequence per publication: a subscriber
    whose queue skipped frames sees a gap in picture IDs, which VP8 receivers
    accept (they order frames by RTP sequence number, which stays per sender).
    """

    def __init__(self) -> None:
        self.picture_id = random.randint(0, (1 << 15) - 1)
        #: Frames cut so far, for tests and stats.
        self.frames = 0

    def packetise(self, frame: TappedFrame, data: bytes | None = None) -> list[bytes]:
        """Set and return ``frame.payloads`` (cut now unless already cut)."""
        if frame.payloads is None:
            frame.payloads = Vp8Encoder._packetize(bytes(frame.packet) if data is None else data, self.picture_id)
            self.picture_id = (self.picture_id + 1) % (1 << 15)
            self.frames += 1
        return frame.payloads


class _SharedPayloadPacker:
    """Stands in for a forwarding sender's encoder: hands out shared payloads.

    The sender calls ``pack(packet)`` right after taking ``packet`` off its
    track, with no await in between, so ``last_frame()`` is the frame that
    packet came from.  The payloads are the frame's shared ones; the RTP
    timestamp comes from the packet, which may be a re-timed copy.  Frames
    without shared payloads (H.264, Opus) go to aiortc's own encoder for
    their codec, which only packs.
    """

    def __init__(self, last_frame: Callable[[], TappedFrame | None]) -> None:
        self._last_frame = last_frame
        self._fallback: dict[str, Encoder] = {}

    def pack(self, packet: av.Packet) -> tuple[list[bytes], int]:
        frame = self._last_frame()
        if frame is not None and frame.payloads is not None:
            # An encoded packet always has its pts.
            return frame.payloads, convert_timebase(cast(int, packet.pts), packet.time_base, VIDEO_TIME_BASE)
        mime = frame.mime_type if frame is not None else "video/vp8"
        encoder = self._fallback.get(mime)
        if encoder is None:
            encoder = self._fallback[mime] = get_encoder(RTCRtpCodecParameters(mimeType=mime, clockRate=0))
        return encoder.pack(packet)

    def encode(self, frame: Any, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        raise TapError("a forwarding sender was handed a raw frame to encode")


#: Seconds from the NTP epoch (1900) to the Unix epoch (1970).
_NTP_UNIX_OFFSET = 2208988800


def ntp_time_from_ns(ns: int) -> int:
    """The 64-bit NTP timestamp of ``ns`` Unix nanoseconds, at microsecond precision.

    Bit for bit what ``aiortc.clock.datetime_to_ntp(datetime.now(utc))``
    returns for the same instant, without building and subtracting two
    ``datetime`` objects (which cost about a tenth of a forwarding sender's
    time, read twice per RTP packet).
    """
    seconds, micros = divmod(ns // 1000, 1_000_000)
    return ((seconds + _NTP_UNIX_OFFSET) << 32) | ((micros << 32) // 1_000_000)


def fast_current_ntp_time() -> int:
    """``aiortc.clock.current_ntp_time`` from the same wall clock, cheaper."""
    return ntp_time_from_ns(time.time_ns())


def use_fast_ntp_clock() -> None:
    """Make aiortc read NTP time through :func:`fast_current_ntp_time` (idempotent).

    Process-wide, but the values are the same as aiortc's own, so RTCP
    sender reports (NTP/RTP pairs), abs-send-time and SDP origins are unchanged.
    """
    aiortc_clock.current_ntp_time = fast_current_ntp_time


def share_packetisation(sender: RTCRtpSender) -> bool:
    """Make ``sender`` send the shared payloads of the frames its track hands it.

    Only for a sender of an :class:`EncodedPacketTrack` that knows its last
    frame (a forwarding sender) and that has not started; returns whether the
    packer was installed.  Raises :class:`TapError` if aiortc no longer keeps
    its encoder where this module puts the packer.
    """
    track = sender.track
    if not isinstance(track, EncodedPacketTrack) or track.last_frame is None:
        return False
    if not hasattr(sender, _SENDER_ENCODER):
        raise TapError(f"aiortc internals changed: RTCRtpSender has no {_SENDER_ENCODER}")
    if getattr(sender, _SENDER_ENCODER) is not None:
        return False  # already sending with an encoder of its own
    setattr(sender, _SENDER_ENCODER, _SharedPayloadPacker(track.last_frame))
    use_fast_ntp_clock()
    return True


class EncodedPacketTrack(MediaStreamTrack):
    """A track whose ``recv()`` returns ``av.Packet``s, so the sender only packs.

    ``next_packet`` is awaited for each packet; it returns ``None`` when the
    track should end.  The packet's pts and time base become the RTP
    timestamp (offset by the sender's random origin).  ``last_frame``, if
    given, returns the frame the last packet came from, so the sender can
    send that frame's shared payloads (:func:`share_packetisation`).
    """

    def __init__(
        self,
        kind: str,
        next_packet: Callable[[], Awaitable[av.Packet | None]],
        last_frame: Callable[[], TappedFrame | None] | None = None,
    ) -> None:
        super().__init__()
        self.kind = kind
        self._next_packet = next_packet
        self.last_frame = last_frame

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self._next_packet()
        if packet is None:
            self.stop()
            raise MediaStreamError
        return packet


def hook_keyframe_requests(sender: RTCRtpSender, on_request: Callable[[], None]) -> None:
    """Route the remote receiver's PLI/FIR on ``sender`` to ``on_request``.

    aiortc's sender reacts to PLI/FIR by calling ``self._send_keyframe()``,
    which only flags its own encoder; a forwarded stream has no encoder, so
    the request has to reach the publisher instead.
    """

    def send_keyframe() -> None:
        try:
            on_request()
        except Exception:
            logger.exception("tap: keyframe request callback failed")

    sender._send_keyframe = send_keyframe  # type: ignore[method-assign]


def hook_bandwidth_estimates(sender: RTCRtpSender, on_estimate: Callable[[int, list[int]], None]) -> None:
    """Report each REMB the remote receiver sends about ``sender`` to ``on_estimate(bps, ssrcs)``.

    REMB (goog-remb) is the receiver's estimate of what its link carries, for the
    SSRCs it lists.  aiortc's sender only hands it to its own encoder's target
    bitrate; a forwarded stream has no encoder, so the SFU takes it here to pick
    the original or the shared low-quality copy.  aiortc still sees the packet.
    """
    handle_rtcp_packet = sender._handle_rtcp_packet

    async def handle_with_estimate(packet: Any) -> None:
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            try:
                bitrate, ssrcs = unpack_remb_fci(packet.fci)
            except ValueError:
                pass  # another application-layer feedback, not REMB
            else:
                try:
                    on_estimate(bitrate, ssrcs)
                except Exception:
                    logger.exception("tap: bandwidth estimate callback failed")
        await handle_rtcp_packet(packet)

    sender._handle_rtcp_packet = handle_with_estimate  # type: ignore[method-assign]


def sender_ssrc(sender: RTCRtpSender) -> int:
    """The SSRC ``sender`` sends with (what a REMB lists), which aiortc keeps private."""
    return int(sender._ssrc)


def forward_audio_levels(sender: RTCRtpSender, level_of_last_packet: Callable[[], int | None]) -> None:
    """Write the publisher's audio level (RFC 6464) on each audio packet ``sender`` forwards.

    aiortc writes the ssrc-audio-level extension from ``RTCEncodedFrame.audio_level``,
    which only its encode path fills (from the PCM); packing a pre-encoded packet
    leaves it None, so subscribers would get no level.  This fills it from the
    frame the sender just took off its track (``level_of_last_packet``: 0 loudest
    to 127 silence, as received).  The voice-activity bit is not kept: aiortc
    always writes it as 0.  Written only if the subscriber negotiated the extension.
    """
    next_encoded_frame = sender._next_encoded_frame

    async def next_frame_with_level(codec: RTCRtpCodecParameters) -> RTCEncodedFrame | None:
        frame = await next_encoded_frame(codec)
        if frame is not None and frame.audio_level is None:
            level = level_of_last_packet()
            if level is not None:
                frame.audio_level = -level  # aiortc's unit: dBov, 0 or below
        return frame

    sender._next_encoded_frame = next_frame_with_level  # type: ignore[method-assign]


# --------------------------------------------------------------------------
# ICE: only the configured host addresses and ports
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IceRestriction:
    """Which local addresses and UDP ports host candidates may use."""

    host_addresses: tuple[str, ...]
    port_min: int = 0
    port_max: int = 0


def restrict_ice(pc: RTCPeerConnection, restriction: IceRestriction) -> None:
    """Make every ICE transport of ``pc`` gather only the allowed host candidates.

    Call before each ``setLocalDescription`` (new transports appear with new
    transceivers).  aioice skips 127.0.0.1 and binds port 0 on every
    interface; here the host part of candidate gathering binds the
    configured addresses in the configured range, and STUN/TURN gathering is
    left to aioice.
    """
    for transceiver in pc.getTransceivers():
        _restrict_connection(transceiver.receiver.transport.transport.iceGatherer._connection, restriction)
    if pc.sctp is not None:
        _restrict_connection(pc.sctp.transport.transport.iceGatherer._connection, restriction)


def _restrict_connection(connection: aioice_ice.Connection, restriction: IceRestriction) -> None:
    if getattr(connection, "_openrounds_restricted", False):
        return
    original = connection.get_component_candidates

    async def get_component_candidates(
        component: int, addresses: list[str], timeout: int = 5
    ) -> list[Candidate]:
        host = await _bind_host_candidates(connection, component, restriction)
        others = await original(component=component, addresses=[], timeout=timeout)
        return host + others

    connection.get_component_candidates = get_component_candidates  # type: ignore[method-assign]
    connection._openrounds_restricted = True  # type: ignore[attr-defined]


async def _bind_host_candidates(
    connection: aioice_ice.Connection, component: int, restriction: IceRestriction
) -> list[Candidate]:
    loop = asyncio.get_running_loop()
    candidates: list[Candidate] = []
    for address in restriction.host_addresses:
        bound = await _bind_in_range(loop, connection, address, restriction.port_min, restriction.port_max)
        if bound is None:
            logger.warning("ice: could not bind %s in ports %d-%d", address, restriction.port_min, restriction.port_max)
            continue
        transport, protocol = bound
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, aioice_turn.UDP_SOCKET_BUFFER_SIZE)
        host, port = transport.get_extra_info("sockname")[:2]
        protocol.local_candidate = Candidate(
            foundation=candidate_foundation("host", "udp", host),
            component=component,
            transport="udp",
            priority=candidate_priority(component, "host"),
            host=host,
            port=port,
            type="host",
        )
        connection._protocols.append(protocol)
        candidates.append(protocol.local_candidate)
    return candidates


async def _bind_in_range(
    loop: asyncio.AbstractEventLoop,
    connection: aioice_ice.Connection,
    address: str,
    port_min: int,
    port_max: int,
) -> tuple[asyncio.DatagramTransport, Any] | None:
    if port_min <= 0 or port_max < port_min:
        ports: Sequence[int] = [0]
    else:
        # Start at a random port so concurrent connections rarely collide.
        span = port_max - port_min + 1
        start = random.randrange(span)
        ports = [port_min + (start + i) % span for i in range(span)]
    for port in ports:
        try:
            return await loop.create_datagram_endpoint(
                lambda: aioice_ice.StunProtocol(connection), local_addr=(address, port)
            )
        except OSError:
            continue
    return None
