"""The SFU end to end with aiortc clients, on 127.0.0.1 only.

A publisher sends real VP8 and Opus (encoded by aiortc on the client side);
subscribers decode what they receive, which proves the forwarded bytes are
valid media.  Nothing in the forwarding path may encode.
"""

from __future__ import annotations

import array
import asyncio
import fractions
import math
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import av
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.codecs import opus as aiortc_opus
from aiortc.codecs import vpx as aiortc_vpx
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack

from sessions.media import MediaConfig, MediaError, MediaRoom
from sessions.media.forwarding import is_vp8_keyframe
from sessions.media.tap import IceRestriction, TappedFrame, restrict_ice, tap_receiver

LOOPBACK = IceRestriction(("127.0.0.1",))
CONFIG = MediaConfig(ice_host_addresses=("127.0.0.1",), pli_interval=0.2, speaker_interval=0.1)


class MovingVideoTrack(VideoStreamTrack):
    """Small frames with a moving bar, so the encoder produces real deltas."""

    def __init__(self, width: int = 160, height: int = 120) -> None:
        super().__init__()
        self.width, self.height = width, height
        self.count = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        x = (self.count * 4) % (self.width - 8)
        row = bytes(40 if not x <= i < x + 8 else 220 for i in range(self.width))
        luma = frame.planes[0]
        luma.update(row.ljust(luma.line_size, b"\0") * self.height)
        for plane in frame.planes[1:]:
            plane.update(bytes([128]) * (plane.line_size * plane.height))
        self.count += 1
        frame.pts, frame.time_base = pts, time_base
        return frame


class ToneTrack(AudioStreamTrack):
    """A 440 Hz tone: loud enough to be the active speaker."""

    def __init__(self, amplitude: float = 0.5) -> None:
        super().__init__()
        self.amplitude = amplitude
        self.samples = 0

    async def recv(self) -> av.AudioFrame:
        frame = await super().recv()
        n = frame.samples
        data = array.array(
            "h",
            (int(math.sin(2 * math.pi * 440 * (i + self.samples) / 48000) * self.amplitude * 32767) for i in range(n)),
        )
        self.samples += n
        tone = av.AudioFrame(format="s16", layout="mono", samples=n)
        tone.planes[0].update(data.tobytes())
        tone.sample_rate, tone.pts, tone.time_base = 48000, frame.pts, fractions.Fraction(1, 48000)
        return tone


class Client:
    """A participant's browser, played by aiortc."""

    def __init__(self, room: MediaRoom, participant_id: str) -> None:
        self.room = room
        self.id = participant_id
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.messages: list[dict[str, Any]] = []
        self.decoded: Counter[str] = Counter()
        self.keyframes = 0
        self.encoded_frames = 0
        self.tap_video = False
        self._consumers: list[asyncio.Task[None]] = []
        self.pc.on("track", self._on_track)

    def _on_track(self, track: Any) -> None:
        if self.tap_video and track.kind == "video":
            receiver = next(t.receiver for t in self.pc.getTransceivers() if t.receiver.track is track)
            tap_receiver(receiver, kind="video", on_frame=self._on_encoded, on_end=lambda: None)
            return
        self._consumers.append(asyncio.ensure_future(self._consume(track)))

    def _on_encoded(self, frame: TappedFrame) -> None:
        self.encoded_frames += 1
        if is_vp8_keyframe(bytes(frame.packet)):
            self.keyframes += 1

    async def _consume(self, track: Any) -> None:
        try:
            while True:
                frame = await track.recv()
                if isinstance(frame, av.VideoFrame):
                    assert frame.width == 160 and frame.height == 120
                self.decoded[track.kind] += 1
        except MediaStreamError:
            pass

    async def join(self, *, publish: bool = False, tone: bool = False) -> None:
        if publish:
            self.pc.addTrack(ToneTrack() if tone else AudioStreamTrack())
            self.pc.addTrack(MovingVideoTrack())
        else:
            self.pc.createDataChannel("control")
        restrict_ice(self.pc, LOOPBACK)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await self.room.handle_offer(self.id, self.pc.localDescription.sdp, may_publish=publish)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    async def on_signal(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        if message["type"] == "media.offer":
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=message["sdp"], type="offer"))
            restrict_ice(self.pc, LOOPBACK)
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            await self.room.handle_answer(self.id, self.pc.localDescription.sdp)

    async def close(self) -> None:
        for task in self._consumers:
            task.cancel()
        await self.pc.close()


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@pytest.fixture
async def room() -> Any:
    clients: dict[str, Client] = {}

    def on_signal(participant_id: str, message: dict[str, Any]) -> Awaitable[None] | None:
        client = clients.get(participant_id)
        return client.on_signal(message) if client else None

    media_room = MediaRoom("room-1", config=CONFIG, on_signal=on_signal)
    media_room.clients = clients  # type: ignore[attr-defined]
    yield media_room
    await media_room.close()
    for client in clients.values():
        await client.close()


def make_client(room: MediaRoom, participant_id: str) -> Client:
    client = Client(room, participant_id)
    room.clients[participant_id] = client  # type: ignore[attr-defined]
    return client


@pytest.fixture
def encoder_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, Counter[int]]:
    """Which encoder instances encoded and which only packed."""
    calls: dict[str, Counter[int]] = {"encode": Counter(), "pack": Counter()}
    for cls in (aiortc_vpx.Vp8Encoder, aiortc_opus.OpusEncoder):
        for name in ("encode", "pack"):
            original = getattr(cls, name)

            def wrapper(self: Any, *args: Any, _original: Any = original, _name: str = name) -> Any:
                calls[_name][id(self)] += 1
                return _original(self, *args)

            monkeypatch.setattr(cls, name, wrapper)
    return calls


async def test_publisher_reaches_several_subscribers_as_decodable_media_without_encoding(
    room: MediaRoom, encoder_calls: dict[str, Counter[int]]
) -> None:
    amina = make_client(room, "amina")
    await amina.join(publish=True)
    viewers = [make_client(room, name) for name in ("bruno", "chen", "dara")]
    for viewer in viewers:
        await viewer.join()
        await room.subscribe(viewer.id, "amina", ["audio", "video"])

    await wait_until(lambda: all(v.decoded["video"] >= 20 and v.decoded["audio"] >= 50 for v in viewers), 15)

    packers = set(encoder_calls["pack"])
    encoders = set(encoder_calls["encode"])
    assert packers, "the SFU's senders pack pre-encoded frames"
    assert not packers & encoders, "an encoder on the forwarding path encoded"
    assert len(encoders) == 2, "only the publisher's audio and video encoders encode"
    for client in [amina, *viewers]:
        for sdp in (client.pc.localDescription.sdp, client.pc.remoteDescription.sdp):
            candidates = [line for line in sdp.splitlines() if line.startswith("a=candidate")]
            assert candidates and all(" 127.0.0.1 " in line for line in candidates)
    offers = [m for m in viewers[0].messages if m["type"] == "media.offer"]
    assert {t["source"] for t in offers[-1]["tracks"]} == {"audio", "camera"}
    assert all(t["publisher"] == "amina" for t in offers[-1]["tracks"])


async def test_subscriber_keyframe_request_produces_a_keyframe(room: MediaRoom) -> None:
    amina = make_client(room, "amina")
    await amina.join(publish=True)
    bruno = make_client(room, "bruno")
    bruno.tap_video = True
    await bruno.join()
    await room.subscribe("bruno", "amina", ["video"])
    await wait_until(lambda: bruno.encoded_frames >= 10)
    # aiortc's publisher encoder makes a keyframe only when asked (gop 3000).
    before = bruno.keyframes
    assert before >= 1, "a new subscriber starts at a keyframe"
    await asyncio.sleep(0.3)  # past the PLI rate limit
    pc = room.peer_connection("bruno")
    assert pc is not None
    bruno_receiver = next(t.receiver for t in bruno.pc.getTransceivers() if t.kind == "video")
    # The subscriber reports picture loss, as a browser does after a loss.
    ssrc = bruno_receiver.getSynchronizationSources()[0].source
    await bruno_receiver._send_rtcp_pli(ssrc)
    plis_before = sum(track["plis_sent"] for track in room.stats().values())
    await wait_until(lambda: bruno.keyframes > before, 5)
    assert sum(track["plis_sent"] for track in room.stats().values()) > plis_before


async def test_leaving_or_failing_subscriber_does_not_disturb_the_others(room: MediaRoom) -> None:
    amina = make_client(room, "amina")
    await amina.join(publish=True)
    viewers = [make_client(room, name) for name in ("bruno", "chen", "dara")]
    for viewer in viewers:
        await viewer.join()
        await room.subscribe(viewer.id, "amina", ["audio", "video"])
    await wait_until(lambda: all(v.decoded["video"] >= 10 for v in viewers))

    await room.leave("bruno")  # leaves cleanly
    await viewers[1].pc.close()  # vanishes without a word
    room.clients.pop("chen")  # type: ignore[attr-defined]

    dara = viewers[2]
    mark = dara.decoded["video"], dara.decoded["audio"]
    await wait_until(lambda: dara.decoded["video"] >= mark[0] + 20 and dara.decoded["audio"] >= mark[1] + 50, 10)
    assert "bruno" not in room.participant_ids
    stats = room.stats()
    video = next(v for k, v in stats.items() if k.startswith("amina:") and v["keyframes"])
    assert "bruno" not in video["subscribers"]
    assert video["subscribers"]["dara"]["dropped"] == 0


async def test_new_publisher_is_offered_to_wildcard_subscribers(room: MediaRoom) -> None:
    bruno = make_client(room, "bruno")
    await bruno.join()
    await room.subscribe("bruno", "*", ["audio"])
    amina = make_client(room, "amina")
    await amina.join(publish=True, tone=True)
    await wait_until(lambda: bruno.decoded["audio"] >= 30)
    assert bruno.decoded["video"] == 0
    assert any(m["type"] == "media.publications" for m in bruno.messages)
    await wait_until(lambda: room.active_speaker == "amina")
    assert {"type": "media.speaker", "participant": "amina"} in bruno.messages


async def test_bad_offers_are_refused_with_a_clear_error(room: MediaRoom) -> None:
    with pytest.raises(MediaError) as error:
        await room.handle_offer("eve", "hello", may_publish=True)
    assert error.value.code == "malformed_sdp"
    with pytest.raises(MediaError) as error:
        await room.handle_offer("eve", "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 96\r\n", may_publish=True)
    assert error.value.code == "malformed_sdp"

    amina = make_client(room, "amina")
    amina.pc.addTrack(AudioStreamTrack())
    amina.pc.addTrack(MovingVideoTrack())
    await amina.pc.setLocalDescription(await amina.pc.createOffer())
    with pytest.raises(MediaError) as error:
        await room.handle_offer("amina", amina.pc.localDescription.sdp, may_publish=False)
    assert error.value.code == "not_allowed_to_publish"

    crowded = make_client(room, "crowded")
    for _ in range(4):
        crowded.pc.addTrack(MovingVideoTrack())
    await crowded.pc.setLocalDescription(await crowded.pc.createOffer())
    with pytest.raises(MediaError) as error:
        await room.handle_offer("crowded", crowded.pc.localDescription.sdp, may_publish=True)
    assert error.value.code == "too_many_tracks"
    assert room.participant_ids == []


async def test_unsubscribed_slot_is_reused_when_subscribing_again(room: MediaRoom) -> None:
    amina = make_client(room, "amina")
    await amina.join(publish=True)
    bruno = make_client(room, "bruno")
    await bruno.join()
    await room.subscribe("bruno", "amina", ["audio", "video"])
    await wait_until(lambda: bruno.decoded["video"] >= 10)

    await room.unsubscribe("bruno", "amina", ["video"])
    await wait_until(lambda: "a=inactive" in bruno.pc.remoteDescription.sdp)
    await room.subscribe("bruno", "amina", ["video"])
    await wait_until(lambda: "a=inactive" not in bruno.pc.remoteDescription.sdp)
    mark = bruno.decoded["video"]
    await wait_until(lambda: bruno.decoded["video"] >= mark + 10)
    assert len(bruno.pc.getTransceivers()) == 2, "one audio and one video m-line, the video one reused"


async def test_taking_the_floor_back_cuts_the_publication_for_every_subscriber(room: MediaRoom) -> None:
    amina = make_client(room, "amina")
    await amina.join(publish=True)
    bruno = make_client(room, "bruno")
    await bruno.join()
    await room.subscribe("bruno", "amina", ["audio", "video"])
    await wait_until(lambda: bruno.decoded["video"] >= 10 and bruno.decoded["audio"] >= 20)

    ended = await room.set_send_rights("amina", publish=False, reason="floor_revoked", seq=10)

    assert len(ended) == 2 and room.publications() == []
    await wait_until(lambda: any(m["type"] == "media.unpublished" for m in amina.messages), 2)
    told = [m for m in amina.messages if m["type"] == "media.unpublished"]
    assert told == [{"type": "media.unpublished", "reason": "floor_revoked", "tracks": ended,
                     "sources": ["audio", "camera"]}]
    assert {"type": "media.publications", "publications": []} in bruno.messages
    await asyncio.sleep(0.5)  # frames already on the wire
    mark = bruno.decoded["video"], bruno.decoded["audio"]
    await asyncio.sleep(1.5)
    assert (bruno.decoded["video"], bruno.decoded["audio"]) == mark, "amina still sends; nobody receives it"


async def test_an_offer_checked_before_the_revocation_cannot_publish_again(room: MediaRoom) -> None:
    amina = make_client(room, "amina")
    await amina.join(publish=True)
    await room.set_send_rights("amina", publish=False, reason="floor_revoked", seq=10)
    again = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    again.addTrack(AudioStreamTrack())
    await again.setLocalDescription(await again.createOffer())
    for checked_seq in (None, 9):
        with pytest.raises(MediaError) as error:
            await room.handle_offer("amina", again.localDescription.sdp, may_publish=True, checked_seq=checked_seq)
        assert error.value.code == "not_allowed_to_publish"
    await again.close()
    # Rights that arrive out of order never undo newer ones.
    assert await room.set_send_rights("amina", publish=True, reason="floor_granted", seq=12) == []
    assert await room.set_send_rights("amina", publish=False, reason="floor_revoked", seq=11) == []
    assert room._participants["amina"].rights.publish is True  # type: ignore[union-attr]


async def test_muting_cuts_only_the_audio_and_refuses_a_microphone(room: MediaRoom) -> None:
    amina = make_client(room, "amina")
    await amina.join(publish=True, tone=True)
    bruno = make_client(room, "bruno")
    await bruno.join()
    await room.subscribe("bruno", "amina", ["audio", "video"])
    await wait_until(lambda: bruno.decoded["video"] >= 10 and bruno.decoded["audio"] >= 20)
    await wait_until(lambda: room.active_speaker == "amina")

    await room.set_send_rights("amina", publish=True, audio=False, reason="muted", seq=3)

    assert [pub.source for pub in room.publications()] == ["camera"]
    await wait_until(lambda: any(m["type"] == "media.unpublished" for m in amina.messages), 2)
    assert [m["sources"] for m in amina.messages if m["type"] == "media.unpublished"] == [["audio"]]
    await asyncio.sleep(0.5)
    mark = bruno.decoded["video"], bruno.decoded["audio"]
    await wait_until(lambda: bruno.decoded["video"] >= mark[0] + 10)
    assert bruno.decoded["audio"] == mark[1]
    await wait_until(lambda: room.active_speaker is None, 5)
    with pytest.raises(MediaError) as error:
        await room.handle_offer("amina", amina.pc.localDescription.sdp, may_publish=True)
    assert error.value.code == "muted"


async def test_subscribers_receive_the_audio_level_the_publisher_sent(room: MediaRoom) -> None:
    amina = make_client(room, "amina")
    await amina.join(publish=True, tone=True)  # aiortc's encoder writes RFC 6464 levels
    bruno = make_client(room, "bruno")
    levels: list[int | None] = []

    def tap_audio(track: Any) -> None:
        if track.kind == "audio":
            receiver = next(t.receiver for t in bruno.pc.getTransceivers() if t.receiver.track is track)
            tap_receiver(receiver, kind="audio", on_frame=lambda f: levels.append(f.audio_level), on_end=lambda: None)

    bruno.pc.on("track", tap_audio)
    await bruno.join()
    await room.subscribe("bruno", "amina", ["audio"])
    await wait_until(lambda: len(levels) >= 50)
    heard = [level for level in levels if level is not None]
    assert len(heard) >= len(levels) - 2, "every forwarded packet carries the level"
    assert sorted(heard)[len(heard) // 2] <= 20, "a loud tone is near 0 dBov (level 0 = loudest)"
