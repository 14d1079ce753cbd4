"""The consult room over WebSockets: who enters, private guidance, the live note, the mode."""

from __future__ import annotations

import pytest

from sessions.consults import services
from sessions.models import AuditEntry
from tests.sessions.room.conftest import db, open_socket, quick_room_timers, room_node  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("room_node")]


async def _refused(user, session_id: int) -> dict:
    sock = await open_socket(user, session_id, expect_snapshot=False)
    error = await sock.expect_type("error")
    code = await sock.closed_with()
    assert code == 4403
    return error


async def test_only_participants_enter_the_consult_room(cast, consult):
    for user in (cast.uninvited_supervisor, cast.coordinator, cast.student):
        error = await _refused(user, consult.session_id)
        assert error["code"] == "not_allowed"
    refusals = await db(lambda: AuditEntry.objects.filter(consult=consult, action="access.refused").count())
    assert refusals == 3
    for user, role in ((cast.trainee, "trainee"), (cast.supervisor, "supervisor"), (cast.observer, "observer")):
        sock = await open_socket(user, consult.session_id)
        assert sock.snapshot["consult"]["role"] == role
        assert sock.snapshot["consult"]["media_allowed"] is False  # no consent yet
        await sock.close()
    joins = await db(lambda: AuditEntry.objects.filter(consult=consult, action="room.join").count())
    assert joins == 3


async def test_anonymous_socket_is_refused(cast, consult):
    from channels.routing import URLRouter
    from channels.testing import WebsocketCommunicator
    from django.contrib.auth.models import AnonymousUser

    from sessions.routing import websocket_urlpatterns

    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/sessions/{consult.session_id}/")
    communicator.scope["user"] = AnonymousUser()
    connected, code = await communicator.connect()
    assert not connected and code == 4401


async def test_the_audit_trail_records_where_a_socket_joined_from_and_wrote_from(cast, consult):
    from channels.routing import URLRouter
    from channels.testing import WebsocketCommunicator

    from sessions.routing import websocket_urlpatterns
    from tests.sessions.room.conftest import Socket

    communicator = WebsocketCommunicator(
        URLRouter(websocket_urlpatterns), f"/ws/sessions/{consult.session_id}/",
        headers=[(b"user-agent", b"ClinicTablet/2.1")],
    )
    communicator.scope["user"] = cast.supervisor
    communicator.scope["client"] = ("203.0.113.7", 50123)
    connected, _ = await communicator.connect()
    assert connected
    sock = Socket(communicator, cast.supervisor)
    sock.snapshot = await sock.expect_type("snapshot")
    ack = await sock.call("guidance.send", text="Check the capillary refill")
    assert ack["type"] == "ack"
    await sock.close()
    rows = await db(lambda: list(
        AuditEntry.objects.filter(consult=consult, actor=cast.supervisor, action__in=["room.join", "note.read", "guidance.send"])
        .values_list("action", "ip", "user_agent")
    ))
    assert {action for action, _, _ in rows} >= {"room.join", "guidance.send"}
    assert all(ip == "203.0.113.7" and agent == "ClinicTablet/2.1" for _, ip, agent in rows), rows


async def test_guidance_reaches_the_trainee_and_no_one_else(cast, consult):
    supervisor = await open_socket(cast.supervisor, consult.session_id)
    trainee = await open_socket(cast.trainee, consult.session_id)
    observer = await open_socket(cast.observer, consult.session_id)
    ack = await supervisor.call("guidance.send", text="Ask the mother about neck stiffness")
    assert ack["type"] == "ack" and ack["seq"]
    got = await trainee.expect_type("consult.guidance")
    assert got["data"]["text"] == "Ask the mother about neck stiffness"
    # Something public after it: once the observer has it, the guidance would have come first.
    chat = await supervisor.call("chat.send", text="public")
    await observer.expect(lambda m: m.get("seq") == chat["seq"])
    assert all(m.get("type") != "consult.guidance" for m in observer.backlog)
    # Nor on replay.
    await observer.close()
    again = await open_socket(cast.observer, consult.session_id, query="since=0")
    assert all(e["type"] != "consult.guidance" for e in again.snapshot["events"])
    assert "neck" not in str(again.snapshot)
    for sock in (supervisor, trainee, again):
        await sock.close()


async def test_trainee_and_observer_cannot_send_guidance(cast, consult):
    trainee = await open_socket(cast.trainee, consult.session_id)
    observer = await open_socket(cast.observer, consult.session_id)
    for sock in (trainee, observer):
        error = await sock.call("guidance.send", text="hello")
        assert error["type"] == "error" and error["code"] == "forbidden"
        await sock.close()


async def test_live_note_edits_reach_the_supervisor_and_signing_locks_them(cast, consult):
    supervisor = await open_socket(cast.supervisor, consult.session_id)
    trainee = await open_socket(cast.trainee, consult.session_id)
    ack = await trainee.call("note.update", subjective="Fever for 3 days", assessment="Malaria likely",
                             plan="RDT, then ACT", base_version=0)
    assert ack["type"] == "ack"
    updated = await supervisor.expect_type("note.updated")
    assert updated["data"]["subjective"] == "Fever for 3 days" and updated["data"]["version"] == 1
    observer_error = await (await open_socket(cast.observer, consult.session_id)).call("note.update", plan="x")
    assert observer_error["code"] == "forbidden"
    assert (await supervisor.call("note.comment", text="Check for neck stiffness"))["type"] == "ack"
    assert (await supervisor.call("note.sign"))["type"] == "ack"
    signed = await trainee.expect_type("note.signed")
    assert signed["data"]["signed"] is True
    refused = await trainee.call("note.update", plan="changed after signing", base_version=1)
    assert refused["type"] == "error" and refused["code"] == "note_signed"
    for sock in (supervisor, trainee):
        await sock.close()


async def test_the_connection_mode_is_announced(cast, consult):
    supervisor = await open_socket(cast.supervisor, consult.session_id)
    trainee = await open_socket(cast.trainee, consult.session_id)
    assert (await trainee.call("connection.mode", mode="text"))["type"] == "ack"
    announced = await supervisor.expect_type("connection.mode")
    assert announced["data"] == {"user_id": cast.trainee.pk, "name": cast.trainee.name, "mode": "text"}
    bad = await trainee.call("connection.mode", mode="hologram")
    assert bad["type"] == "error"
    for sock in (supervisor, trainee):
        await sock.close()


async def test_consent_recorded_over_http_reaches_the_room(cast, consult):
    supervisor = await open_socket(cast.supervisor, consult.session_id)
    await db(services.consent_record, by=cast.trainee, consult=consult, consult_given=True, recording_given=False,
             teaching_given=False, language="ny")
    changed = await supervisor.expect_type("consent.changed")
    assert changed["data"] == {"consult": True, "recording": False, "teaching": False}
    await supervisor.close()


async def test_completing_the_consult_closes_its_room_for_everyone(cast, consult):
    trainee = await open_socket(cast.trainee, consult.session_id)
    await db(services.consult_complete, by=cast.supervisor, consult=consult)
    ended = await trainee.expect_type("room.ended")
    assert ended["data"]["reason"] == "ended"
    assert await trainee.closed_with() == 4410


async def test_a_consult_room_has_no_hands_floor_presenters_or_slides(cast, consult):
    """Lecture controls are refused in a consult on the server, not only hidden in the page."""
    supervisor = await open_socket(cast.supervisor, consult.session_id)
    trainee = await open_socket(cast.trainee, consult.session_id)
    refusals = [
        await trainee.call("hand.raise"),
        await supervisor.call("floor.grant", user_id=cast.trainee.pk),
        await supervisor.call("role.set", user_id=cast.trainee.pk, role="presenter"),
        await trainee.call("slides.open", deck_id=1),
    ]
    assert [r["type"] for r in refusals] == ["error"] * 4, refusals
    assert {r["code"] for r in refusals[:3]} == {"forbidden"}
    for sock in (supervisor, trainee):
        await sock.close()
