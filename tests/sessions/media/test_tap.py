"""The tap into aiortc's internals, against the real aiortc classes.

These tests exist to fail when an aiortc upgrade changes what the tap relies
on: the receiver must hand frames to the replaced queue and never decode, a
frame must leave as soon as its marker packet is in, a PLI on a sender must
reach the hook, and ICE must gather only the configured address and ports.
"""

from __future__ import annotations

import asyncio
import fractions
from typing import Any

import av
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpReceiveParameters
from aiortc.rtcrtpreceiver import RemoteStreamTrack
from aiortc.rtp import RTCP_PSFB_APP, RTCP_PSFB_PLI, RtcpPsfbPacket, RtpPacket, pack_remb_fci

from sessions.media.tap import (
    EncodedPacketTrack,
    FrameReleasingJitterBuffer,
    IceRestriction,
    ReceiverTap,
    TapError,
    TappedFrame,
    check_aiortc_compatibility,
    forward_audio_levels,
    hook_bandwidth_estimates,
    hook_keyframe_requests,
    ntp_time_from_ns,
    restrict_ice,
    sender_ssrc,
    share_packetisation,
    tap_receiver,
)

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)


def rtp(seq: int, timestamp: int, payload: bytes, *, marker: bool, ssrc: int = 1234) -> RtpPacket:
    packet = RtpPacket(payload_type=96, sequence_number=seq, timestamp=timestamp, ssrc=ssrc)
    packet.marker = int(marker)
    packet.payload = payload
    packet._data = payload  # what the receiver's depayloading leaves
    return packet


def test_aiortc_still_has_every_internal_the_tap_uses() -> None:
    check_aiortc_compatibility()


def test_compatibility_check_fails_loudly_if_senders_stop_packing_with_their_encoder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aiortc import RTCRtpSender, rtcrtpsender

    async def next_encoded_frame(self: Any, codec: Any) -> None:
        return None  # an aiortc that packs some other way

    monkeypatch.setattr(RTCRtpSender, "_next_encoded_frame", next_encoded_frame)
    with pytest.raises(TapError, match="_RTCRtpSender__encoder"):
        check_aiortc_compatibility()
    monkeypatch.undo()
    monkeypatch.setattr(rtcrtpsender, "clock", object())
    with pytest.raises(TapError, match="current_ntp_time"):
        check_aiortc_compatibility()


async def test_sharing_payloads_fails_loudly_on_a_sender_without_the_encoder_slot() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    track = EncodedPacketTrack("video", lambda: asyncio.sleep(0, None), lambda: None)
    sender = pc.addTransceiver(track, direction="sendonly").sender
    del sender._RTCRtpSender__encoder  # what a renamed attribute looks like
    with pytest.raises(TapError):
        share_packetisation(sender)
    # A sender of anything else than a forwarding track keeps aiortc's encoder.
    other = pc.addTransceiver("video", direction="sendonly").sender
    assert share_packetisation(other) is False
    await pc.close()


def test_the_cheaper_ntp_clock_gives_what_aiortc_computes() -> None:
    """RTCP sender reports pair this NTP time with an RTP timestamp: it must stay exact."""
    import datetime
    import time

    from aiortc import clock

    unix_epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    for ns in (0, 1_700_000_000_123_456_789, 1_763_790_000_999_999_999, 2_000_000_000_000_001_000):
        moment = unix_epoch + datetime.timedelta(microseconds=ns // 1000)
        assert ntp_time_from_ns(ns) == clock.datetime_to_ntp(moment)
    stock = clock.datetime_to_ntp(clock.current_datetime())
    assert abs(ntp_time_from_ns(time.time_ns()) - stock) < 1 << 30, "the same wall clock, within 0.25 s"


def test_video_frame_is_released_when_its_marker_packet_arrives() -> None:
    buffer = FrameReleasingJitterBuffer(512, is_video=True)
    assert buffer.add(rtp(10, 3000, b"ab", marker=False)) == (False, None)
    _, frame = buffer.add(rtp(11, 3000, b"cd", marker=True))
    assert frame is not None and frame.data == b"abcd" and frame.timestamp == 3000


def test_video_frame_with_a_missing_packet_waits_for_it() -> None:
    buffer = FrameReleasingJitterBuffer(512, is_video=True)
    buffer.add(rtp(10, 3000, b"ab", marker=False))
    assert buffer.add(rtp(12, 3000, b"ef", marker=True))[1] is None
    _, frame = buffer.add(rtp(11, 3000, b"cd", marker=False))  # retransmission
    assert frame is not None and frame.data == b"abcdef"


def test_frame_without_marker_is_released_when_the_next_one_starts() -> None:
    buffer = FrameReleasingJitterBuffer(512, is_video=True)
    buffer.add(rtp(10, 3000, b"ab", marker=False))
    _, frame = buffer.add(rtp(11, 6000, b"cd", marker=False))
    assert frame is not None and frame.data == b"ab"


def test_audio_packet_is_released_at_once() -> None:
    buffer = FrameReleasingJitterBuffer(16, is_video=False)
    _, frame = buffer.add(rtp(1, 960, b"opus", marker=False))
    assert frame is not None and frame.data == b"opus"


async def test_receiver_hands_encoded_frames_to_the_tap_and_never_decodes() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    receiver = pc.addTransceiver("video", direction="recvonly").receiver
    receiver._track = RemoteStreamTrack(kind="video")  # what setRemoteDescription does
    frames: list[TappedFrame] = []
    ended: list[bool] = []
    tap = tap_receiver(receiver, kind="video", on_frame=frames.append, on_end=lambda: ended.append(True))
    await receiver.receive(RTCRtpReceiveParameters(codecs=[VP8]))
    with pytest.raises(TapError):
        tap_receiver(receiver, kind="video", on_frame=frames.append, on_end=lambda: None)

    encoder = Vp8Encoder()
    frame = av.VideoFrame(64, 48, "yuv420p")
    for plane in frame.planes:
        plane.update(bytes([100]) * plane.buffer_size)
    frame.pts, frame.time_base = 0, fractions.Fraction(1, 90000)
    payloads, _ = encoder.encode(frame)
    for seq, payload in enumerate(payloads):
        packet = RtpPacket(payload_type=96, sequence_number=seq, timestamp=90000, ssrc=77)
        packet.marker = int(seq == len(payloads) - 1)
        packet.payload = payload
        await receiver._handle_rtp_packet(packet, arrival_time_ms=0)

    assert len(frames) == 1, "released on the marker, without waiting for a next frame"
    assert frames[0].packet.pts == 0 and frames[0].packet.time_base == fractions.Fraction(1, 90000)
    assert frames[0].mime_type == "video/vp8" and frames[0].ssrc == 77
    assert bytes(frames[0].packet)[3:6] == b"\x9d\x01\x2a"
    assert tap.frames == 1
    assert receiver.track._queue.empty(), "nothing was decoded"
    await pc.close()
    assert ended == [True]


async def test_pli_on_a_sender_reaches_the_keyframe_hook() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    sender = pc.addTransceiver("video", direction="sendonly").sender
    requests: list[bool] = []
    hook_keyframe_requests(sender, lambda: requests.append(True))
    await sender._handle_rtcp_packet(RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=sender._ssrc))
    assert requests == [True]
    await pc.close()


async def test_remb_on_a_sender_reaches_the_estimate_hook() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    sender = pc.addTransceiver("video", direction="sendonly").sender
    estimates: list[tuple[int, list[int]]] = []
    hook_bandwidth_estimates(sender, lambda bps, ssrcs: estimates.append((bps, ssrcs)))
    ssrc = sender_ssrc(sender)
    await sender._handle_rtcp_packet(RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0,
                                                    fci=pack_remb_fci(280_000, [ssrc, 42])))
    await sender._handle_rtcp_packet(RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=b"ABCD0000"))
    assert len(estimates) == 1
    bps, ssrcs = estimates[0]
    assert abs(bps - 280_000) < 280_000 * 0.01 and ssrcs == [ssrc, 42]  # REMB's mantissa rounds
    await pc.close()


async def test_a_forwarded_audio_frame_carries_the_level_it_was_received_with() -> None:
    packets = [av.Packet(b"\xf8\xff\xfe"), av.Packet(b"\xf8\xff\xfe")]
    for index, packet in enumerate(packets):
        packet.pts, packet.time_base = 960 * index, fractions.Fraction(1, 48000)
    track = EncodedPacketTrack("audio", lambda: asyncio.sleep(0, packets.pop(0)))
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    sender = pc.addTransceiver(track, direction="sendonly").sender
    levels = [30, None]
    forward_audio_levels(sender, lambda: levels.pop(0))
    first = await sender._next_encoded_frame(OPUS)
    second = await sender._next_encoded_frame(OPUS)
    assert first is not None and first.audio_level == -30, "aiortc writes (vad, -audio_level) = level 30"
    assert second is not None and second.audio_level is None, "no level received, none invented"
    await pc.close()


class FakeReceiver:
    def __init__(self) -> None:
        self.plis: list[int] = []

    async def _send_rtcp_pli(self, media_ssrc: int) -> None:
        self.plis.append(media_ssrc)


async def test_keyframe_requests_are_rate_limited_but_not_lost() -> None:
    receiver = FakeReceiver()
    tap = ReceiverTap(receiver, kind="video", on_frame=lambda f: None, on_end=lambda: None, pli_interval=0.2)  # type: ignore[arg-type]
    tap._ssrc = 99
    for _ in range(5):
        tap.request_keyframe()
    await asyncio.sleep(0.01)
    assert receiver.plis == [99]
    await asyncio.sleep(0.3)
    assert receiver.plis == [99, 99], "one deferred PLI for the requests inside the interval"


async def test_ice_gathers_only_the_configured_address_and_ports() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("audio")
    restrict_ice(pc, IceRestriction(("127.0.0.1",), 41000, 41050))
    await pc.setLocalDescription(await pc.createOffer())
    candidates = [line.split() for line in pc.localDescription.sdp.splitlines() if line.startswith("a=candidate")]
    assert candidates
    for fields in candidates:
        assert fields[4] == "127.0.0.1" and 41000 <= int(fields[5]) <= 41050
    await pc.close()


async def test_encoded_packet_track_returns_packets_then_ends() -> None:
    packets: list[Any] = [av.Packet(b"x"), None]
    track = EncodedPacketTrack("audio", lambda: asyncio.sleep(0, packets.pop(0)))
    assert bytes(await track.recv()) == b"x"
    with pytest.raises(MediaStreamError):
        await track.recv()
    assert track.readyState == "ended"
