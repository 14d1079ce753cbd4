"""The shared low-resolution copy: decode once, encode once, whatever the number of low subscribers.

A publisher sends 480x270 VP8 (encoded by aiortc on the client side). Subscribers who chose
`low` get the room's one copy (320x180, a few frames a second, ~150 kbit/s) and decode it;
a `high` subscriber still gets the publisher's bytes untouched.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections import Counter
from typing import Any

import av
import pytest
from aiortc import RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from sessions.media import MediaError, MediaRoom
from sessions.media.forwarding import TrackForwarder, is_vp8_keyframe
from sessions.media.lowres import LowQualityCopy, LowQualityProfile
from sessions.media.sfu import Publication
from sessions.media.tap import TappedFrame, restrict_ice
from tests.sessions.media.test_sfu import (  # noqa: F401 - fixtures
    LOOPBACK,
    Client,
    MovingVideoTrack,
    encoder_calls,
    room,
    wait_until,
)

WIDTH, HEIGHT = 480, 270


class Viewer(Client):
    """A subscriber that notes the size of every picture it decodes (and optionally the bytes)."""

    def __init__(self, room: MediaRoom, participant_id: str) -> None:
        super().__init__(room, participant_id)
        self.sizes: Counter[tuple[int, int]] = Counter()
        self.digests: list[str] = []
        self.frame_bytes = 0

    def _on_encoded(self, frame: TappedFrame) -> None:
        data = bytes(frame.packet)
        self.encoded_frames += 1
        self.frame_bytes += len(data)
        self.digests.append(hashlib.sha1(data).hexdigest())
        if is_vp8_keyframe(data):
            self.keyframes += 1

    async def _consume(self, track: Any) -> None:
        try:
            while True:
                frame = await track.recv()
                if isinstance(frame, av.VideoFrame):
                    self.sizes[(frame.width, frame.height)] += 1
                self.decoded[track.kind] += 1
        except MediaStreamError:
            pass

    async def publish_video(self) -> None:
        self.pc.addTrack(MovingVideoTrack(WIDTH, HEIGHT))
        restrict_ice(self.pc, LOOPBACK)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await self.room.handle_offer(self.id, self.pc.localDescription.sdp, may_publish=True)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))


def viewer(room: MediaRoom, participant_id: str) -> Viewer:
    client = Viewer(room, participant_id)
    room.clients[participant_id] = client  # type: ignore[attr-defined]
    return client


def video_publication(room: MediaRoom) -> Publication:
    return next(pub for pub in room.publications() if pub.kind == "video")


async def watch(room: MediaRoom, participant_id: str, quality: str, *, tap: bool = False) -> Viewer:
    client = viewer(room, participant_id)
    client.tap_video = tap
    await client.join()
    await room.set_quality(participant_id, quality)
    await room.subscribe(participant_id, "amina", ["video"])
    return client


async def test_low_subscribers_share_one_encoder_and_the_high_one_gets_the_original_bytes(
    room: MediaRoom, encoder_calls: dict[str, Counter[int]]
) -> None:
    amina = viewer(room, "amina")
    await amina.publish_video()
    original: dict[str, int] = {}
    video_publication(room).forwarder.observers.append(
        lambda frame: original.setdefault(hashlib.sha1(bytes(frame.packet)).hexdigest(), len(bytes(frame.packet)))
    )
    bruno = await watch(room, "bruno", "high", tap=True)
    chen = await watch(room, "chen", "low")
    dara = await watch(room, "dara", "low")

    await wait_until(lambda: bruno.encoded_frames >= 20 and chen.decoded["video"] >= 8 and dara.decoded["video"] >= 8, 20)

    # The high subscriber: the publisher's frames, byte for byte.
    assert bruno.digests and all(digest in original for digest in bruno.digests)
    # The low ones: decodable, smaller pictures from one shared copy.
    assert set(chen.sizes) == {(320, 180)} and set(dara.sizes) == {(320, 180)}
    copy = video_publication(room).low_copy
    assert copy is not None and sorted(copy.forwarder.subscriber_ids) == ["chen", "dara"]
    # About 7.5 of the publisher's 30 frames a second are encoded, and they are smaller.
    assert copy.stats.frames_encoded < copy.stats.frames_decoded / 2
    assert sum(original.values()) / len(original) > 0
    # Exactly one encoder more than the publisher's own, however many low subscribers.
    encoders = set(encoder_calls["encode"])
    assert id(copy.encoder) in encoders
    assert len(encoders) == 2, "the publisher's encoder and the one shared low-quality encoder"
    assert not set(encoder_calls["pack"]) & encoders, "no encoder on a subscriber leg"
    assert encoder_calls["encode"][id(copy.encoder)] == copy.stats.frames_encoded
    assert room.stats()[video_publication(room).track_id]["low"]["frames_encoded"] == copy.stats.frames_encoded


class GrainyVideoTrack(MovingVideoTrack):
    """A moving bar over fresh grain each frame: hard to compress, like a real camera."""

    async def recv(self) -> av.VideoFrame:
        frame = await super().recv()
        luma = frame.planes[0]
        grain = bytes(min(255, b // 4 + (160 if i % WIDTH < 64 else 60)) for i, b in enumerate(os.urandom(WIDTH * 8)))
        luma.update((grain * (HEIGHT // 8 + 1))[: luma.line_size * HEIGHT] if luma.line_size == WIDTH else bytes(luma))
        return frame


async def test_the_low_copy_needs_much_less_bandwidth_than_the_original(room: MediaRoom) -> None:
    amina = viewer(room, "amina")
    amina.pc.addTrack(GrainyVideoTrack(WIDTH, HEIGHT))
    restrict_ice(amina.pc, LOOPBACK)
    await amina.pc.setLocalDescription(await amina.pc.createOffer())
    answer = await room.handle_offer("amina", amina.pc.localDescription.sdp, may_publish=True)
    await amina.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    high = await watch(room, "bruno", "high", tap=True)
    low = await watch(room, "chen", "low", tap=True)
    await wait_until(lambda: high.encoded_frames >= 10 and low.encoded_frames >= 3, 20)
    marks = high.frame_bytes, low.frame_bytes
    await asyncio.sleep(2)
    high_bytes, low_bytes = high.frame_bytes - marks[0], low.frame_bytes - marks[1]
    assert 0 < low_bytes < high_bytes / 2, (low_bytes, high_bytes)


async def test_switching_quality_back_and_forth_and_the_copy_stops_when_nobody_needs_it(room: MediaRoom) -> None:
    amina = viewer(room, "amina")
    await amina.publish_video()
    bruno = await watch(room, "bruno", "high")
    await wait_until(lambda: bruno.sizes[(WIDTH, HEIGHT)] >= 10, 15)
    publication = video_publication(room)
    assert publication.low_copy is None, "nobody asked for the copy yet"
    transceivers = len(bruno.pc.getTransceivers())

    await room.set_quality("bruno", "low")
    await wait_until(lambda: bruno.sizes[(320, 180)] >= 5, 15)
    copy = publication.low_copy
    assert copy is not None and copy.running

    await room.set_quality("bruno", "high")
    assert publication.low_copy is None and not copy.running
    copy.join()
    mark = bruno.sizes[(WIDTH, HEIGHT)]
    await wait_until(lambda: bruno.sizes[(WIDTH, HEIGHT)] >= mark + 10, 15)

    await room.set_quality("bruno", "off")
    await wait_until(lambda: "a=inactive" in bruno.pc.remoteDescription.sdp, 10)
    await asyncio.sleep(0.3)
    stopped_at = bruno.decoded["video"]
    await asyncio.sleep(0.5)
    assert bruno.decoded["video"] == stopped_at, "no video while off"

    await room.set_quality("bruno", "low")
    mark = bruno.sizes[(320, 180)]
    await wait_until(lambda: bruno.sizes[(320, 180)] >= mark + 5, 15)
    assert len(bruno.pc.getTransceivers()) == transceivers, "the same video m-line throughout"

    second = publication.low_copy
    assert second is not None and second is not copy
    await room.leave("bruno")
    assert publication.low_copy is None and not second.running
    second.join()


async def test_the_copy_stops_when_the_publisher_leaves(room: MediaRoom) -> None:
    amina = viewer(room, "amina")
    await amina.publish_video()
    chen = await watch(room, "chen", "low")
    await wait_until(lambda: chen.decoded["video"] >= 5, 15)
    copy = video_publication(room).low_copy
    assert copy is not None
    await room.leave("amina")
    assert not copy.running
    copy.join()


async def test_a_low_subscribers_keyframe_request_goes_to_the_copy_not_the_publisher(room: MediaRoom) -> None:
    amina = viewer(room, "amina")
    await amina.publish_video()
    chen = await watch(room, "chen", "low", tap=True)
    await wait_until(lambda: chen.encoded_frames >= 8, 15)
    await asyncio.sleep(0.6)  # past the copy's keyframe rate limit and the publisher's PLI limit
    publication = video_publication(room)
    copy = publication.low_copy
    assert copy is not None
    plis_before = publication.tap.plis_sent if publication.tap else 0
    keyframes_before, forced_before = chen.keyframes, copy.stats.keyframes_forced
    receiver = next(t.receiver for t in chen.pc.getTransceivers() if t.kind == "video")
    await receiver._send_rtcp_pli(receiver.getSynchronizationSources()[0].source)
    await wait_until(lambda: chen.keyframes > keyframes_before, 5)
    assert copy.stats.keyframes_forced > forced_before
    assert (publication.tap.plis_sent if publication.tap else 0) == plis_before


async def test_bad_quality_and_unknown_participant_are_refused(room: MediaRoom) -> None:
    with pytest.raises(MediaError) as error:
        await room.set_quality("nobody", "low")
    assert error.value.code == "unknown_participant"
    bruno = viewer(room, "bruno")
    await bruno.join()
    with pytest.raises(MediaError) as error:
        await room.set_quality("bruno", "ultra")
    assert error.value.code == "invalid_quality"


def test_a_backlog_in_the_copy_restarts_it_at_a_source_keyframe() -> None:
    """When the coding thread falls behind, the backlog goes and the publisher is asked for a keyframe."""
    source = TrackForwarder(kind="video", request_keyframe=lambda: None)
    requests: list[int] = []
    copy = LowQualityCopy(source, request_source_keyframe=lambda: requests.append(1), profile=LowQualityProfile())
    # Not started: nothing drains the input, as if the thread were stuck.
    frame = TappedFrame(packet=av.Packet(b"\x01" * 20), mime_type="video/vp8", ssrc=1, audio_level=None, arrival=0.0)
    for _ in range(20):
        copy._feed(frame)
    assert copy.stats.gaps >= 1 and requests
    assert copy._input.qsize() <= 8
    copy.stop()


def test_the_copy_fits_the_source_in_its_box_without_upscaling() -> None:
    profile = LowQualityProfile()
    assert profile.size_for(1280, 720) == (320, 180)
    assert profile.size_for(640, 480) == (240, 180)
    assert profile.size_for(160, 120) == (160, 120)
