"""Fan-out policy: keyframe gating, lag handling, audio drops, slots, speakers."""

from __future__ import annotations

import asyncio
import fractions
from typing import Any

import av
import pytest

from sessions.media.forwarding import (
    ActiveSpeakerDetector,
    RateMeter,
    SubscriberQueue,
    SubscriberSlot,
    TrackForwarder,
    is_vp8_keyframe,
)
from sessions.media.tap import TappedFrame


def frame(data: bytes = b"delta", pts: int = 0, *, level: int | None = None) -> TappedFrame:
    packet = av.Packet(data)
    packet.pts = pts
    packet.time_base = fractions.Fraction(1, 90000)
    return TappedFrame(packet=packet, mime_type="video/vp8", ssrc=1, audio_level=level, arrival=0.0)


def vp8_frames(count: int) -> list[bytes]:
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = 64, 48, "yuv420p"
    codec.time_base = fractions.Fraction(1, 15)
    codec.options = {"deadline": "realtime", "lag-in-frames": "0"}
    out: list[bytes] = []
    for i in range(count):
        picture = av.VideoFrame(64, 48, "yuv420p")
        for plane in picture.planes:
            plane.update(bytes([(i * 7) % 255]) * plane.buffer_size)
        picture.pts = i
        out += [bytes(p) for p in codec.encode(picture)]
    return out


def test_vp8_keyframe_detection_on_real_frames() -> None:
    frames = vp8_frames(5)
    assert is_vp8_keyframe(frames[0])
    assert not any(is_vp8_keyframe(f) for f in frames[1:])
    assert not is_vp8_keyframe(b"")


async def test_video_subscriber_starts_at_a_keyframe_and_asks_for_one_when_reading() -> None:
    requests: list[bool] = []
    queue = SubscriberQueue(kind="video", capacity=4, request_keyframe=lambda: requests.append(True))
    queue.offer(frame(b"delta"), keyframe=False)
    assert queue.stats.skipped_waiting_keyframe == 1
    getter = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert requests == [True]
    queue.offer(frame(b"key"), keyframe=True)
    queue.offer(frame(b"delta2"), keyframe=False)
    assert bytes((await getter).packet) == b"key"
    assert bytes((await queue.get()).packet) == b"delta2"


async def test_lagging_video_subscriber_is_cut_back_to_the_next_keyframe() -> None:
    requests: list[bool] = []
    queue = SubscriberQueue(kind="video", capacity=3, request_keyframe=lambda: requests.append(True))
    queue.offer(frame(b"k"), keyframe=True)
    for i in range(5):
        queue.offer(frame(b"d%d" % i), keyframe=False)
    assert queue.waiting_for_keyframe and queue.stats.dropped == 3
    assert requests == [], "nobody is reading: a dead subscriber causes no keyframe"
    getter = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert requests == [True]
    queue.offer(frame(b"k2"), keyframe=True)
    assert bytes((await getter).packet) == b"k2"


async def test_audio_queue_drops_the_oldest() -> None:
    queue = SubscriberQueue(kind="audio", capacity=2, request_keyframe=lambda: None)
    for name in (b"a", b"b", b"c"):
        queue.offer(frame(name), keyframe=True)
    assert [bytes((await queue.get()).packet) for _ in range(2)] == [b"b", b"c"]
    assert queue.stats.dropped == 1


async def test_forwarder_shares_one_packet_and_a_removed_subscriber_ends() -> None:
    forwarder = TrackForwarder(kind="audio", request_keyframe=lambda: None)
    first, second = forwarder.add_subscriber("a"), forwarder.add_subscriber("b")
    sent = frame(b"opus")
    forwarder.push(sent)
    assert (await first.get()) is sent and (await second.get()) is sent
    forwarder.remove_subscriber("a")
    assert await first.get() is None
    forwarder.close()
    assert await second.get() is None


async def test_slot_keeps_timestamps_increasing_when_switched_to_another_publisher() -> None:
    slot = SubscriberSlot("video")
    one = TrackForwarder(kind="video", request_keyframe=lambda: None)
    slot.attach(one.add_subscriber("s"), ("p1", "p1:0"))
    one.push(frame(bytes([0x00, 0, 0, 0x9D, 0x01, 0x2A, 0, 0, 0, 0]), pts=900000))
    assert (await slot.track.recv()).pts == 900000
    two = TrackForwarder(kind="video", request_keyframe=lambda: None)
    slot.attach(two.add_subscriber("s"), ("p2", "p2:0"))
    two.push(frame(bytes([0x00, 0, 0, 0x9D, 0x01, 0x2A, 0, 0, 0, 0]), pts=10))
    assert (await slot.track.recv()).pts == 903000
    slot.end()
    with pytest.raises(Exception):
        await slot.track.recv()


def test_active_speaker_needs_to_be_clearly_louder_to_take_the_floor() -> None:
    detector = ActiveSpeakerDetector(smoothing=1.0)
    detector.observe("amina", frame(level=30))  # loud (97)
    detector.observe("bruno", frame(level=120))  # near silence
    assert detector.decide() == "amina"
    detector.observe("amina", frame(level=30))
    detector.observe("bruno", frame(level=28))  # only a little louder
    assert detector.decide() == "amina"
    detector.observe("amina", frame(level=127))
    detector.observe("bruno", frame(level=28))
    assert detector.decide() == "bruno"
    detector.forget("bruno")
    assert detector.current is None


def test_rate_meter_measures_what_a_stream_needs_on_the_wire() -> None:
    now = [0.0]
    meter = RateMeter(window=2.0, clock=lambda: now[0])
    assert meter.bitrate() == 0
    for _ in range(60):  # 4 s of 15 fps frames of 2,000 bytes: 2 packets each
        meter.add(2000)
        now[0] += 1 / 15
    expected = 15 * (2000 + 2 * 30) * 8
    assert abs(meter.bitrate() - expected) < expected * 0.05
    now[0] += 5  # the publisher stopped
    assert meter.bitrate() == 0


async def test_a_slot_remembers_the_audio_level_of_the_packet_it_handed_on() -> None:
    forwarder = TrackForwarder(kind="audio", request_keyframe=lambda: None)
    slot = SubscriberSlot("audio")
    slot.attach(forwarder.add_subscriber("bruno"), ("amina", "amina:0"))
    forwarder.push(frame(b"loud", 960, level=12))
    await slot.track.recv()
    assert slot.last_audio_level == 12
    forwarder.push(frame(b"none", 1920))
    await slot.track.recv()
    assert slot.last_audio_level is None


async def test_two_subscribers_get_the_same_vp8_payloads_cut_once_per_frame(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through the real SFU: one cut per frame for everyone, still decodable, nothing encoded."""
    from collections import Counter, defaultdict

    from aiortc.codecs import vpx as aiortc_vpx

    from sessions.media import MediaRoom
    from tests.sessions.media.test_sfu import CONFIG, Client, wait_until

    calls: Counter[str] = Counter()
    original_pack, original_encode = aiortc_vpx.Vp8Encoder.pack, aiortc_vpx.Vp8Encoder.encode
    original_packetize = aiortc_vpx.Vp8Encoder._packetize.__func__  # type: ignore[attr-defined]

    def pack(self: Any, packet: Any) -> Any:
        calls["pack"] += 1
        return original_pack(self, packet)

    def encode(self: Any, *args: Any) -> Any:
        calls["encode"] += 1
        return original_encode(self, *args)

    def packetize(cls: Any, buffer: bytes, picture_id: int) -> Any:
        calls["cut"] += 1
        return original_packetize(cls, buffer, picture_id)

    monkeypatch.setattr(aiortc_vpx.Vp8Encoder, "pack", pack)
    monkeypatch.setattr(aiortc_vpx.Vp8Encoder, "encode", encode)
    monkeypatch.setattr(aiortc_vpx.Vp8Encoder, "_packetize", classmethod(packetize))

    clients: dict[str, Client] = {}
    room = MediaRoom(
        "room-shared-cut",
        config=CONFIG,
        on_signal=lambda pid, message: clients[pid].on_signal(message) if pid in clients else None,
    )
    payloads: dict[str, dict[int, list[bytes]]] = {}
    try:
        amina = clients["amina"] = Client(room, "amina")
        await amina.join(publish=True)
        for name in ("bruno", "chen"):
            viewer = clients[name] = Client(room, name)
            by_picture: dict[int, list[bytes]] = defaultdict(list)
            payloads[name] = by_picture

            def record(track: Any, viewer: Client = viewer, by_picture: dict[int, list[bytes]] = by_picture) -> None:
                if track.kind != "video":
                    return
                receiver = next(t.receiver for t in viewer.pc.getTransceivers() if t.receiver.track is track)
                handle = receiver._handle_rtp_packet

                async def handle_and_record(packet: Any, arrival_time_ms: int) -> None:
                    descriptor, _ = aiortc_vpx.VpxPayloadDescriptor.parse(packet.payload)
                    by_picture[descriptor.picture_id].append(packet.payload)
                    await handle(packet, arrival_time_ms)

                receiver._handle_rtp_packet = handle_and_record

            viewer.pc.on("track", record)
            await viewer.join()
            await room.subscribe(name, "amina", ["video"])

        await wait_until(lambda: all(clients[n].decoded["video"] >= 20 for n in ("bruno", "chen")), 15)
        forwarder = next(p.forwarder for p in room.publications() if p.kind == "video")
        encodes, cuts, sfu_cuts = calls["encode"], calls["cut"], forwarder.packetiser.frames
    finally:
        await room.close()
        for client in clients.values():
            await client.close()

    shared = set(payloads["bruno"]) & set(payloads["chen"])
    assert len(shared) >= 15, "both subscribers got the same frames under the same picture IDs"
    for picture_id in shared:
        assert payloads["bruno"][picture_id] == payloads["chen"][picture_id]
    assert calls["pack"] == 0, "no sender cut a frame of its own"
    # The publisher's encoder cuts each frame it encodes; the SFU once more per frame, not per
    # subscriber (that would be about twice as many). The encoder runs in a thread: one frame
    # may be between its encode and its cut when the counters are read.
    assert abs((cuts - encodes) - sfu_cuts) <= 1, (cuts, encodes, sfu_cuts)
    assert sfu_cuts <= forwarder.frames
    assert sfu_cuts >= 20


def test_the_packetiser_cuts_a_frame_once_and_numbers_pictures_per_publication() -> None:
    forwarder = TrackForwarder(kind="video", request_keyframe=lambda: None)
    first, second = forwarder.add_subscriber("bruno"), forwarder.add_subscriber("chen")
    key, delta = vp8_frames(2)
    frames = [frame(key, 0), frame(delta + bytes(3000), 3000)]
    for item in frames:
        forwarder.push(item)
    assert forwarder.packetiser.frames == 2
    assert first._items[1] is second._items[1] and first._items[1].payloads is frames[1].payloads
    assert len(frames[1].payloads or []) == 3, "a frame over 1200 bytes is cut in several packets"
    picture_ids = [(p[2] & 0x7F) << 8 | p[3] for item in frames for p in (item.payloads or [])[:1]]
    assert picture_ids[1] == (picture_ids[0] + 1) % (1 << 15)


async def test_a_forwarding_sender_sends_the_shared_payloads_with_its_own_timestamps() -> None:
    from aiortc import RTCPeerConnection
    from aiortc.codecs.vpx import Vp8Encoder

    from sessions.media.tap import share_packetisation

    slot = SubscriberSlot("video")
    pc = RTCPeerConnection()
    sender = pc.addTransceiver(slot.track, direction="sendonly").sender
    assert share_packetisation(sender)
    packer = getattr(sender, "_RTCRtpSender__encoder")
    assert packer is not None and not isinstance(packer, Vp8Encoder)

    forwarder = TrackForwarder(kind="video", request_keyframe=lambda: None)
    slot.attach(forwarder.add_subscriber("bruno"), ("amina", "amina:1"))
    key = frame(vp8_frames(1)[0], 9000)
    forwarder.push(key)
    packet = await slot.track.recv()
    payloads, timestamp = packer.pack(packet)
    assert payloads is key.payloads and timestamp == 9000
    # A frame without shared payloads (another codec) is packed the stock way.
    slot.last_frame = TappedFrame(packet=packet, mime_type="video/vp8", ssrc=1, audio_level=None, arrival=0.0)
    stock, _ = packer.pack(packet)
    assert [p[4:] for p in stock] == [p[4:] for p in (key.payloads or [])]
    await pc.close()
