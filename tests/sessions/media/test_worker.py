"""Media through the room socket and the media worker, with aiortc playing the browsers.

Every message goes the production way: the room consumer, the media signalling handlers,
the channel layer, the (embedded) media worker, and back on the consumer's channel.
"""

from __future__ import annotations

import asyncio

import av
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import AudioStreamTrack
from channels.db import database_sync_to_async
from django.core.files.storage import default_storage

from courses.models import Material
from sessions.models import Participant, RoomEvent, SessionKind
from tests.sessions.media.test_sfu import MovingVideoTrack, ToneTrack

from .conftest import make_session, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("media_worker")]


@database_sync_to_async
def db(fn, *args, **kwargs):
    return fn(*args, **kwargs)


async def conference(people, **fields):
    return await db(make_session, people, **fields)


async def test_host_publishes_and_attendees_receive_decodable_media_through_the_worker(people, clients):
    live = await conference(people)
    host = await clients(people.tanaka, live.pk)
    assert host.snapshot["media"]["may_publish"] is True
    answer = await host.join(ToneTrack(), MovingVideoTrack())
    assert answer["type"] == "media.answer"
    viewers = [await clients(user, live.pk) for user in (people.amina, people.lukas)]
    for viewer in viewers:
        assert viewer.snapshot["media"]["may_publish"] is False
        assert (await viewer.join())["type"] == "media.answer"
        await viewer.send("media.subscribe", publisher="*", kinds=["audio", "video"])
    publications = await viewers[0].expect(lambda m: m["type"] == "media.publications" and len(m["publications"]) == 2)
    assert {p["publisher"] for p in publications["publications"]} == {str(people.tanaka.pk)}
    await wait_until(lambda: all(v.decoded["video"] >= 15 and v.decoded["audio"] >= 40 for v in viewers), 20)
    speaker = await viewers[0].expect(lambda m: m["type"] == "media.speaker" and m["participant"] == str(people.tanaka.pk))
    assert speaker


async def test_an_attendee_of_a_conference_sends_media_only_once_given_the_floor(people, clients):
    live = await conference(people)
    host = await clients(people.tanaka, live.pk)
    amina = await clients(people.amina, live.pk)
    refused = await amina.join(AudioStreamTrack())
    assert refused["type"] == "media.error" and refused["code"] == "not_allowed_to_publish"
    await host.send("floor.grant", user_id=people.amina.pk)
    await host.expect(lambda m: m["type"] == "floor.granted" or (m["type"] == "ack" and m.get("id") == "tanaka-1"))
    assert await db(lambda: Participant.objects.filter(session=live, user=people.amina, has_floor=True).exists())
    await amina.pc.close()
    amina.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    accepted = await amina.join(AudioStreamTrack())
    assert accepted["type"] == "media.answer"


async def test_in_a_peer_session_everyone_may_publish(people, clients):
    live = await conference(people, kind=SessionKind.PEER)
    amina = await clients(people.amina, live.pk)
    assert amina.snapshot["media"]["may_publish"] is True
    assert (await amina.join(AudioStreamTrack()))["type"] == "media.answer"


async def test_after_the_room_socket_reconnects_the_worker_answers_on_the_new_socket(people, clients):
    live = await conference(people, kind=SessionKind.PEER)
    amina = await clients(people.amina, live.pk)
    await amina.join()
    await amina.send("media.subscribe", publisher="*", kinds=["audio", "video"])
    await amina.reconnect()
    await amina.send("media.subscribe", publisher="*", kinds=["audio", "video"])
    await amina.expect_type("media.publications")
    lukas = await clients(people.lukas, live.pk)
    await lukas.join(ToneTrack(), MovingVideoTrack())
    await wait_until(lambda: amina.decoded["video"] >= 10 and amina.decoded["audio"] >= 20, 15)


async def test_malformed_sdp_and_too_many_tracks_are_refused_and_the_room_keeps_working(people, clients):
    live = await conference(people)
    host = await clients(people.tanaka, live.pk)
    client_id = await host.send("media.offer", sdp="this is not sdp")
    bad = await host.expect(lambda m: m.get("reply_to") == client_id)
    assert bad["type"] == "media.error" and bad["code"] == "malformed_sdp"
    tracks = [AudioStreamTrack(), MovingVideoTrack(), MovingVideoTrack(), MovingVideoTrack()]
    too_many = await host.join(*tracks)
    assert too_many["type"] == "media.error" and too_many["code"] == "too_many_tracks"
    host.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    assert (await host.join(AudioStreamTrack(), MovingVideoTrack()))["type"] == "media.answer"


async def test_subscribing_before_offering_and_a_bad_candidate_get_clear_errors(people, clients):
    live = await conference(people)
    amina = await clients(people.amina, live.pk)
    early_id = await amina.send("media.subscribe", publisher="*", kinds=["audio"])
    early = await amina.expect(lambda m: m.get("reply_to") == early_id)
    assert early["type"] == "media.error" and early["code"] == "unknown_participant"
    await amina.join()
    client_id = await amina.send("media.candidate", candidate="candidate:not a candidate", sdpMid="0", sdpMLineIndex=0)
    bad = await amina.expect(lambda m: m.get("reply_to") == client_id)
    assert bad["type"] == "media.error" and bad["code"] == "malformed_sdp"


async def test_unknown_subscription_kind_is_refused(people, clients):
    live = await conference(people)
    amina = await clients(people.amina, live.pk)
    await amina.join()
    client_id = await amina.send("media.subscribe", publisher="*", kinds=["smell"])
    error = await amina.expect(lambda m: m.get("reply_to") == client_id)
    assert error["code"] == "invalid_kind"


async def test_a_subscriber_that_vanishes_does_not_disturb_the_others_or_the_worker(people, clients):
    live = await conference(people)
    host = await clients(people.tanaka, live.pk)
    await host.join(ToneTrack(), MovingVideoTrack())
    amina = await clients(people.amina, live.pk)
    lukas = await clients(people.lukas, live.pk)
    for viewer in (amina, lukas):
        await viewer.join()
        await viewer.send("media.subscribe", publisher=str(people.tanaka.pk), kinds=["audio", "video"])
    await wait_until(lambda: amina.decoded["video"] >= 5 and lukas.decoded["video"] >= 5, 15)
    await amina.pc.close()  # the tab was closed: no leave, no goodbye
    before = lukas.decoded["video"]
    await wait_until(lambda: lukas.decoded["video"] >= before + 15, 10)
    room = _worker_room(live.pk)
    await wait_until(lambda: str(people.amina.pk) not in room.participant_ids, 10)
    awa = await clients(people.awa, live.pk)  # the worker still serves newcomers
    await awa.join()
    await awa.send("media.subscribe", publisher="*", kinds=["audio"])
    await wait_until(lambda: awa.decoded["audio"] >= 20, 10)
    assert awa.decoded["video"] == 0, "an audio-only subscriber receives no video"


async def test_consult_media_waits_for_the_patients_consent(people, clients):
    from sessions.consults import services

    consult = await db(_sync_consult, people)
    trainee = await clients(people.chikondi, consult.session_id)
    refused = await trainee.join(AudioStreamTrack())
    assert refused["type"] == "media.error" and refused["code"] == "consent_required", trainee.messages
    await db(services.consent_record, by=people.chikondi, consult=consult, consult_given=True,
             recording_given=False, teaching_given=False, language="en")
    trainee.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    assert (await trainee.join(AudioStreamTrack()))["type"] == "media.answer"
    supervisor = await clients(people.mensah, consult.session_id)
    client_id = await supervisor.send("media.record", action="start")
    no_recording = await supervisor.expect(lambda m: m.get("reply_to") == client_id)
    assert no_recording["code"] == "recording_not_allowed"


def _worker_room(session_id: int):
    from sessions.media.worker import _IN_PROCESS

    for worker, _task in _IN_PROCESS.values():
        room = worker.sfu.get_room(str(session_id))
        if room is not None:
            return room
    raise AssertionError("no worker holds this session's media")


def _sync_consult(people):
    from sessions.consults import services

    services.roster_update(supervisor=people.mensah, specialties=["Paediatrics"], languages=["en"], is_active=True)
    pending = services.consult_request_create(
        trainee=people.chikondi, specialty="Paediatrics", urgency="soon", language="en",
        reason="Child with fever and a new rash.",
    )
    consult = services.consult_accept(supervisor=people.mensah, consult=pending)
    consult.refresh_from_db()
    return consult


def _recordings(session_id: int) -> list[str]:
    try:
        return default_storage.listdir(f"recordings/session-{session_id}")[1]
    except FileNotFoundError:
        return []


def check_playable(path_or_file, *, min_seconds: float) -> None:
    """Sound and picture: both streams present, long enough, frames decode."""
    with av.open(path_or_file) as container:
        kinds = {s.type for s in container.streams}
        assert {"audio", "video"} <= kinds
        decoded = {"audio": 0, "video": 0}
        for frame in container.decode(*container.streams):
            decoded["audio" if isinstance(frame, av.AudioFrame) else "video"] += 1
        video = container.streams.video[0]
        assert decoded["video"] >= min_seconds * 10
        assert decoded["audio"] >= min_seconds * 40
        duration = float(container.duration / 1_000_000) if container.duration else decoded["video"] / float(video.average_rate or 15)
        assert duration >= min_seconds


async def test_host_records_everyone_sees_the_notice_and_the_recording_becomes_a_material(people, clients):
    live = await conference(people)
    host = await clients(people.tanaka, live.pk)
    await host.join(ToneTrack(), MovingVideoTrack())
    amina = await clients(people.amina, live.pk)
    client_id = await amina.send("media.record", action="start")
    forbidden = await amina.expect(lambda m: m.get("id") == client_id and m["type"] == "error")
    assert forbidden["code"] == "forbidden"
    await host.send("media.record", action="start")
    notice = await amina.expect(lambda m: m["type"] == "media.recording")
    assert notice["data"]["active"] is True
    await asyncio.sleep(3)
    await host.send("media.record", action="stop")
    await amina.expect(lambda m: m["type"] == "media.recording" and m["data"]["active"] is False)
    names = await db(_recordings, live.pk)
    assert len(names) == 1
    with default_storage.open(f"recordings/session-{live.pk}/{names[0]}", "rb") as stored:
        check_playable(stored, min_seconds=2)
    await host.send("room.end")
    for _ in range(150):
        if await db(lambda: Material.objects.filter(session=live, kind="recording").exists()):
            break
        await asyncio.sleep(0.1)
    material = await db(Material.objects.get, session=live, kind="recording")
    assert live.title in material.title
    assert await db(_recordings, live.pk) == []


async def test_withdrawing_consent_stops_and_deletes_a_running_recording(people, clients):
    from sessions.consults import services

    consult = await db(_sync_consult, people)
    await db(services.consent_record, by=people.chikondi, consult=consult, consult_given=True,
             recording_given=True, teaching_given=False, language="en")
    trainee = await clients(people.chikondi, consult.session_id)
    await trainee.join(ToneTrack(), MovingVideoTrack())
    supervisor = await clients(people.mensah, consult.session_id)
    await supervisor.send("media.record", action="start")
    await trainee.expect(lambda m: m["type"] == "media.recording" and m["data"]["active"] is True)
    await asyncio.sleep(1.5)
    outcome = await db(services.consent_withdraw, by=people.chikondi, consult=consult, scopes=["recording"])
    assert "recording" in outcome["withdrawn"]
    from sessions.models import AuditEntry

    entry = await db(lambda: AuditEntry.objects.filter(action="recording.withdrawn").values_list("detail", flat=True).last())
    assert any(h.get("ok") and h.get("stopped") for h in entry["hooks"]), entry
    stopped = await trainee.expect(lambda m: m["type"] == "media.recording" and m["data"]["active"] is False)
    assert stopped["data"].get("discarded") is True
    assert await db(_recordings, consult.session_id) == []
    assert not await db(lambda: RoomEvent.objects.filter(session_id=consult.session_id, type="media.recording").count() < 2)


async def test_an_attendee_on_a_slow_link_asks_for_the_shared_low_quality_video(people, clients):
    live = await conference(people)
    host = await clients(people.tanaka, live.pk)
    await host.join(MovingVideoTrack(480, 270))
    amina = await clients(people.amina, live.pk)
    await amina.join()
    bad_id = await amina.send("media.quality", video="ultra")
    bad = await amina.expect(lambda m: m.get("reply_to") == bad_id and m["type"] == "media.error")
    assert bad["code"] == "invalid_quality"
    await amina.send("media.quality", video="low")
    await amina.send("media.subscribe", publisher="*", kinds=["video"])
    await wait_until(lambda: amina.decoded["video"] >= 5, 20)
    assert amina.frame_sizes == {(320, 180)}
