"""Media through the room socket and the media worker, with aiortc playing the browsers.

(A long test module: its helpers — clients, separate workers, playable checks — are
shared by the cases below and by test_cascade.py.)

Every message goes the production way: the room consumer, the media signalling handlers,
the channel layer, the (embedded) media worker, and back on the consumer's channel.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import av
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import AudioStreamTrack
from channels.db import database_sync_to_async
from django.core.files.storage import default_storage

from courses.models import Material
from sessions.models import Participant, RoomEvent, SessionKind, SessionRecording
from tests.sessions.media.test_browser_media import media_worker_process  # noqa: F401  (fixture)
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
    from sessions.media.embedded import _IN_PROCESS

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


async def test_host_records_everyone_sees_the_notice_and_the_recording_stays_with_the_session(people, clients):
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
        if await db(lambda: SessionRecording.objects.filter(session=live).exists()):
            break
        await asyncio.sleep(0.1)
    kept = await db(SessionRecording.objects.get, session=live)
    assert kept.name.endswith(names[0]) and not kept.is_published
    assert people.amina.pk in kept.recorded_user_ids, "she was in the room and saw the notice"
    # Nothing reaches the library until the host publishes it (sessions/scheduling/recordings.py).
    assert not await db(lambda: Material.objects.filter(session=live).exists())
    assert await db(_recordings, live.pk) == names


async def _consult_being_recorded(people, clients):
    """A consented consult whose trainee publishes and whose supervisor has started recording."""
    from sessions.consults import services

    consult = await db(_sync_consult, people)
    await db(services.consent_record, by=people.chikondi, consult=consult, consult_given=True,
             recording_given=True, teaching_given=False, language="en")
    trainee = await clients(people.chikondi, consult.session_id)
    await trainee.join(ToneTrack(), MovingVideoTrack())
    supervisor = await clients(people.mensah, consult.session_id)
    await supervisor.send("media.record", action="start")
    await trainee.expect(lambda m: m["type"] == "media.recording" and m["data"]["active"] is True)
    return consult, trainee, supervisor


async def test_withdrawing_consent_stops_and_deletes_a_running_recording(people, clients):
    from sessions.consults import services

    consult, trainee, supervisor = await _consult_being_recorded(people, clients)
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


# ---------------------------------------------------------------- taking the floor back


async def _offer_sdp(*tracks) -> str:
    """An offer that sends `tracks`, from a throwaway peer connection."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    for track in tracks:
        pc.addTrack(track)
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


async def _refusal_of(client, sdp: str) -> dict:
    client_id = await client.send("media.offer", sdp=sdp)
    return await client.expect(lambda m: m.get("reply_to") == client_id and m["type"] in ("media.error", "media.answer"))


async def _publishing_attendee_and_viewer(people, clients, live):
    """The host gives Amina the floor; she sends a tone and a camera; Lukas receives both."""
    host = await clients(people.tanaka, live.pk)
    amina = await clients(people.amina, live.pk)
    lukas = await clients(people.lukas, live.pk)
    await host.send("floor.grant", user_id=people.amina.pk)
    await amina.expect(lambda m: m["type"] == "floor.granted")
    assert (await amina.join(ToneTrack(), MovingVideoTrack()))["type"] == "media.answer"
    assert (await lukas.join())["type"] == "media.answer"
    await lukas.send("media.subscribe", publisher="*", kinds=["audio", "video"])
    await wait_until(lambda: lukas.decoded["video"] >= 10 and lukas.decoded["audio"] >= 20, 20)
    return host, amina, lukas


async def _stops_receiving(viewer, kind: str) -> None:
    await asyncio.sleep(0.5)  # frames already on the wire
    mark = viewer.decoded[kind]
    await asyncio.sleep(1.5)
    assert viewer.decoded[kind] == mark, f"{kind} still arrives"


async def test_taking_the_floor_back_cuts_the_attendees_media_for_everyone_until_given_again(people, clients):
    live = await conference(people)
    host, amina, lukas = await _publishing_attendee_and_viewer(people, clients, live)

    await host.send("floor.revoke", user_id=people.amina.pk)

    cut = await amina.expect(lambda m: m["type"] == "media.unpublished")
    assert cut["reason"] == "floor_revoked" and sorted(cut["sources"]) == ["audio", "camera"]
    await lukas.expect(lambda m: m["type"] == "media.publications" and m["publications"] == [])
    assert _worker_room(live.pk).publications() == []
    await _stops_receiving(lukas, "video")  # although Amina's browser still sends
    refused = await _refusal_of(amina, await _offer_sdp(AudioStreamTrack()))
    assert refused["type"] == "media.error" and refused["code"] == "not_allowed_to_publish"

    # The floor comes back: as media.js does, the old m-lines go inactive, new ones send.
    await host.send("floor.grant", user_id=people.amina.pk)
    await wait_until(lambda: sum(m["type"] == "floor.granted" for m in amina.messages) == 2, 10)
    for transceiver in amina.pc.getTransceivers():
        transceiver.sender.replaceTrack(None)
        transceiver.direction = "inactive"
    for track in (ToneTrack(), MovingVideoTrack()):
        amina.pc.addTransceiver(track, direction="sendonly")
    assert (await amina.join())["type"] == "media.answer"
    again = await lukas.expect(lambda m: m["type"] == "media.publications" and len(m["publications"]) == 2)
    assert sorted(p["source"] for p in again["publications"]) == ["audio", "camera"]
    mark = lukas.decoded["video"]
    await wait_until(lambda: lukas.decoded["video"] >= mark + 10, 20)


async def test_removing_a_publisher_closes_their_media_and_their_tracks_end_for_everyone(people, clients):
    live = await conference(people)
    host, amina, lukas = await _publishing_attendee_and_viewer(people, clients, live)
    await host.send("moderation.remove", user_id=people.amina.pk)
    await lukas.expect(lambda m: m["type"] == "media.publications" and m["publications"] == [])
    room = _worker_room(live.pk)
    await wait_until(lambda: str(people.amina.pk) not in room.participant_ids, 5)
    await _stops_receiving(lukas, "audio")


@pytest.fixture
async def separate_worker(settings):
    """The production shape: web code sends to a media worker's channel, never in-process.

    On the embedded run the channel layer is in memory; on the real-services run it is
    Redis, so every request, the rights included, crosses it as between processes.
    """
    import uuid

    from sessions.media.routing import worker_channel_of_index
    from sessions.media.worker import MediaWorker

    settings.MEDIA_WORKER_IN_PROCESS = False
    settings.MEDIA_PLACEMENT = "static"  # the fixed channel; placement by load: test_placement.py
    settings.MEDIA_WORKER_CHANNEL = f"media-worker-test-{uuid.uuid4().hex[:8]}"
    worker = MediaWorker(channel=worker_channel_of_index(0))
    task = asyncio.ensure_future(worker.run())
    await asyncio.wait_for(worker.ready.wait(), 5)
    yield worker
    task.cancel()
    try:
        await task
    except (asyncio.CancelledError, Exception):
        pass


async def mute_cuts_only_the_microphone(host, publisher, viewer) -> None:
    """The host mutes `publisher`: their audio ends for `viewer`, their video goes on."""
    await host.send("moderation.mute", user_id=publisher.user.pk)
    cut = await publisher.expect(lambda m: m["type"] == "media.unpublished")
    assert cut["reason"] == "muted" and cut["sources"] == ["audio"]
    left = await viewer.expect(lambda m: m["type"] == "media.publications" and len(m["publications"]) == 1)
    assert left["publications"][0]["source"] == "camera"
    await _stops_receiving(viewer, "audio")
    mark = viewer.decoded["video"]
    await wait_until(lambda: viewer.decoded["video"] >= mark + 10, 10)


async def test_a_mute_reaches_a_separate_worker_and_cuts_only_the_microphone(people, clients, separate_worker):
    live = await conference(people, kind=SessionKind.PEER)
    host = await clients(people.tanaka, live.pk)
    amina = await clients(people.amina, live.pk)
    lukas = await clients(people.lukas, live.pk)
    assert (await amina.join(ToneTrack(), MovingVideoTrack()))["type"] == "media.answer"
    await lukas.join()
    await lukas.send("media.subscribe", publisher=str(people.amina.pk), kinds=["audio", "video"])
    await wait_until(lambda: lukas.decoded["video"] >= 10 and lukas.decoded["audio"] >= 20, 20)
    assert _worker_room_in(separate_worker, live.pk) is not None, "the separate worker holds the media"

    await mute_cuts_only_the_microphone(host, amina, lukas)
    refused = await _refusal_of(amina, await _offer_sdp(AudioStreamTrack()))
    assert refused["type"] == "media.error" and refused["code"] == "muted"


async def test_demoting_a_presenter_on_a_separate_worker_cuts_their_media(people, clients, separate_worker):
    live = await conference(people)
    host = await clients(people.tanaka, live.pk)
    amina = await clients(people.amina, live.pk)
    lukas = await clients(people.lukas, live.pk)
    await host.send("role.set", user_id=people.amina.pk, role="presenter")
    await amina.expect(lambda m: m["type"] == "participant.role")
    assert (await amina.join(ToneTrack(), MovingVideoTrack()))["type"] == "media.answer"
    await lukas.join()
    await lukas.send("media.subscribe", publisher="*", kinds=["audio", "video"])
    await wait_until(lambda: lukas.decoded["video"] >= 10, 20)

    await host.send("role.set", user_id=people.amina.pk, role="attendee")

    cut = await amina.expect(lambda m: m["type"] == "media.unpublished")
    assert cut["reason"] == "role_changed"
    await lukas.expect(lambda m: m["type"] == "media.publications" and m["publications"] == [])
    await _stops_receiving(lukas, "video")


def _worker_room_in(worker, session_id: int):
    return worker.sfu.get_room(str(session_id))


@pytest.mark.realservices
async def test_a_media_worker_in_another_process_cuts_the_publication_when_the_floor_is_taken_back(
    people, clients, settings, media_worker_process
):
    """`manage.py media_worker` in its own process, reached over Redis only."""
    import uuid

    from tests.conftest import need_component

    need_component("Redis", bool(getattr(settings, "REDIS_URL", "")))
    channel = f"media-worker-test-{uuid.uuid4().hex[:8]}"
    settings.MEDIA_WORKER_IN_PROCESS = False
    settings.MEDIA_WORKER_CHANNEL = channel
    worker = media_worker_process(MEDIA_WORKER_IN_PROCESS="0", MEDIA_WORKER_CHANNEL=channel)
    live = await conference(people)
    host = await clients(people.tanaka, live.pk)
    amina = await clients(people.amina, live.pk)
    lukas = await clients(people.lukas, live.pk)
    for _ in range(60):  # the worker answers once it listens (pub/sub drops earlier messages)
        probe = await lukas.send("media.subscribe", publisher="*", kinds=["audio"])
        try:
            await lukas.expect(lambda m: m.get("reply_to") == probe and m["type"] == "media.error", 0.5)
            break
        except AssertionError:
            assert worker.poll() is None, "the media worker process exited"
    await host.send("floor.grant", user_id=people.amina.pk)
    await amina.expect(lambda m: m["type"] == "floor.granted")
    assert (await amina.join(ToneTrack(), MovingVideoTrack()))["type"] == "media.answer"
    await lukas.join()
    await lukas.send("media.subscribe", publisher="*", kinds=["audio", "video"])
    await wait_until(lambda: lukas.decoded["video"] >= 10, 20)

    await host.send("floor.revoke", user_id=people.amina.pk)

    cut = await amina.expect(lambda m: m["type"] == "media.unpublished")
    assert cut["reason"] == "floor_revoked"
    await lukas.expect(lambda m: m["type"] == "media.publications" and m["publications"] == [])
    await _stops_receiving(lukas, "video")


async def test_the_server_moves_a_subscriber_whose_estimate_is_too_low_to_the_shared_copy(people, clients):
    from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, pack_remb_fci

    live = await conference(people)
    host = await clients(people.tanaka, live.pk)
    await host.join(MovingVideoTrack(480, 270))
    amina = await clients(people.amina, live.pk)

    def without_own_estimator(track) -> None:
        # The test plays the receiver's estimator: aiortc's own would report loopback speeds.
        for transceiver in amina.pc.getTransceivers():
            if transceiver.receiver.track is track:
                transceiver.receiver._RTCRtpReceiver__remote_bitrate_estimator = None

    amina.pc.on("track", without_own_estimator)
    await amina.join()
    await amina.send("media.subscribe", publisher="*", kinds=["video"])
    await wait_until(lambda: (480, 270) in amina.frame_sizes and amina.decoded["video"] >= 10, 20)
    receiver = next(t.receiver for t in amina.pc.getTransceivers() if t.kind == "video" and t.receiver.track)
    server_ssrc = receiver.getSynchronizationSources()[0].source
    # The test's moving bar needs only ~25 kbit/s as VP8: the link must be slower still.
    need = _worker_room(live.pk).publications()[0].forwarder.rate.bitrate()
    assert need > 10_000
    estimate = {"bps": need // 3}

    async def report_estimates() -> None:  # as a browser on a slow link would, about twice a second
        while True:
            fci = pack_remb_fci(estimate["bps"], [server_ssrc])
            await receiver._send_rtcp(RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=fci))
            await asyncio.sleep(0.5)

    reporter = asyncio.ensure_future(report_estimates())
    try:
        told = await amina.expect(lambda m: m["type"] == "media.quality" and m["video"] == "low", 15)
        assert told["mode"] == "auto" and told["reason"] == "estimate"
        assert told["needed"] > told["estimate"] > 0
        await wait_until(lambda: (320, 180) in amina.frame_sizes, 15)

        # The person's explicit choice wins over the estimate...
        await amina.send("media.quality", video="high")
        chosen = await amina.expect(lambda m: m["type"] == "media.quality" and m["mode"] == "high")
        assert chosen["video"] == "high"
        await asyncio.sleep(4)
        assert _worker_room(live.pk).quality(str(people.amina.pk))["video"] == "high"
        # ...until they leave it to the server again.
        await amina.send("media.quality", video="auto")
        back = await amina.expect(lambda m: m["type"] == "media.quality" and m["mode"] == "auto" and m["reason"] == "requested")
        assert back["video"] == "low"
    finally:
        reporter.cancel()


# ---------------------------------------------------------------- consult recordings


def _consult_recording_reads(consult, people):
    """What each person gets when they try to list and open the consult's recordings."""
    from django.test import Client

    from server.people.errors import PermissionRefused
    from sessions.consults import selectors
    from sessions.consults.audit import AuditSource

    source = AuditSource(ip="127.0.0.1", user_agent="test")
    outcome = {}
    for user in (people.chikondi, people.mensah, people.amina, people.okafor, people.tanaka):
        try:
            names = selectors.consult_recordings_list(user=user, consult=consult, source=source)
            path = selectors.consult_recording_read(user=user, consult=consult, name=names[0], source=source)
            outcome[user.username] = ("read", names, path)
        except PermissionRefused:
            outcome[user.username] = ("refused",)
    browser = Client()
    for user in (people.chikondi, people.amina):
        browser.force_login(user)
        names = selectors.consult_recordings_list(user=people.mensah, consult=consult, source=source)
        response = browser.get(f"/consults/{consult.pk}/recordings/{names[0]}")
        outcome[f"http-{user.username}"] = (response.status_code, response.get("Content-Type"),
                                            response.get("Cache-Control"), b"".join(response.streaming_content)
                                            if response.status_code == 200 else b"")
        missing = browser.get(f"/consults/{consult.pk}/recordings/..%2F..%2Fsecret.webm")
        outcome[f"http-{user.username}-missing"] = missing.status_code
        listed = browser.get(f"/api/consults/{consult.pk}/recordings")
        outcome[f"api-{user.username}"] = (listed.status_code, listed.json())
    return outcome


async def test_a_consult_recording_stays_with_the_consult_for_its_participants_and_every_read_is_audited(people, clients):
    from sessions.consults import services
    from sessions.consults.audit import audit_verify
    from sessions.models import AuditEntry

    consult, trainee, supervisor = await _consult_being_recorded(people, clients)
    await asyncio.sleep(2.5)
    await supervisor.send("media.record", action="stop")
    await trainee.expect(lambda m: m["type"] == "media.recording" and m["data"]["active"] is False)
    await supervisor.send("room.end")
    for _ in range(150):
        if await db(lambda: AuditEntry.objects.filter(consult=consult, action="recording.kept").exists()):
            break
        await asyncio.sleep(0.1)

    assert not await db(lambda: Material.objects.filter(session_id=consult.session_id).exists()), \
        "a consult recording never becomes a library material"
    assert not await db(lambda: Material.objects.filter(kind="recording").exists())
    assert len(await db(_recordings, consult.session_id)) == 1, "kept in storage with the consult"

    outcome = await db(_consult_recording_reads, consult, people)
    for participant in ("chikondi", "mensah"):
        kind, names, path = outcome[participant]
        assert kind == "read" and len(names) == 1 and path.endswith(names[0])
    for stranger in ("amina", "okafor", "tanaka"):  # a student, the school's coordinator, other faculty
        assert outcome[stranger] == ("refused",)
    status, content_type, cache, body = outcome["http-chikondi"]
    assert (status, content_type) == (200, "video/webm") and "no-store" in cache and "private" in cache
    with tempfile.NamedTemporaryFile(suffix=".webm") as copy:
        copy.write(body)
        copy.flush()
        check_playable(copy.name, min_seconds=1.5)
    assert outcome["http-chikondi-missing"] == 404
    assert outcome["http-amina"][0] == 403
    status, listing = outcome["api-chikondi"]
    assert status == 200 and [item["url"] for item in listing] == [f"/consults/{consult.pk}/recordings/{names[0]}"]
    assert outcome["api-amina"][0] == 403

    reads = await db(lambda: list(AuditEntry.objects.filter(consult=consult, action="recording.read")
                                  .values_list("actor__username", flat=True)))
    assert sorted(reads) == ["chikondi", "chikondi", "mensah"], "each read, by whom (the browser's too)"
    refused = await db(lambda: AuditEntry.objects.filter(consult=consult, action="access.refused",
                                                          actor=people.amina).count())
    assert refused == 2, "the stranger's attempts (page, API) are in the consult's audit log"
    assert (await db(audit_verify)).ok

    # Withdrawing recording consent later still deletes it, though the session is over.
    await db(services.consent_withdraw, by=people.chikondi, consult=consult, scopes=["recording"])
    assert await db(_recordings, consult.session_id) == []
    entry = await db(lambda: AuditEntry.objects.filter(consult=consult, action="recording.withdrawn")
                     .values_list("detail", flat=True).last())
    assert any(hook.get("deleted_files") == 1 for hook in entry["hooks"]), entry


SPEECH = Path(__file__).with_name("speech_good_morning.ogg")  # espeak-ng: "good morning everyone welcome to the lecture"


async def test_what_the_speaker_says_becomes_automatic_captions_everyone_reads(people, clients, settings):
    """Real recognition (pocketsphinx, on this machine) of espeak-ng speech through the worker."""
    from aiortc.contrib.media import MediaPlayer

    settings.MEDIA_CAPTIONS_ENGINE = "pocketsphinx"
    live = await conference(people)
    amina = await clients(people.amina, live.pk)
    host = await clients(people.tanaka, live.pk)
    player = MediaPlayer(str(SPEECH))
    assert (await host.join(player.audio))["type"] == "media.answer"
    line = await amina.expect(lambda m: m["type"] == "caption.line", timeout=40)
    assert line["data"]["source"] == "auto" and line["data"]["name"] == people.tanaka.name
    heard = set(line["data"]["text"].lower().split())
    assert heard & {"morning", "everyone", "welcome", "lecture"}, line["data"]["text"]


async def test_a_consult_is_never_transcribed(people):
    from sessions.media.selectors import media_captions_allowed

    consult = await conference(people, kind=SessionKind.CONSULT)
    lecture = await conference(people, kind=SessionKind.LECTURE)
    assert await db(media_captions_allowed, session_id=lecture.pk)
    assert not await db(media_captions_allowed, session_id=consult.pk)
