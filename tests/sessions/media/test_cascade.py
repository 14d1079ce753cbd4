"""One session across several media workers (sessions/media/cascade.py, cascade_link.py).

The link tests run two ends on loopback and play the attacker with raw sockets: a forged
or replayed message is dropped and counted, a wrong secret, another protocol version or
an unregistered worker is refused. The relay test joins two workers' rooms of one session
over a real link with the real Redis registry and compares what a subscriber on the
second worker receives with what the publisher's worker forwarded, byte for byte. The
process tests run `manage.py media_worker` twice, with aiortc playing the browsers over
the room socket: a subscriber placed on worker B receives a publisher on worker A, and
when A is killed with SIGKILL the publisher republishes and B's subscriber receives again.
"""

from __future__ import annotations

import asyncio
import fractions
import io
import logging
import os
import signal
import struct
import time
import uuid
from pathlib import Path

import av
import pytest
from channels.db import database_sync_to_async
from django.conf import settings

from sessions.media.cascade import Cascade
from sessions.media.cascade_link import TAG_BYTES, HandshakeRefused, LinkEnds, RelayedFrame, decode_frame, encode_frame
from sessions.media.forwarding import TrackForwarder
from sessions.media.placement import WorkerInfo, WorkerLoad, WorkerRegistry
from sessions.media.sfu import SFU, MediaConfig, Publication
from sessions.media.tap import TappedFrame
from sessions.models import SessionKind
from tests.conftest import need_component
from tests.sessions.media.test_browser_media import _s3_client, _s3_key, _stored_bytes, media_worker_process
from tests.sessions.media.test_placement import (  # noqa: F401  (fixture)
    live_workers,
    registry_workers,
    separate_workers,
)
from tests.sessions.media.test_sfu import MovingVideoTrack, ToneTrack
from tests.sessions.media.test_worker import check_playable, mute_cuts_only_the_microphone

from .conftest import make_session, wait_until

SECRET = b"cascade test secret"


class Ends:
    """Two workers' link ends on loopback; what each received."""

    def __init__(self, *, secret_b: bytes = SECRET, version_b: int | None = None, registered: bool = True) -> None:
        self.received: list[tuple[str, int, bytes]] = []

        def on_message(link, kind, payload):
            self.received.append((link.peer_id, kind, payload))

        async def is_registered(worker_id: str) -> bool:
            return registered

        self.a = LinkEnds(worker_id="a", secret=SECRET, is_registered=is_registered, on_message=on_message)
        self.b = LinkEnds(worker_id="b", secret=secret_b, is_registered=is_registered, on_message=on_message)
        if version_b is not None:
            self.b.version = version_b
        self.server: asyncio.base_events.Server | None = None
        self.accepted: list = []

    async def listen(self) -> int:
        async def accept(reader, writer):
            link = await self.b.accept(reader, writer)
            if link is not None:
                self.accepted.append(link)
                await link.run()

        self.server = await asyncio.start_server(accept, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()


@pytest.fixture
async def ends():
    made: list[Ends] = []

    def make(**kwargs) -> Ends:
        made.append(Ends(**kwargs))
        return made[-1]

    yield make
    for item in made:
        await item.close()


def frame(track: str = "12:0", data: bytes = b"\x10\x02\x00\x9d\x01\x2a" + bytes(range(200))) -> RelayedFrame:
    return RelayedFrame(session_id=7, track_id=track, mime_type="video/vp8", audio_level=None, timestamp=90_000, data=data)


def test_a_frame_crosses_the_wire_format_unchanged_and_garbage_is_refused():
    original = RelayedFrame(7, "12:1", "audio/opus", 33, 2**32 - 5, b"\xfc\xff\xfe" * 40)
    assert decode_frame(encode_frame(original)) == original
    with pytest.raises(ValueError):
        decode_frame(b"\x01\x00\x00")


async def test_two_workers_with_the_secret_link_and_a_frame_arrives_byte_exact(ends):
    pair = ends()
    port = await pair.listen()
    link = await pair.a.dial("b", "127.0.0.1", port)
    asyncio.ensure_future(link.run())
    sent = frame()
    assert link.send_frame(sent, keyframe=True, video=True)
    link.send_control({"op": "pli", "session": 7, "track": "12:0"})
    await wait_until(lambda: len(pair.received) == 2, 5)
    (peer, kind, payload), (_, control_kind, control) = pair.received
    assert peer == "a" and decode_frame(payload) == sent
    assert control_kind == 2 and b'"pli"' in control
    link.close()


async def overheard_link(pair: Ends, port: int):
    """A link whose first frame the attacker overheard: (link, the bytes it wrote, a raw write)."""
    link = await pair.a.dial("b", "127.0.0.1", port)
    recorded: list[bytes] = []
    real_write = link.writer.write
    link.writer.write = lambda data: (recorded.append(bytes(data)), real_write(data))
    link.send_frame(frame(), keyframe=True, video=True)
    await wait_until(lambda: len(pair.received) == 1, 5)
    return link, recorded, real_write


async def test_a_forged_or_replayed_message_is_dropped_and_counted(ends):
    """The attacker sits on the connection: it can resend what it saw, or write its own bytes."""
    pair = ends()
    port = await pair.listen()
    link, recorded, real_write = await overheard_link(pair, port)

    real_write(recorded[0])  # replayed: a valid tag, an old sequence number
    body = b"\x02" + b'{"op":"leave","session":7}'
    real_write(struct.pack("!IQ", TAG_BYTES + len(body), 2) + b"\x00" * TAG_BYTES + body)  # forged tag
    link.send_control({"op": "leave", "session": 7})  # and the genuine sender goes on
    await wait_until(lambda: len(pair.received) == 2, 5)
    counters = pair.b.counters
    assert counters.replayed == 1 and counters.forged == 1
    assert pair.received[1][2] == body  # only the genuine message was handled
    link.close()


async def test_a_message_replayed_on_another_connection_fails_its_tag(ends):
    pair = ends()
    port = await pair.listen()
    _first, recorded, _write = await overheard_link(pair, port)
    second = await pair.a.dial("b", "127.0.0.1", port)
    second.writer.write(recorded[0])
    await wait_until(lambda: pair.b.counters.forged == 1, 5)
    assert len(pair.received) == 1


@pytest.mark.parametrize("case", ["wrong secret", "other version", "not registered"])
async def test_a_worker_that_cannot_prove_it_belongs_is_refused(ends, case, caplog):
    pair = ends(secret_b=b"another deploy" if case == "wrong secret" else SECRET,
                version_b=99 if case == "other version" else None, registered=case != "not registered")
    port = await pair.listen()
    caplog.set_level(logging.WARNING, logger="sessions.media.cascade_link")
    with pytest.raises(HandshakeRefused) as refused:
        await pair.a.dial("b", "127.0.0.1", port)
    await wait_until(lambda: pair.b.counters.refused_handshakes == 1, 5)
    assert pair.accepted == []
    if case == "other version":
        assert "version 99" in str(refused.value)
        assert any("cascade protocol version 1" in r.getMessage() and "version 99" in r.getMessage()
                   for r in caplog.records)
    if case == "not registered":
        await wait_until(lambda: any("not a live worker" in r.getMessage() for r in caplog.records), 5)


async def test_a_stranger_writing_garbage_to_the_link_port_is_refused(ends):
    pair = ends()
    port = await pair.listen()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"\x00\x00\x00\x20" + b"\xff" * 64 + b"\n")
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed without a word
    assert pair.b.counters.refused_handshakes == 1 and pair.accepted == []


# ------------------------------------------------------------------ with Redis


@pytest.fixture
async def registry(settings):
    need_component("Redis", bool(getattr(settings, "REDIS_URL", "")))
    settings.REDIS_NAMESPACE = f"{settings.REDIS_NAMESPACE}-cascade-{uuid.uuid4().hex[:6]}"
    registry = WorkerRegistry(settings.REDIS_URL)
    yield registry
    await registry.close()


def worker(worker_id: str, link: str = "") -> WorkerInfo:
    return WorkerInfo(id=worker_id, channel=f"media-worker-{worker_id}", load=WorkerLoad(), link=link)


@pytest.mark.realservices
async def test_a_session_stays_on_its_worker_until_it_is_full_then_spreads_and_a_consult_never_does(registry, settings):
    settings.MEDIA_WORKER_SOFT_LIMIT = 2
    await registry.announce(worker("a"))
    await registry.announce(worker("b"))
    placed = [(await registry.place_participant(1, str(p))).id for p in range(5)]
    assert placed[:2] == ["a", "a"], "the first worker takes the session while it has room"
    assert set(placed[2:]) == {"a", "b"} and placed.count("b") >= 2, "then the session spreads by load"
    assert (await registry.placed_on(1)).id == "a", "the first worker placed is the session's primary"
    assert (await registry.place_participant(1, "0")).id == "a", "a placement is kept"
    consult = [(await registry.place_participant(2, str(p), spread=False)).id for p in range(5)]
    assert len(set(consult)) == 1, "a consult stays on one worker"
    await registry.release_participant(1, "0", "a")
    assert await registry.participant_on(1, "0") is None


async def _push(forwarder: TrackForwarder, index: int, *, keyframe: bool) -> TappedFrame:
    data = (b"\x10\x02\x00\x9d\x01\x2a" if keyframe else b"\x11\x02\x00") + index.to_bytes(4, "big") * 50
    packet = av.Packet(data)
    packet.pts = packet.dts = 3000 * index
    packet.time_base = fractions.Fraction(1, 90000)
    tapped = TappedFrame(packet=packet, mime_type="video/vp8", ssrc=1, audio_level=None, arrival=time.perf_counter())
    forwarder.push(tapped)
    return tapped


@pytest.fixture
async def two_workers(registry):
    """Two workers' SFUs and cascades in this loop, announced in the real registry."""
    config = MediaConfig()
    sfus = {name: SFU(config, lambda *args: None) for name in ("a", "b")}
    cascades = {name: Cascade(worker_id=name, sfu=sfus[name], registry=registry, secret=SECRET) for name in sfus}
    for name, cascade in cascades.items():
        await registry.announce(worker(name, link=await cascade.start()))
    yield sfus, cascades
    for name in sfus:
        await cascades[name].close()
        await sfus[name].close()


@pytest.mark.realservices
async def test_a_subscriber_on_another_worker_receives_the_publication_byte_exact_and_asks_it_for_keyframes(two_workers):
    sfus, cascades = two_workers
    keyframe_requests = []
    room_a, room_b = sfus["a"].room("7"), sfus["b"].room("7")
    forwarder = TrackForwarder(kind="video", request_keyframe=lambda: None, label="12:1")
    publication = Publication(publisher_id="12", track_id="12:1", kind="video", source="camera", mid="1",
                              forwarder=forwarder, keyframe_requester=lambda: keyframe_requests.append(time.monotonic()))
    room_a.local_publications = lambda: [publication]  # what a publishing browser's track would be
    await cascades["a"].join(7)
    await cascades["b"].join(7)
    await wait_until(lambda: room_b.relayed_publication("12:1") is not None, 5)
    relayed = room_b.relayed_publication("12:1")
    assert relayed.describe() == publication.describe() and relayed.origin == "a"
    await wait_until(lambda: keyframe_requests, 5)  # a new worker's subscribers start at a keyframe
    queue = relayed.forwarder.add_subscriber("lukas")
    sent = [await _push(forwarder, i, keyframe=i % 5 == 0) for i in range(20)]
    received = [await asyncio.wait_for(queue.get(), 5) for _ in range(20)]
    assert [bytes(f.packet) for f in received] == [bytes(f.packet) for f in sent]
    assert [f.packet.pts for f in received] == [f.packet.pts for f in sent]
    assert relayed.forwarder.keyframes == 4
    before = len(keyframe_requests)
    await asyncio.sleep(0.35)
    relayed.request_keyframe()  # a subscriber on b lost a packet
    await wait_until(lambda: len(keyframe_requests) > before, 5)
    assert cascades["a"].counters.frames_sent >= 20 and cascades["b"].counters.forged == 0

    # The publisher stops: b's subscribers let go of the relayed track.
    room_a.local_publications = lambda: []
    cascades["a"].publications_changed(7)
    await wait_until(lambda: room_b.relayed_publication("12:1") is None, 5)
    assert relayed.forwarder.closed


@pytest.mark.realservices
async def test_frames_of_a_session_the_receiver_does_not_carry_are_not_taken(two_workers):
    sfus, cascades = two_workers
    sfus["a"].room("7")
    await cascades["a"].join(7)
    sfus["b"].room("8")
    link = await cascades["a"]._link_to("b")
    link.send_control({"op": "pub", "session": 8, "track": "12:1", "publisher": "12", "kind": "video", "source": "camera"})
    link.send_frame(frame(), keyframe=True, video=True)
    await wait_until(lambda: cascades["b"].counters.frames_received == 1, 5)
    assert sfus["b"].room("8").relayed_publication("12:1") is None, "a does not carry session 8: its tracks are refused"


# ---------------------------------------------------------- worker processes

@database_sync_to_async
def peer_session(people):
    return make_session(people, kind=SessionKind.PEER, host=people.amina)


@pytest.mark.realservices
@pytest.mark.django_db(transaction=True)
async def test_a_session_on_two_worker_processes_and_the_publishers_worker_killed(
    people, settings, separate_workers, clients
):
    settings.MEDIA_WORKER_SOFT_LIMIT = 1  # the second person spreads the session to the second worker
    first, second = separate_workers(), separate_workers()
    await live_workers(2)
    live = await peer_session(people)
    amina = await clients(people.amina, live.pk)
    lukas = await clients(people.lukas, live.pk)
    on_a = (await amina.join(ToneTrack(), MovingVideoTrack()))["worker"]
    on_b = (await lukas.join())["worker"]
    assert on_a and on_b and on_a != on_b, "the two people's media are on two workers"
    await lukas.send("media.subscribe", publisher="*", kinds=["audio", "video"])
    await wait_until(lambda: lukas.decoded["video"] >= 10 and lukas.decoded["audio"] >= 20, 20)

    killed = first if _pid_of(on_a) == first.pid else second
    socket_before = lukas.socket
    killed.send_signal(signal.SIGKILL)
    killed.wait(5)
    started = time.monotonic()
    moved = await amina.expect(lambda m: m.get("type") == "media.moved" and m["data"]["worker"] == on_a, 10)
    assert moved["data"]["reason"] == "worker_lost"
    video_before = lukas.decoded["video"]
    answer = await amina.move(ToneTrack(), MovingVideoTrack())
    assert answer["worker"] == on_b
    await wait_until(lambda: lukas.decoded["video"] >= video_before + 10, 20)
    assert time.monotonic() - started < 10
    assert lukas.socket is socket_before, "the subscriber's room socket and peer connection were not touched"


def _stored_recordings(session_id: int) -> tuple[list[str], list[str]]:
    """(recordings of the session, pieces still pending), read where the workers store them.

    Straight from the bucket (or media folder) the workers' environment names, not through
    this test process's `default_storage`, which other tests swap (test_browser_media.py).
    """
    folder = f"recordings/session-{session_id}"
    bucket = os.environ.get("AWS_STORAGE_BUCKET_NAME")
    if bucket:
        listing = _s3_client().list_objects_v2(Bucket=bucket, Prefix=_s3_key(f"{folder}/"))
        paths = [item["Key"].split(f"{folder}/", 1)[1] for item in listing.get("Contents", [])]
    else:
        root = Path(settings.MEDIA_ROOT) / folder
        paths = [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()] if root.exists() else []
    return sorted(p for p in paths if "/" not in p), sorted(p for p in paths if p.startswith("pending/"))


@pytest.mark.realservices
@pytest.mark.django_db(transaction=True)
async def test_a_recording_on_a_killed_worker_keeps_what_it_had_stored_and_goes_on_on_the_other(
    people, separate_workers, clients
):
    from sessions.models import SessionRecording

    workers = [separate_workers(MEDIA_RECORDING_CHECKPOINT_SECONDS="1") for _ in range(2)]
    await live_workers(2)
    live = await peer_session(people)
    amina = await clients(people.amina, live.pk)
    lukas = await clients(people.lukas, live.pk)
    on_a = (await amina.join(ToneTrack(), MovingVideoTrack()))["worker"]
    await amina.send("media.record", action="start")
    await lukas.expect(lambda m: m.get("type") == "media.recording" and m["data"]["active"] is True)
    await asyncio.sleep(6)
    next(p for p in workers if p.pid == _pid_of(on_a)).send_signal(signal.SIGKILL)  # no chance to store its file

    await amina.expect(lambda m: m.get("type") == "media.moved" and m["data"]["worker"] == on_a, 10)
    assert (await amina.move(ToneTrack(), MovingVideoTrack()))["worker"] != on_a
    await asyncio.sleep(3)
    await amina.send("room.end")
    for _ in range(200):
        if await database_sync_to_async(SessionRecording.objects.filter(session=live).count)() == 2:
            break
        await asyncio.sleep(0.1)
    files, pending = await asyncio.to_thread(_stored_recordings, live.pk)
    assert len(files) == 2 and pending == [], (files, pending)
    recovered = next(name for name in files if name.endswith("-recovered.webm"))
    data = await asyncio.to_thread(_stored_bytes, f"recordings/session-{live.pk}/{recovered}")
    check_playable(io.BytesIO(data), min_seconds=3)  # of about 6 s recorded before the kill, pieces every second
    assert await database_sync_to_async(SessionRecording.objects.filter(session=live).count)() == 2


@pytest.mark.realservices
@pytest.mark.django_db(transaction=True)
async def test_a_killed_workers_recording_nobody_carries_on_is_kept_when_the_host_ends_the_session(
    people, separate_workers, clients
):
    """The recording worker is killed and nobody's media comes back (the host stays in the
    room without it): no live worker carries the session or hears it end, yet ending it
    joins the dead worker's pieces into the session's recording, once, and the notice goes off."""
    from sessions.media.selectors import media_recording_active
    from sessions.models import SessionRecording

    first = separate_workers(MEDIA_RECORDING_CHECKPOINT_SECONDS="1")
    (a,) = await live_workers(1)
    live = await peer_session(people)
    amina = await clients(people.amina, live.pk)
    assert (await amina.join(ToneTrack(), MovingVideoTrack()))["worker"] == a.id
    await amina.send("media.record", action="start")
    await amina.expect(lambda m: m.get("type") == "media.recording" and m["data"]["active"] is True)
    separate_workers(MEDIA_RECORDING_CHECKPOINT_SECONDS="1")  # the live worker, which never carries the session
    await live_workers(2)
    for _ in range(100):  # at least two pieces (two seconds of sound and picture) stored before the kill
        if len((await asyncio.to_thread(_stored_recordings, live.pk))[1]) >= 2:
            break
        await asyncio.sleep(0.1)
    first.send_signal(signal.SIGKILL)
    first.wait(5)
    await amina.expect(lambda m: m.get("type") == "media.moved" and m["data"]["worker"] == a.id, 10)
    await amina.send("room.end")
    for _ in range(200):  # kept, then the notice turned off: two steps, wait for both
        if await database_sync_to_async(SessionRecording.objects.filter(session=live).exists)() and \
                not await database_sync_to_async(media_recording_active)(session_id=live.pk):
            break
        await asyncio.sleep(0.1)
    assert await database_sync_to_async(SessionRecording.objects.filter(session=live).exists)(), "the recording is kept"
    assert not await database_sync_to_async(media_recording_active)(session_id=live.pk), "the notice is off"
    files, pending = await asyncio.to_thread(_stored_recordings, live.pk)
    assert len(files) == 1 and files[0].endswith("-recovered.webm") and pending == [], (files, pending)
    data = await asyncio.to_thread(_stored_bytes, f"recordings/session-{live.pk}/{files[0]}")
    check_playable(io.BytesIO(data), min_seconds=1)
    await asyncio.sleep(1.5)  # more sweeps: nobody keeps it again
    assert await database_sync_to_async(SessionRecording.objects.filter(session=live).count)() == 1


@pytest.mark.realservices
@pytest.mark.django_db(transaction=True)
async def test_a_recording_nobody_continues_is_kept_once_after_the_grace_by_one_of_the_live_workers(
    people, registry_workers, settings
):
    """A recording's worker died with pieces stored and nobody's media came back, while the
    session goes on: after the grace one of the two live workers (both sweep) joins the
    pieces into the session's recording, once, and the room's notice goes off, once."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from sessions.media.outcomes import recording_event
    from sessions.models import RoomEvent, SessionRecording

    settings.RECORDING_ORPHAN_GRACE_SECONDS = 1
    settings.MEDIA_WORKER_HEARTBEAT_SECONDS = 0.2
    live = await peer_session(people)
    await recording_event(live.pk, active=True)
    pending = f"recordings/session-{live.pk}/pending/20261206T000000Z-gone"
    pieces = [b"piece-one.", b"piece-two.", b"piece-three."]
    for number, piece in enumerate(pieces, 1):
        await asyncio.to_thread(default_storage.save, f"{pending}/{number:06d}.webm", ContentFile(piece))
    await registry_workers("wa"), await registry_workers("wb")
    registry = WorkerRegistry(settings.REDIS_URL)
    try:
        assert await registry.recording_claim(live.pk, "gone")  # its recorder, whose heartbeat stopped
        for _ in range(100):
            if await database_sync_to_async(SessionRecording.objects.filter(session=live).exists)():
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.5)  # more sweeps by both workers: nobody keeps it again
        kept = await database_sync_to_async(lambda: list(SessionRecording.objects.filter(session=live)))()
        assert len(kept) == 1 and kept[0].name.endswith("-recovered.webm"), kept
        with default_storage.open(kept[0].name, "rb") as joined:
            assert joined.read() == b"".join(pieces)
        assert not await asyncio.to_thread(default_storage.exists, f"{pending}/000001.webm")
        notices = await database_sync_to_async(lambda: [e.payload["active"] for e in RoomEvent.objects.filter(
            session=live, type="media.recording").order_by("seq")])()
        assert notices == [True, False]
        assert await registry.recordings_unowned(now=time.time()) == {}
    finally:
        await registry.close()


def _pid_of(worker_id: str) -> int:
    """Worker ids are host-pid-random (worker.new_worker_id)."""
    return int(worker_id.rsplit("-", 2)[-2])


@pytest.mark.realservices
@pytest.mark.django_db(transaction=True)
async def test_a_mute_on_the_publishers_worker_reaches_subscribers_on_the_other(people, settings, separate_workers, clients):
    settings.MEDIA_WORKER_SOFT_LIMIT = 1
    separate_workers(), separate_workers()
    await live_workers(2)
    live = await database_sync_to_async(make_session)(people, kind=SessionKind.PEER)
    host = await clients(people.tanaka, live.pk)
    amina = await clients(people.amina, live.pk)
    lukas = await clients(people.lukas, live.pk)
    on_a = (await amina.join(ToneTrack(), MovingVideoTrack()))["worker"]
    assert (await lukas.join())["worker"] != on_a
    await lukas.send("media.subscribe", publisher=str(people.amina.pk), kinds=["audio", "video"])
    await wait_until(lambda: lukas.decoded["video"] >= 10 and lukas.decoded["audio"] >= 20, 20)

    await mute_cuts_only_the_microphone(host, amina, lukas)
