"""Host moderation, roles and the lobby, as the people in the room notice them."""

from __future__ import annotations

import pytest

from sessions.models import LiveSession, Participant, SessionStatus

from .conftest import db, make_session, open_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("room_node")]


async def test_muted_attendee_cannot_chat_until_unmuted(people, live):
    host = await open_socket(people.tanaka, live.pk)
    amina = await open_socket(people.amina, live.pk)
    assert (await host.call("moderation.mute", user_id=people.amina.pk))["type"] == "ack"
    muted = await amina.expect_type("participant.muted")
    assert muted["data"]["user_id"] == people.amina.pk
    refused = await amina.call("chat.send", text="hello?")
    assert refused["type"] == "error" and refused["code"] == "muted"
    assert (await host.call("moderation.unmute", user_id=people.amina.pk))["type"] == "ack"
    await amina.expect_type("participant.unmuted")
    assert (await amina.call("chat.send", text="hello"))["type"] == "ack"
    await host.close()
    await amina.close()


async def test_removed_attendee_is_disconnected_and_cannot_come_back(people, live):
    host = await open_socket(people.tanaka, live.pk)
    amina = await open_socket(people.amina, live.pk)
    assert (await host.call("moderation.remove", user_id=people.amina.pk))["type"] == "ack"
    removed = await amina.expect_type("participant.removed")
    assert removed["data"]["user_id"] == people.amina.pk
    assert await amina.closed_with() == 4430
    again = await open_socket(people.amina, live.pk, expect_snapshot=False)
    error = await again.receive()
    assert error["type"] == "error" and error["code"] == "removed"
    assert await again.closed_with() == 4430
    await host.close()


async def test_locked_room_refuses_newcomers_but_lets_participants_back(people, live):
    host = await open_socket(people.tanaka, live.pk)
    amina = await open_socket(people.amina, live.pk)
    assert (await host.call("room.lock"))["type"] == "ack"
    await amina.expect_type("room.locked")
    lukas = await open_socket(people.lukas, live.pk, expect_snapshot=False)
    error = await lukas.receive()
    assert error["code"] == "room_locked"
    assert await lukas.closed_with() == 4423
    await amina.close()
    back = await open_socket(people.amina, live.pk)
    assert back.snapshot["room"]["locked"] is True
    assert (await host.call("room.unlock"))["type"] == "ack"
    lukas = await open_socket(people.lukas, live.pk)
    assert lukas.snapshot["you"]["role"] == "attendee"
    for sock in (host, back, lukas):
        await sock.close()


async def test_host_ends_the_session_for_everyone(people, live):
    host = await open_socket(people.tanaka, live.pk)
    amina = await open_socket(people.amina, live.pk)
    assert (await host.call("room.end"))["type"] == "ack"
    await amina.expect_type("room.ended")
    assert await amina.closed_with() == 4410
    assert await host.closed_with() == 4410
    status = await db(lambda: LiveSession.objects.get(pk=live.pk).status)
    assert status == SessionStatus.ENDED
    late = await open_socket(people.lukas, live.pk, expect_snapshot=False)
    assert (await late.receive())["code"] == "room_ended"
    assert await late.closed_with() == 4410


async def test_host_can_switch_the_chat_off(people, live):
    host = await open_socket(people.tanaka, live.pk)
    amina = await open_socket(people.amina, live.pk)
    assert (await host.call("room.chat", enabled=False))["type"] == "ack"
    change = await amina.expect_type("room.chat")
    assert change["data"]["enabled"] is False
    refused = await amina.call("chat.send", text="anyone?")
    assert refused["code"] == "chat_disabled"
    assert (await host.call("chat.send", text="Questions in the Q&A please"))["type"] == "ack"
    await host.close()
    await amina.close()


async def test_attendee_made_presenter_may_run_a_poll(people, live):
    host = await open_socket(people.tanaka, live.pk)
    amina = await open_socket(people.amina, live.pk)
    before = await amina.call("poll.create", question="Q?", options=["a", "b"])
    assert before["code"] == "forbidden"
    assert (await host.call("role.set", user_id=people.amina.pk, role="presenter"))["type"] == "ack"
    change = await amina.expect_type("participant.role")
    assert change["data"]["user_id"] == people.amina.pk and change["data"]["role"] == "presenter"
    assert "present" in change["data"]["permissions"]  # her page shows the presenter's controls at once
    assert (await amina.call("poll.create", question="Q?", options=["a", "b"]))["type"] == "ack"
    wrong = await host.call("role.set", user_id=people.amina.pk, role="host")
    assert wrong["code"] == "wrong_field"
    await amina.close()
    back = await open_socket(people.amina, live.pk)
    assert back.snapshot["you"]["role"] == "presenter"  # survives a reconnect
    await host.close()
    await back.close()


async def test_attendees_cannot_moderate(people, live):
    host = await open_socket(people.tanaka, live.pk)
    amina = await open_socket(people.amina, live.pk)
    for type_, fields in [
        ("moderation.mute", {"user_id": people.tanaka.pk}), ("moderation.remove", {"user_id": people.tanaka.pk}),
        ("room.lock", {}), ("room.end", {}), ("floor.grant", {"user_id": people.amina.pk}),
        ("role.set", {"user_id": people.amina.pk, "role": "presenter"}), ("lobby.admit", {"user_id": people.lukas.pk}),
    ]:
        answer = await amina.call(type_, **fields)
        assert answer["type"] == "error" and answer["code"] == "forbidden", type_
    participant = await db(lambda: Participant.objects.get(session=live, user=people.tanaka))
    assert participant.removed_at is None and not participant.muted
    await host.close()
    await amina.close()


async def test_the_host_admits_or_refuses_people_waiting_in_the_lobby(people):
    session = await db(make_session, people, lobby_enabled=True)
    host = await open_socket(people.tanaka, session.pk)
    amina = await open_socket(people.amina, session.pk, expect_snapshot=False)
    assert (await amina.expect_type("lobby.waiting"))["session"]["id"] == session.pk
    knock = await host.expect_type("lobby.waiting")
    assert knock["data"]["user"]["user_id"] == people.amina.pk
    early = await amina.call("chat.send", text="let me in")
    assert early["code"] == "in_lobby"
    assert (await host.call("lobby.admit", user_id=people.amina.pk))["type"] == "ack"
    admitted = await amina.expect_type("lobby.admitted")
    assert admitted["data"]["user_id"] == people.amina.pk
    snapshot = await amina.expect_type("snapshot")
    assert snapshot["you"]["role"] == "attendee"
    assert (await amina.call("chat.send", text="thanks"))["type"] == "ack"
    lukas = await open_socket(people.lukas, session.pk, expect_snapshot=False)
    await lukas.expect_type("lobby.waiting")
    await host.expect(lambda m: m["type"] == "lobby.waiting" and m["data"]["user"]["user_id"] == people.lukas.pk)
    assert (await host.call("lobby.refuse", user_id=people.lukas.pk))["type"] == "ack"
    await lukas.expect_type("lobby.refused")
    assert await lukas.closed_with() == 4431
    again = await open_socket(people.lukas, session.pk, expect_snapshot=False)
    assert (await again.receive())["code"] == "refused"
    assert await again.closed_with() == 4431
    await host.close()
    await amina.close()


async def test_lobby_requests_are_private_to_the_host(people):
    session = await db(make_session, people, lobby_enabled=True)
    host = await open_socket(people.tanaka, session.pk)
    await host.call("lobby.admit", user_id=people.amina.pk)  # nobody waiting yet
    amina = await open_socket(people.amina, session.pk, expect_snapshot=False)
    await amina.expect_type("lobby.waiting")
    await host.expect_type("lobby.waiting")
    await host.call("lobby.admit", user_id=people.amina.pk)
    await amina.expect_type("snapshot")
    lukas = await open_socket(people.lukas, session.pk, expect_snapshot=False)
    await lukas.expect_type("lobby.waiting")
    await host.expect(lambda m: m["type"] == "lobby.waiting" and m["data"]["user"]["user_id"] == people.lukas.pk)
    assert await amina.nothing(0.3) or all(m["type"] != "lobby.waiting" for m in amina.backlog)
    for sock in (host, amina, lukas):
        await sock.close()
