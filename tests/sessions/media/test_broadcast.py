"""The broadcast tier: the room's composite encoded once into HLS on the file storage.

Through the production path (room socket → signalling → channel layer → the embedded
media worker), with aiortc playing the host's browser. Pass 1 stores on local files and
reads the playlists through Django's test client; pass 2 (`realservices`) stores on the
moto S3 server and a real HTTP client fetches the playlists from a real daphne and the
presigned segments from S3, as a viewer's player does.
"""

from __future__ import annotations

import asyncio
import io
import time
import urllib.error
import urllib.request

import av
import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.core.files.storage import default_storage
from django.test import Client as HttpClient

from sessions.media.broadcast import RENDITIONS, playlist_parts, playlist_segments
from sessions.media.broadcast_views import LIVE_WINDOW, playlist_signed
from sessions.models import Participant, RoomEvent, SessionRecording
from tests.sessions.media.test_browser_media import media_worker_process  # noqa: F401  (fixture)
from tests.sessions.media.test_placement import registry_workers, separate_workers  # noqa: F401  (fixture)
from tests.sessions.media.test_sfu import MovingVideoTrack, ToneTrack
from tests.sessions.media.test_worker import _sync_consult

from .conftest import make_session, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("media_worker")]

#: The playlist must be in storage this soon after the host turns the broadcast on.
FIRST_PLAYLIST_SECONDS = 10


@database_sync_to_async
def db(fn, *args, **kwargs):
    return fn(*args, **kwargs)


def decoded_kinds(data: bytes) -> dict[str, int]:
    """Frames of each kind PyAV decodes from one MPEG-TS segment."""
    counts = {"audio": 0, "video": 0}
    with av.open(io.BytesIO(data), format="mpegts") as container:
        for frame in container.decode(*container.streams):
            counts["audio" if isinstance(frame, av.AudioFrame) else "video"] += 1
    return counts


async def _broadcasting(people, clients):
    """A conference whose host publishes and broadcasts; Amina watches in the room."""
    live = await db(make_session, people)
    host = await clients(people.tanaka, live.pk)
    await host.join(ToneTrack(), MovingVideoTrack())
    amina = await clients(people.amina, live.pk)
    assert amina.snapshot["broadcast"] == {"allowed": True, "active": False, "may_broadcast": False, "waiting": [],
                                           "playlist": f"/rooms/{live.pk}/broadcast/master.m3u8"}
    assert host.snapshot["broadcast"]["may_broadcast"] is True
    client_id = await amina.send("media.broadcast", action="start")
    forbidden = await amina.expect(lambda m: m.get("id") == client_id and m["type"] == "error")
    assert forbidden["code"] == "forbidden"
    began = time.monotonic()
    await host.send("media.broadcast", action="start")
    notice = await amina.expect(lambda m: m["type"] == "media.broadcast" and m["data"]["active"], FIRST_PLAYLIST_SECONDS)
    waited = time.monotonic() - began
    assert waited < FIRST_PLAYLIST_SECONDS
    return live, host, amina, notice["data"]["folder"]


async def test_a_host_broadcasts_three_renditions_that_decode_and_the_broadcast_becomes_the_recording(people, clients):
    live, host, amina, folder = await _broadcasting(people, clients)
    assert folder.startswith(f"broadcasts/session-{live.pk}/")
    await asyncio.sleep(4.5)
    await host.send("media.broadcast", action="stop")
    await amina.expect(lambda m: m["type"] == "media.broadcast" and not m["data"]["active"], 20)
    master = await db(lambda: default_storage.open(f"{folder}/master.m3u8").read().decode())
    assert [line for line in master.splitlines() if not line.startswith("#")] == [f"{r.name}/index.m3u8" for r in RENDITIONS]
    for rendition in RENDITIONS:
        text = await db(lambda: default_storage.open(f"{folder}/{rendition.name}/index.m3u8").read().decode())
        assert "#EXT-X-TARGETDURATION:2" in text and text.rstrip().endswith("#EXT-X-ENDLIST")
        segments = playlist_segments(text)
        assert len(segments) >= 3, text
        data = await db(lambda: default_storage.open(f"{folder}/{rendition.name}/{segments[1]}").read())
        counts = decoded_kinds(data)
        assert counts["audio"] >= 40, (rendition.name, counts)  # 2 s of AAC frames of 1024 samples: ~94
        if rendition.width:
            assert counts["video"] >= 25, (rendition.name, counts)  # 2 s at 15 fps
            with av.open(io.BytesIO(data), format="mpegts") as container:
                assert (container.streams.video[0].width, container.streams.video[0].height) == (rendition.width, rendition.height)
        else:
            assert counts["video"] == 0
    await host.send("room.end")
    for _ in range(150):
        if await db(lambda: SessionRecording.objects.filter(session=live).exists()):
            break
        await asyncio.sleep(0.1)
    kept = await db(SessionRecording.objects.get, session=live)
    assert kept.name.startswith(f"recordings/session-{live.pk}/") and kept.name.endswith("-broadcast.mp4")
    with default_storage.open(kept.name, "rb") as stored, av.open(stored) as recording:
        assert {s.type for s in recording.streams} == {"audio", "video"}
        assert recording.streams.video[0].codec_context.name == "h264"  # the live segments' packets, not re-encoded
        assert recording.duration / 1_000_000 >= 5


def stored_text(name: str) -> str:
    with default_storage.open(name, "rb") as stored:
        return stored.read().decode()


def assert_continued_playlists(folder: str) -> list[str]:
    """Every rendition's stored playlist goes on after one discontinuity: the media
    sequence kept, segment numbers rising without reuse, the new part decodes. The 720p
    playlist's text per rendition (for the recording's length)."""
    texts = []
    for rendition in RENDITIONS:
        text = stored_text(f"{folder}/{rendition.name}/index.m3u8")
        assert text.count("#EXT-X-DISCONTINUITY\n") == 1 and "#EXT-X-MEDIA-SEQUENCE:0\n" in text, text
        parts = playlist_parts(text)
        assert len(parts) == 2 and len(parts[0]) >= 2 and len(parts[1]) >= 2, (rendition.name, text)
        numbers = [int(name[4:10]) for name in parts[0] + parts[1]]
        assert numbers == sorted(set(numbers)) and numbers[len(parts[0])] > numbers[len(parts[0]) - 1], numbers
        with default_storage.open(f"{folder}/{rendition.name}/{parts[1][0]}", "rb") as stored:
            counts = decoded_kinds(stored.read())
        assert counts["audio"] > 0 and (counts["video"] > 0) == bool(rendition.width), (rendition.name, counts)
        texts.append(text)
    return texts


def assert_one_recording_of_every_part(session, playlist: str) -> None:
    """One MP4 of the broadcast, as long as all its parts together (packets copied)."""
    kept = list(SessionRecording.objects.filter(session=session))
    assert len(kept) == 1 and kept[0].name.endswith("-broadcast.mp4"), [k.name for k in kept]
    listed = sum(float(line.split(":", 1)[1].rstrip(",")) for line in playlist.splitlines() if line.startswith("#EXTINF:"))
    with default_storage.open(kept[0].name, "rb") as stored, av.open(stored) as recording:
        seconds = recording.duration / 1_000_000
        assert recording.streams.video[0].codec_context.name == "h264"
        frames = sum(1 for _ in recording.decode(video=0))
    assert abs(seconds - listed) < 1.5, (seconds, listed)
    assert frames >= 0.9 * listed * 15, (frames, listed)  # every part's pictures, 15 per second


async def test_a_handed_over_broadcast_goes_on_in_the_same_playlists_and_becomes_one_recording(people, clients):
    """What a drain does to the broadcast, on the embedded worker: hand over, continue."""
    from sessions.media.embedded import ensure_in_process_worker

    live, host, amina, folder = await _broadcasting(people, clients)
    await asyncio.sleep(4.5)
    worker = await ensure_in_process_worker(live.pk)
    await worker.broadcasts.pop(live.pk).hand_over()  # what `_broadcast_leave` does when another worker lives
    first = await db(stored_text, f"{folder}/720p/index.m3u8")
    assert "#EXT-X-ENDLIST" not in first, "handed over, not ended"
    await worker._continue_broadcast(live.pk)
    await asyncio.sleep(5)
    await db(assert_continued_playlists, folder)
    viewer = HttpClient()
    await db(viewer.force_login, people.amina)
    served = (await db(viewer.get, f"/rooms/{live.pk}/broadcast/720p.m3u8")).content.decode()
    assert "#EXT-X-DISCONTINUITY" in served or "#EXT-X-DISCONTINUITY-SEQUENCE:1" in served, served
    await host.send("media.broadcast", action="stop")
    await amina.expect(lambda m: m["type"] == "media.broadcast" and not m["data"]["active"], 20)
    assert [m["data"]["active"] for m in amina.messages if m["type"] == "media.broadcast"] == [True, False]
    await host.send("room.end")
    for _ in range(150):
        if await db(lambda: SessionRecording.objects.filter(session=live).exists()):
            break
        await asyncio.sleep(0.1)
    await db(assert_one_recording_of_every_part, live, await db(stored_text, f"{folder}/720p/index.m3u8"))


def stored_playlists_now(folder: str) -> dict[str, str]:
    return {rendition.name: stored_text(f"{folder}/{rendition.name}/index.m3u8") for rendition in RENDITIONS}


async def _kept_recording(live) -> None:
    for _ in range(150):
        if await db(lambda: SessionRecording.objects.filter(session=live).exists()):
            return
        await asyncio.sleep(0.1)


async def test_a_continued_broadcast_that_ends_before_its_first_segment_keeps_its_parts_and_an_unreadable_one_is_not_continued(
    people, clients, monkeypatch
):
    """The next worker cannot read every stored playlist (a storage hiccup): it does not
    continue (it would overwrite a playlist with its part alone). Once it can, its encoder
    fails before a segment of its own: the stored playlists are still closed as they were,
    the room is told where the replay is, and the recording is made of the earlier part."""
    from sessions.media import broadcast as broadcast_module
    from sessions.media import worker_broadcast as worker_module
    from sessions.media.embedded import ensure_in_process_worker

    live, host, amina, folder = await _broadcasting(people, clients)
    await asyncio.sleep(3)
    worker = await ensure_in_process_worker(live.pk)
    await worker.broadcasts.pop(live.pk).hand_over()
    before = await db(stored_playlists_now, folder)
    real_read = worker_module.broadcast_stored_playlists
    monkeypatch.setattr(worker_module, "CONTINUE_READ_PAUSE_SECONDS", 0.05)
    monkeypatch.setattr(worker_module, "broadcast_stored_playlists",
                        lambda where: {k: v for k, v in real_read(where).items() if k != "360p"})
    await worker._continue_broadcast(live.pk)
    assert live.pk not in worker.broadcasts, "two of three playlists read: not continued"
    assert await db(stored_playlists_now, folder) == before, "nothing stored was overwritten"
    monkeypatch.setattr(worker_module, "broadcast_stored_playlists", real_read)

    def encoder_fails(self):
        raise RuntimeError("the encoder of the next worker fails at once")

    monkeypatch.setattr(broadcast_module._HlsMixer, "_record", encoder_fails)
    await worker._continue_broadcast(live.pk)
    off = await amina.expect(lambda m: m["type"] == "media.broadcast" and not m["data"]["active"], 20)
    assert off["data"]["folder"] == folder and off["data"]["error"] == "no_output", off
    after = await db(stored_playlists_now, folder)
    for name, text in after.items():
        assert text.rstrip().endswith("#EXT-X-ENDLIST"), (name, text)
        assert playlist_segments(text) == playlist_segments(before[name]) and len(playlist_segments(text)) >= 1
    await host.send("room.end")
    await _kept_recording(live)
    await db(assert_one_recording_of_every_part, live, after["720p"])


async def test_the_hosts_stop_ends_a_handed_over_broadcast_no_worker_continued(people, clients):
    """Handed over, and nobody joined the next worker yet: the host's Stop still closes the
    stored playlists, tells the viewers, and keeps the recording; the next refused viewer
    is told nothing is broadcast."""
    from sessions.media.broadcast_outcomes import media_full_message
    from sessions.media.embedded import ensure_in_process_worker

    live, host, amina, folder = await _broadcasting(people, clients)
    await asyncio.sleep(3)
    worker = await ensure_in_process_worker(live.pk)
    await worker.broadcasts.pop(live.pk).hand_over()  # what `_broadcast_leave` does when another worker lives
    await host.send("media.broadcast", action="stop")
    off = await amina.expect(lambda m: m["type"] == "media.broadcast" and not m["data"]["active"], 20)
    assert off["data"]["folder"] == folder
    stored = await db(stored_playlists_now, folder)
    assert all(text.rstrip().endswith("#EXT-X-ENDLIST") and playlist_segments(text) for text in stored.values()), stored
    refusal = await media_full_message(live.pk, user_id=people.lukas.pk, reason="session_cap")
    assert refusal["broadcast"] is False
    await host.send("room.end")
    await _kept_recording(live)
    await db(assert_one_recording_of_every_part, live, stored["720p"])


async def test_a_handed_over_broadcast_nobody_continued_is_closed_and_recorded_when_the_session_ends(people, clients):
    """Handed over, nobody's media came back, and the host ends the session for everyone:
    the worker that hears the end closes the stored playlists, makes the one MP4 of what
    they list and turns the room's notice off (before: open playlists, no recording)."""
    from sessions.media.broadcast_outcomes import broadcast_current
    from sessions.media.embedded import ensure_in_process_worker

    live, host, amina, folder = await _broadcasting(people, clients)
    await asyncio.sleep(3)
    worker = await ensure_in_process_worker(live.pk)
    await worker.broadcasts.pop(live.pk).hand_over()  # what `_broadcast_leave` does when another worker lives
    before = await db(stored_playlists_now, folder)
    await host.send("room.end")
    await _kept_recording(live)
    after = await db(stored_playlists_now, folder)
    for name, text in after.items():
        assert text.rstrip().endswith("#EXT-X-ENDLIST"), (name, text)
        assert playlist_segments(text) == playlist_segments(before[name]) and len(playlist_segments(text)) >= 1
    await db(assert_one_recording_of_every_part, live, after["720p"])
    assert await db(broadcast_current, session_id=live.pk) == {"active": False, "folder": folder}


@pytest.mark.realservices
async def test_a_draining_worker_hands_its_broadcast_over_before_anyone_can_reach_the_next_worker(
    people, clients, registry_workers, settings
):
    """Never two encoders of one broadcast: while its worker lives and encodes, no other
    worker continues it, even as the session's primary (the owner key); a drain hands the
    broadcast over before it lets go of the session's people; and the next worker, already
    carrying some of them, continues it at the first offer it gets."""
    from sessions.media.placement import WorkerRegistry

    settings.MEDIA_WORKER_SOFT_LIMIT = 1  # Lukas goes to the second worker
    a = await registry_workers("wa")
    live = await db(make_session, people)
    host = await clients(people.tanaka, live.pk)
    assert (await host.join(ToneTrack(), MovingVideoTrack()))["worker"] == "wa"
    await host.send("media.broadcast", action="start")
    notice = await host.expect(lambda m: m["type"] == "media.broadcast" and m["data"]["active"], FIRST_PLAYLIST_SECONDS)
    folder = notice["data"]["folder"]
    b = await registry_workers("wb")
    lukas = await clients(people.lukas, live.pk)
    assert (await lukas.join())["worker"] == "wb"
    await wait_until(lambda: live.pk not in b._continuing, 10)  # its offer's check (the primary is a) is done
    registry = WorkerRegistry(settings.REDIS_URL)
    try:
        assert await registry.broadcast_owner(live.pk) == "wa"
        await registry.release(live.pk, "wa")
        assert await registry.claim_primary(live.pk, "wb", instead_of="")
        await b._continue_broadcast(live.pk)
        assert live.pk not in b.broadcasts, "a live worker still encodes it"
        assert await registry.claim_primary(live.pk, "wa", instead_of="wb")
        await asyncio.sleep(2)

        still_encoding_at_release = []
        release = a.registry.release

        async def release_and_watch(session_id: int, worker_id: str) -> None:
            still_encoding_at_release.append(session_id in a.broadcasts)
            await release(session_id, worker_id)

        a.registry.release = release_and_watch  # type: ignore[method-assign]
        await a.drain(timeout=0)
        assert still_encoding_at_release == [False], "handed over before the session was let go"
        assert await registry.broadcast_owner(live.pk) == ""
        await host.expect(lambda m: m.get("type") == "media.moved" and m["data"]["worker"] == "wa", 10)
        assert (await host.move(ToneTrack(), MovingVideoTrack()))["worker"] == "wb"
        await wait_until(lambda: live.pk in b.broadcasts, 15)
        assert await registry.broadcast_owner(live.pk) == "wb"
        deadline = time.monotonic() + 25
        while True:
            try:
                await db(assert_continued_playlists, folder)
                break
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
        await host.send("media.broadcast", action="stop")
        await lukas.expect(lambda m: m["type"] == "media.broadcast" and not m["data"]["active"], 20)
        assert await registry.broadcast_owner(live.pk) == ""
    finally:
        await registry.close()


@pytest.mark.realservices
def test_an_offer_for_a_session_that_is_not_broadcast_costs_no_database_query(people, settings, django_assert_num_queries):
    """The continuation check runs at every offer of a session its worker does not
    broadcast; for the many sessions with no broadcast it must cost one Redis lookup and no
    database query (bench/continue_check.py). A broadcast that is on is still looked up,
    and one running from before the set of broadcasts existed is put in it."""
    import uuid

    from asgiref.sync import async_to_sync

    from sessions.media.placement import WorkerRegistry
    from sessions.media.worker import MediaWorker
    from tests.conftest import need_component

    need_component("Redis", bool(getattr(settings, "REDIS_URL", "")))
    settings.REDIS_NAMESPACE = f"{settings.REDIS_NAMESPACE}-check-{uuid.uuid4().hex[:6]}"
    live = make_session(people)

    async def check(claim_first: bool = False) -> None:  # one event loop per call: its own Redis client
        registry = WorkerRegistry(settings.REDIS_URL)
        try:
            if claim_first:
                assert await registry.broadcast_claim(live.pk, "gone")  # on, its encoder dead
            media = MediaWorker(channel="media-worker-check", registry=registry, worker_id="check")
            for _ in range(5):
                await media._continue_broadcast(live.pk)
        finally:
            await registry.close()

    with django_assert_num_queries(0):
        async_to_sync(check)()
    with django_assert_num_queries(5):  # the broadcast's notice, read at each check
        async_to_sync(check)(claim_first=True)

    async def adopted() -> bool:
        """A broadcast whose encoder a worker of the release before the set named (owner key,
        no set): a worker that starts puts it in the set, so offers still continue it."""
        registry = WorkerRegistry(settings.REDIS_URL)
        try:
            await registry._redis().set(f"{settings.REDIS_NAMESPACE}:media:broadcast:{live.pk + 1}:owner", "old-worker")
            assert not await registry.broadcast_on(live.pk + 1)
            await MediaWorker(channel="media-worker-check", registry=registry, worker_id="check")._broadcasts_adopt()
            return await registry.broadcast_on(live.pk + 1)
        finally:
            await registry.close()

    assert async_to_sync(adopted)()


@pytest.mark.realservices
async def test_when_the_session_ends_a_handed_over_broadcast_is_closed_by_a_worker_that_never_carried_it(
    people, clients, registry_workers, settings
):
    """A drain hands the broadcast over, nobody's media reaches the next worker (which never
    carried the session, so it does not hear the session's events), and the host ends the
    session well within the grace: that worker's sweep closes the broadcast at once."""
    from sessions.media.broadcast_outcomes import broadcast_current
    from sessions.media.placement import WorkerRegistry

    settings.BROADCAST_ORPHAN_GRACE_SECONDS = 120
    a = await registry_workers("wa")
    live = await db(make_session, people)
    host = await clients(people.tanaka, live.pk)
    assert (await host.join(ToneTrack(), MovingVideoTrack()))["worker"] == "wa"
    await host.send("media.broadcast", action="start")
    notice = await host.expect(lambda m: m["type"] == "media.broadcast" and m["data"]["active"], FIRST_PLAYLIST_SECONDS)
    folder = notice["data"]["folder"]
    b = await registry_workers("wb")
    await asyncio.sleep(2)
    await a.drain(timeout=0)
    registry = WorkerRegistry(settings.REDIS_URL)
    try:
        assert await registry.broadcast_owner(live.pk) == "", "handed over"
        await asyncio.sleep(1.5)  # a sweep or two: an orphan within its grace stays as it is
        assert "#EXT-X-ENDLIST" not in await db(stored_text, f"{folder}/720p/index.m3u8")
        ended = time.monotonic()
        await host.send("room.end")
        await _kept_recording(live)
        assert time.monotonic() - ended < 10
        stored = await db(stored_playlists_now, folder)
        assert all(text.rstrip().endswith("#EXT-X-ENDLIST") and playlist_segments(text) for text in stored.values()), stored
        await db(assert_one_recording_of_every_part, live, stored["720p"])
        assert await db(broadcast_current, session_id=live.pk) == {"active": False, "folder": folder}
        assert live.pk not in b.broadcasts and await registry.broadcast_owner(live.pk) == "ended"
    finally:
        await registry.close()


async def test_only_the_room_gets_the_playlists_with_signed_segments(people, clients):
    live, host, amina, folder = await _broadcasting(people, clients)
    viewer, outsider, removed = HttpClient(), HttpClient(), HttpClient()
    await db(viewer.force_login, people.amina)
    await db(outsider.force_login, people.mensah)  # may see the session, never entered its room
    lukas = await clients(people.lukas, live.pk)
    await db(Participant.objects.filter(session=live, user=people.lukas).update, removed_at="2026-01-01T00:00:00Z")
    await db(removed.force_login, people.lukas)
    master = await db(viewer.get, f"/rooms/{live.pk}/broadcast/master.m3u8")
    assert master.status_code == 200 and master["Content-Type"] == "application/vnd.apple.mpegurl"
    assert "720p.m3u8" in master.content.decode() and "audio.m3u8" in master.content.decode()
    playlist = await db(viewer.get, f"/rooms/{live.pk}/broadcast/720p.m3u8")
    assert playlist.status_code == 200 and playlist["Cache-Control"] == "private, max-age=1"
    assert f"{folder}/720p/seg-" in playlist.content.decode()
    for client in (outsider, removed):
        for path in ("master.m3u8", "720p.m3u8", "audio.m3u8"):
            refused = await db(client.get, f"/rooms/{live.pk}/broadcast/{path}")
            assert refused.status_code in (403, 404), (path, refused.status_code)
            assert b"seg-" not in refused.content
    anonymous = await db(HttpClient().get, f"/rooms/{live.pk}/broadcast/720p.m3u8")
    assert anonymous.status_code == 302
    await lukas.close()


async def test_a_consult_is_never_broadcast(people, clients):
    from sessions.consults import services

    consult = await db(_sync_consult, people)
    await db(services.consent_record, by=people.chikondi, consult=consult, consult_given=True,
             recording_given=True, teaching_given=True, language="en")
    supervisor = await clients(people.mensah, consult.session_id)
    assert supervisor.snapshot["broadcast"]["allowed"] is False
    assert supervisor.snapshot["broadcast"]["may_broadcast"] is False
    client_id = await supervisor.send("media.broadcast", action="start")
    refused = await supervisor.expect(lambda m: m.get("reply_to") == client_id and m["type"] == "media.error")
    assert refused["code"] == "broadcast_not_allowed"
    await asyncio.sleep(0.5)
    assert not any(m.get("type") == "media.broadcast" for m in supervisor.messages)
    assert not await db(lambda: RoomEvent.objects.filter(session_id=consult.session_id, type="media.broadcast").exists())


async def test_a_viewer_beyond_the_sfu_cap_is_told_at_the_socket_and_the_host_learns_people_are_waiting(
    people, clients, settings
):
    """Overflow: the session's cap is 1 (the host). Viewers are refused with `media_full`, not
    a closed socket; while nothing is broadcast the host (and only the host, and the viewer)
    hears `media.overflow`; once it runs the refusal says so and nobody is bothered."""
    settings.MEDIA_SESSION_SFU_CAP = 1
    live = await db(make_session, people)
    host = await clients(people.tanaka, live.pk)
    assert (await host.join(ToneTrack(), MovingVideoTrack()))["type"] == "media.answer", "a speaker is never refused"
    amina = await clients(people.amina, live.pk)
    lukas = await clients(people.lukas, live.pk)
    refused = await amina.join()
    assert refused["type"] == "media.error" and refused["code"] == "media_full", refused
    assert refused["reason"] == "session_cap" and refused["broadcast"] is False
    waiting = await host.expect(lambda m: m["type"] == "media.overflow", 5)
    assert waiting["data"] == {"user_id": people.amina.pk, "reason": "session_cap"}
    await amina.expect(lambda m: m["type"] == "media.overflow", 5)
    await amina.send("chat.send", text="I cannot join the video")  # the room socket stays open
    await host.expect(lambda m: m["type"] == "chat.message" and m["data"].get("text") == "I cannot join the video")
    assert not any(m["type"] == "media.overflow" for m in lukas.messages), "private to the hosts and that viewer"
    later = await clients(people.tanaka, live.pk)  # the host's second tab, or after a reload
    assert later.snapshot["broadcast"]["waiting"] == [people.amina.pk]
    assert lukas.snapshot["broadcast"]["waiting"] == []

    await host.send("media.broadcast", action="start")
    await lukas.expect(lambda m: m["type"] == "media.broadcast" and m["data"]["active"], FIRST_PLAYLIST_SECONDS)
    refused = await lukas.join()
    assert refused["code"] == "media_full" and refused["broadcast"] is True, refused
    await asyncio.sleep(0.3)
    assert [m["data"]["user_id"] for m in host.messages if m["type"] == "media.overflow"] == [people.amina.pk]
    await host.send("media.broadcast", action="stop")
    await host.expect(lambda m: m["type"] == "media.broadcast" and not m["data"]["active"], 20)


def test_a_live_playlist_is_a_sliding_window_and_an_ended_one_lists_every_segment():
    body = "".join(f"#EXTINF:2.000000,\nseg-{n:06d}.ts\n" for n in range(20))
    head = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:EVENT\n"
    live = playlist_signed(head + body, "broadcasts/session-1/x", "720p")
    assert live.count("#EXTINF") == LIVE_WINDOW and "PLAYLIST-TYPE" not in live
    assert f"#EXT-X-MEDIA-SEQUENCE:{20 - LIVE_WINDOW}" in live
    assert "seg-000019.ts" in live and "seg-000011.ts" not in live
    ended = playlist_signed(head + body + "#EXT-X-ENDLIST\n", "broadcasts/session-1/x", "720p")
    assert ended.count("#EXTINF") == 20 and "#EXT-X-MEDIA-SEQUENCE:0" in ended and ended.rstrip().endswith("#EXT-X-ENDLIST")
    # Handed over at segment 5: the discontinuity has left the window, and is counted.
    continued = body.replace("#EXTINF:2.000000,\nseg-000005.ts", "#EXT-X-DISCONTINUITY\n#EXTINF:2.000000,\nseg-000005.ts")
    live = playlist_signed(head + continued, "broadcasts/session-1/x", "720p")
    assert "#EXT-X-DISCONTINUITY-SEQUENCE:1\n" in live and "#EXT-X-DISCONTINUITY\n" not in live, live
    recent = body.replace("#EXTINF:2.000000,\nseg-000015.ts", "#EXT-X-DISCONTINUITY\n#EXTINF:2.000000,\nseg-000015.ts")
    live = playlist_signed(head + recent, "broadcasts/session-1/x", "720p")
    assert "DISCONTINUITY-SEQUENCE" not in live
    assert live.index("#EXT-X-DISCONTINUITY") < live.index("seg-000015.ts") < live.index("seg-000016.ts")


# ------------------------------------------------------------ a CDN in front (CloudFront signing)


@pytest.fixture
def cdn_storage(settings):
    """The default storage as production configures it for a CDN: S3 with a custom domain and
    a CloudFront key pair (a fresh RSA key); `(public key, storage options)`."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from tests.courses.library.conftest import _reset_storages

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    options = {"bucket_name": "openrounds-cdn", "region_name": "us-east-1", "access_key": "testing", "secret_key": "testing",
               "querystring_auth": True, "custom_domain": "cdn.openrounds.test",
               "cloudfront_key_id": "K2JCJMDEHXQW5F", "cloudfront_key": pem}

    def use(**changes):
        # Through pytest-django's `settings`, so every change unwinds in order after the test.
        backend = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {**options, **changes}}
        settings.STORAGES = {**settings.STORAGES, "default": backend}
        _reset_storages()

    use()
    yield key.public_key(), use
    _reset_storages()
    _reset_storages()


def cloudfront_signature_valid(public_key, url: str) -> bool:
    """CloudFront's canned policy check, as the edge does it (RSA-SHA1 over the policy)."""
    import base64
    from urllib.parse import parse_qs, urlsplit

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    resource, _sep, query = url.partition("?")
    params = {k: v[0] for k, v in parse_qs(query).items()}
    policy = ('{"Statement":[{"Resource":"%s","Condition":{"DateLessThan":{"AWS:EpochTime":%s}}}]}'
              % (resource, params["Expires"])).encode()
    signature = base64.b64decode(params["Signature"].replace("-", "+").replace("_", "=").replace("~", "/"))
    assert urlsplit(url).scheme == "https"
    try:
        public_key.verify(signature, policy, padding.PKCS1v15(), hashes.SHA1())
    except InvalidSignature:
        return False
    return True


@pytest.mark.filterwarnings("ignore:datetime.datetime.utcnow:DeprecationWarning")  # inside django-storages 1.14
def test_with_a_cdn_the_playlist_names_cloudfront_signed_segment_urls_that_verify(cdn_storage):
    from urllib.parse import parse_qs, urlsplit

    public_key, use = cdn_storage
    body = "".join(f"#EXTINF:2.000000,\nseg-{n:06d}.ts\n" for n in range(3))
    head = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:EVENT\n"
    began = time.time()
    urls = [line for line in playlist_signed(head + body, "broadcasts/session-4/x", "360p").splitlines() if line.startswith("http")]
    assert len(urls) == 3
    for n, url in enumerate(urls):
        parts = urlsplit(url)
        assert (parts.netloc, parts.path) == ("cdn.openrounds.test", f"/broadcasts/session-4/x/360p/seg-{n:06d}.ts")
        params = parse_qs(parts.query)
        assert set(params) == {"Expires", "Signature", "Key-Pair-Id"}, url
        assert params["Key-Pair-Id"] == ["K2JCJMDEHXQW5F"]
        assert began + 290 <= int(params["Expires"][0]) <= time.time() + 310, "live: five minutes"
        assert cloudfront_signature_valid(public_key, url), url
    # The edge would refuse the signature on any other segment or a later expiry.
    assert not cloudfront_signature_valid(public_key, urls[0].replace("seg-000000", "seg-000001"))
    later = urls[0].replace(f"Expires={parse_qs(urlsplit(urls[0]).query)['Expires'][0]}", "Expires=4102444800")
    assert not cloudfront_signature_valid(public_key, later)
    ended = playlist_signed(head + body + "#EXT-X-ENDLIST\n", "broadcasts/session-4/x", "360p")
    first = next(line for line in ended.splitlines() if line.startswith("http"))
    expires = int(parse_qs(urlsplit(first).query)["Expires"][0])
    assert expires >= began + 6 * 3600 - 10, "an ended broadcast (the replay) is signed for six hours"

    # A custom domain without a key would be unsigned CDN URLs: the bucket's presigned ones instead.
    use(cloudfront_key_id=None, cloudfront_key=None)
    fallback = [line for line in playlist_signed(head + body, "broadcasts/session-4/x", "360p").splitlines() if line.startswith("http")]
    assert fallback and all(
        "cdn.openrounds.test" not in url and ("X-Amz-Signature=" in url or "AWSAccessKeyId=" in url) for url in fallback), fallback


# ------------------------------------------------------------ at the wire, on S3


@pytest.mark.realservices
async def test_on_s3_a_viewer_fetches_signed_segments_and_an_outsider_gets_nothing(
    people, clients, live_site, s3_default_storage
):
    from django.core.files.storage import storages

    from tests.browser_support import session_cookie_for

    storage = storages["default"]
    assert hasattr(type(storage), "bucket"), storage
    live, host, amina, folder = await _broadcasting(people, clients)
    await asyncio.sleep(2.5)
    viewer_cookie = f"{settings.SESSION_COOKIE_NAME}={await db(session_cookie_for, people.amina)}"
    outsider_cookie = f"{settings.SESSION_COOKIE_NAME}={await db(session_cookie_for, people.mensah)}"

    def fetch(url: str, cookie: str = "") -> tuple[int, bytes, dict[str, str]]:
        """GET `url` as a player would; header names in lower case."""
        request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read(), {k.lower(): v for k, v in response.headers.items()}
        except urllib.error.HTTPError as error:
            return error.code, error.read(), {k.lower(): v for k, v in error.headers.items()}

    base = f"{live_site.url}/rooms/{live.pk}/broadcast"
    for rendition in RENDITIONS:
        status, body, headers = await asyncio.to_thread(fetch, f"{base}/{rendition.name}.m3u8", viewer_cookie)
        assert status == 200, body[:300]
        urls = [line for line in body.decode().splitlines() if line.startswith("http")]
        assert urls and all("X-Amz-Signature=" in url or "Signature=" in url for url in urls), body.decode()
        status, segment, headers = await asyncio.to_thread(fetch, urls[-1])
        assert status == 200
        assert headers.get("cache-control") == "public, max-age=31536000, immutable", headers
        counts = decoded_kinds(segment)
        assert counts["audio"] > 0 and (counts["video"] > 0) == bool(rendition.width)
        unsigned = urls[-1].split("?", 1)[0]
        assert (await asyncio.to_thread(fetch, unsigned))[0] == 403, "the bucket is private: only signed URLs work"
        status, body, _headers = await asyncio.to_thread(fetch, f"{base}/{rendition.name}.m3u8", outsider_cookie)
        assert status == 403 and b"http" not in body
    head = await asyncio.to_thread(storage.bucket.meta.client.head_object, Bucket=storage.bucket.name,
                                   Key=storage._normalize_name(f"{folder}/720p/index.m3u8"))
    assert head["CacheControl"] == "public, max-age=1"
    await host.send("media.broadcast", action="stop")
    await amina.expect(lambda m: m["type"] == "media.broadcast" and not m["data"]["active"], 20)


@pytest.mark.realservices
@pytest.mark.parametrize("ended_by", ["drain", "kill"])
async def test_a_drained_workers_broadcast_goes_on_on_the_next_worker_and_stays_one_recording(
    people, separate_workers, clients, s3_default_storage, ended_by
):
    """A deploy drains the worker that broadcasts (SIGTERM to `manage.py media_worker`), or
    it dies (SIGKILL): the next worker continues the same playlists on S3, the room's
    notice never goes off, and the recording made at the end is one file of both parts."""
    import signal

    from tests.sessions.media.test_placement import live_workers, moved_and_flowing_again, peer_session

    live = await peer_session(people)
    try:
        amina = await clients(people.amina, live.pk)  # the host
    except AssertionError:  # the first snapshot on a loaded 2-core machine can exceed the socket helper's 3 s
        amina = await clients(people.amina, live.pk)
    lukas = await clients(people.lukas, live.pk)
    first = separate_workers()  # after the sockets: a worker starting takes a core for a while
    (a,) = await live_workers(1)
    assert (await amina.join(ToneTrack(), MovingVideoTrack()))["worker"] == a.id
    assert (await lukas.join())["worker"] == a.id
    await lukas.send("media.subscribe", publisher="*", kinds=["audio", "video"])
    await amina.send("media.broadcast", action="start")
    notice = await lukas.expect(lambda m: m["type"] == "media.broadcast" and m["data"]["active"], 20)
    folder = notice["data"]["folder"]
    separate_workers()
    await live_workers(2)
    await asyncio.sleep(3)
    first.send_signal(signal.SIGTERM if ended_by == "drain" else signal.SIGKILL)
    await moved_and_flowing_again(amina, lukas, a.id, "worker_draining" if ended_by == "drain" else "worker_lost")
    deadline = time.monotonic() + 25
    while True:
        try:
            await db(assert_continued_playlists, folder)
            break
        except (AssertionError, Exception):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
    for _ in range(100):
        if first.poll() is not None:
            break
        await asyncio.sleep(0.2)
    assert first.returncode == (0 if ended_by == "drain" else -signal.SIGKILL)
    await amina.send("media.broadcast", action="stop")
    await lukas.expect(lambda m: m["type"] == "media.broadcast" and not m["data"]["active"], 20)
    assert [m["data"]["active"] for m in lukas.messages if m["type"] == "media.broadcast"] == [True, False]
    await amina.send("room.end")
    for _ in range(200):
        if await db(lambda: SessionRecording.objects.filter(session=live).exists()):
            break
        await asyncio.sleep(0.1)
    await db(assert_one_recording_of_every_part, live, await db(stored_text, f"{folder}/720p/index.m3u8"))
    gap = await asyncio.to_thread(handover_gap_seconds, folder)
    print(f"broadcast handover ({ended_by}): {gap:.0f} s between the last segment of the old worker and the next")
    assert gap < 20, gap  # what a player waits, with the people's media moving meanwhile


@pytest.mark.realservices
async def test_a_broadcast_nobody_continues_after_its_worker_is_killed_is_closed_and_recorded_by_a_live_worker(
    people, separate_workers, clients, s3_default_storage
):
    """The broadcasting worker is killed and nobody's media comes back (the host stays in the
    room without it, as a viewer of the broadcast would): after the grace the other worker
    closes the playlists on S3, makes the one MP4 and turns the notice off, once."""
    import signal

    from sessions.media.broadcast_outcomes import broadcast_current
    from tests.sessions.media.test_placement import live_workers, peer_session

    grace = {"BROADCAST_ORPHAN_GRACE_SECONDS": "2"}
    live = await peer_session(people)
    amina = await clients(people.amina, live.pk)  # the host
    first = separate_workers(**grace)
    (a,) = await live_workers(1)
    assert (await amina.join(ToneTrack(), MovingVideoTrack()))["worker"] == a.id
    await amina.send("media.broadcast", action="start")
    notice = await amina.expect(lambda m: m["type"] == "media.broadcast" and m["data"]["active"], 20)
    folder = notice["data"]["folder"]
    separate_workers(**grace)
    await live_workers(2)
    await asyncio.sleep(2)
    first.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    off = await amina.expect(lambda m: m["type"] == "media.broadcast" and not m["data"]["active"], 40)
    notice_off = time.monotonic() - killed
    assert off["data"] == {"active": False, "folder": folder}, off
    await _kept_recording(live)
    recorded = time.monotonic() - killed
    stored = await db(stored_playlists_now, folder)
    assert all(text.rstrip().endswith("#EXT-X-ENDLIST") and playlist_segments(text) for text in stored.values()), stored
    await db(assert_one_recording_of_every_part, live, stored["720p"])
    await asyncio.sleep(1.5)  # more sweeps: nobody closes it again
    assert [m["data"]["active"] for m in amina.messages if m["type"] == "media.broadcast"] == [True, False]
    assert await db(lambda: SessionRecording.objects.filter(session=live).count()) == 1
    assert not (await db(broadcast_current, session_id=live.pk))["active"]
    print(f"orphaned broadcast (kill, grace 2 s): notice off after {notice_off:.1f} s, MP4 kept after {recorded:.1f} s")
    assert recorded < 25, recorded


def handover_gap_seconds(folder: str) -> float:
    """Seconds between the stored times of the last segment before the discontinuity and the
    first after it (S3 LastModified: to the second)."""
    from django.core.files.storage import storages

    storage = storages["default"]
    before, after = playlist_parts(stored_text(f"{folder}/720p/index.m3u8"))[:2]

    def stored_at(name: str) -> float:
        head = storage.bucket.meta.client.head_object(
            Bucket=storage.bucket.name, Key=storage._normalize_name(f"{folder}/720p/{name}"))
        return head["LastModified"].timestamp()

    return stored_at(after[0]) - stored_at(before[-1])


@pytest.mark.realservices
def test_the_lifecycle_command_lets_the_bucket_expire_broadcasts_and_keeps_other_rules(s3_default_storage):
    from django.core.files.storage import storages
    from django.core.management import call_command

    storage = storages["default"]
    client, bucket = storage.bucket.meta.client, storage.bucket.name
    other = {"ID": "someone-elses", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 1}}
    client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [other]})
    out = io.StringIO()
    for _ in range(2):  # idempotent
        call_command("broadcast_lifecycle", "--days", "21", stdout=out)
    rules = {rule["ID"]: rule for rule in client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert set(rules) == {"someone-elses", "openrounds-broadcast-hls"}, rules
    ours = rules["openrounds-broadcast-hls"]
    assert ours["Filter"]["Prefix"] == storage._normalize_name("broadcasts") + "/", ours
    assert ours["Filter"]["Prefix"].endswith("broadcasts/") and not ours["Filter"]["Prefix"].startswith("recordings")
    assert ours["Expiration"] == {"Days": 21} and ours["Status"] == "Enabled"
    assert "Applied:" in out.getvalue()


def test_the_lifecycle_command_says_a_file_system_has_none(settings):
    from django.core.management import CommandError, call_command
    from django.test import override_settings

    from tests.courses.library.conftest import _reset_storages

    backend = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": settings.MEDIA_ROOT}}
    with override_settings(STORAGES={**settings.STORAGES, "default": backend}):
        _reset_storages()
        with pytest.raises(CommandError, match="not an S3 bucket"):
            call_command("broadcast_lifecycle")
    _reset_storages()


def test_without_h264_or_aac_in_the_bundled_ffmpeg_the_broadcast_fails_clearly(monkeypatch):
    from sessions.media import broadcast

    real = av.codec.Codec

    def codec(name, mode="r"):
        if name == "libx264":
            raise av.codec.codec.UnknownCodecError(name)
        return real(name, mode)

    monkeypatch.setattr(av.codec, "Codec", codec)
    with pytest.raises(broadcast.BroadcastUnavailable, match="no libx264 encoder"):
        broadcast.broadcast_encoders_check()
