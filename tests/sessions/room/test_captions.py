"""Live captions typed by a captioner (sessions/captions): over the room socket, and as WebVTT."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from sessions.captions.webvtt import captions_webvtt
from sessions.models import RoomEvent, SessionKind

from .conftest import make_session, open_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("room_node")]


async def test_the_captioner_the_host_chose_writes_captions_everyone_reads(people, live):
    host = await open_socket(people.tanaka, live.pk)
    amina = await open_socket(people.amina, live.pk)
    lukas = await open_socket(people.lukas, live.pk)

    refused = await amina.call("caption.send", text="I am not the captioner", final=True)
    assert refused["type"] == "error" and refused["code"] == "forbidden"

    assert (await host.call("role.set", user_id=people.amina.pk, role="captioner"))["type"] == "ack"
    role = await amina.expect_type("participant.role")
    assert "caption" in role["data"]["permissions"]

    await amina.call("caption.send", text="The ST segment  is raised", final=False)
    partial = await lukas.expect_type("caption.partial")
    assert partial["data"] == {"user_id": people.amina.pk, "name": people.amina.name, "text": "The ST segment is raised"}
    ack = await amina.call("caption.send", text="The ST segment is raised in V2 to V4.", final=True)
    line = await lukas.expect_type("caption.line")
    assert line["seq"] == ack["seq"] and line["data"]["text"] == "The ST segment is raised in V2 to V4."
    assert line["data"]["name"] == people.amina.name

    # A late joiner reads the recent lines; an empty line stores nothing.
    await amina.call("caption.send", text="   ", final=True)
    late = await open_socket(people.chikondi, live.pk)
    assert [e["data"]["text"] for e in late.snapshot["events"] if e["type"] == "caption.line"] == [
        "The ST segment is raised in V2 to V4."]
    for sock in (host, amina, lukas, late):
        await sock.close()


async def test_a_consult_is_never_captioned(people):
    from channels.db import database_sync_to_async

    from sessions.captions.room_handlers import _check
    from sessions.room.registry import RoomContext

    consult = await database_sync_to_async(make_session)(people, kind=SessionKind.CONSULT)
    ctx = RoomContext(session=consult, user=people.amina, role="captioner")
    with pytest.raises(Exception, match="not captioned"):
        _check(ctx)


@pytest.mark.django_db
def test_a_recordings_captions_are_webvtt_timed_from_its_start(people, live):
    start = timezone.now().replace(microsecond=0)
    for seconds, text in ((2, "Good morning from Lagos."), (4, "Look at <this> ECG -->"), (30, "Questions?")):
        RoomEvent.objects.create(session=live, seq=seconds, type="caption.line", created_at=start + dt.timedelta(seconds=seconds),
                                 payload={"user_id": people.amina.pk, "name": "Amina", "text": text})
    vtt = captions_webvtt(session_id=live.pk, start=start, end=start + dt.timedelta(seconds=20))
    assert vtt.splitlines() == [
        "WEBVTT", "",
        "1", "00:00:02.000 --> 00:00:04.000", "<v Amina>Good morning from Lagos.", "",
        "2", "00:00:04.000 --> 00:00:11.000", "<v Amina>Look at &lt;this&gt; ECG →",
    ]
