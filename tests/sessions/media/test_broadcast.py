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

from sessions.media.broadcast import RENDITIONS, playlist_segments
from sessions.media.broadcast_views import LIVE_WINDOW, playlist_signed
from sessions.models import Participant, RoomEvent, SessionRecording
from tests.sessions.media.test_sfu import MovingVideoTrack, ToneTrack
from tests.sessions.media.test_worker import _sync_consult

from .conftest import make_session

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
    assert amina.snapshot["broadcast"] == {"allowed": True, "active": False, "may_broadcast": False,
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


def test_a_live_playlist_is_a_sliding_window_and_an_ended_one_lists_every_segment():
    body = "".join(f"#EXTINF:2.000000,\nseg-{n:06d}.ts\n" for n in range(20))
    head = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:EVENT\n"
    live = playlist_signed(head + body, "broadcasts/session-1/x", "720p")
    assert live.count("#EXTINF") == LIVE_WINDOW and "PLAYLIST-TYPE" not in live
    assert f"#EXT-X-MEDIA-SEQUENCE:{20 - LIVE_WINDOW}" in live
    assert "seg-000019.ts" in live and "seg-000011.ts" not in live
    ended = playlist_signed(head + body + "#EXT-X-ENDLIST\n", "broadcasts/session-1/x", "720p")
    assert ended.count("#EXTINF") == 20 and "#EXT-X-MEDIA-SEQUENCE:0" in ended and ended.rstrip().endswith("#EXT-X-ENDLIST")


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
