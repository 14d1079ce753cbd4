"""Bad input gets an error naming the problem; the socket stays open where that is safe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sessions.room import registry
from sessions.room.protocol import CloseCode, ErrorCode
from sessions.room.ratelimit import FLOOD_STRIKES

from .conftest import open_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("room_node")]


async def test_non_json_is_bad_json_and_the_socket_stays_open(people, live):
    sock = await open_socket(people.amina, live.pk)
    await sock.send("{not json")
    assert (await sock.expect_type("error"))["code"] == "bad_json"
    await sock.send({"type": "ping", "id": "p1"})
    assert (await sock.expect_type("pong"))["id"] == "p1"
    await sock.close()


async def test_a_json_array_or_binary_frame_is_a_bad_message(people, live):
    sock = await open_socket(people.amina, live.pk)
    await sock.send("[1, 2]")
    assert (await sock.expect_type("error"))["code"] == "bad_message"
    await sock.communicator.send_to(bytes_data=b"\x00\x01")
    assert (await sock.expect_type("error"))["code"] == "bad_message"
    await sock.close()


async def test_missing_type_or_field_is_missing_field(people, live):
    sock = await open_socket(people.amina, live.pk)
    await sock.send({"text": "no type"})
    assert (await sock.expect_type("error"))["code"] == "missing_field"
    error = await sock.call("chat.send")
    assert error["code"] == "missing_field" and error["field"] == "text"
    error = await sock.call("chat.send", text="   ")
    assert error["code"] == "missing_field"
    await sock.close()


async def test_wrong_field_types_and_bad_ids_are_wrong_field(people, live):
    sock = await open_socket(people.amina, live.pk)
    error = await sock.call("chat.send", text=42)
    assert error["code"] == "wrong_field" and error["field"] == "text"
    error = await sock.call("poll.vote", poll_id="one", option_ids=[1])
    assert error["code"] == "wrong_field" and error["field"] == "poll_id"
    await sock.send({"type": "chat.send", "id": "has spaces!", "text": "x"})
    assert (await sock.expect_type("error"))["field"] == "id"
    error = await sock.call("room.chat", enabled="yes")
    assert error["code"] == "wrong_field"
    await sock.close()


async def test_unknown_type_is_named(people, live):
    sock = await open_socket(people.amina, live.pk)
    error = await sock.call("chat.shout", text="hi")
    assert error["code"] == "unknown_type" and error["id"]
    await sock.close()


async def test_text_over_the_limit_is_too_long(people, live):
    sock = await open_socket(people.amina, live.pk)
    error = await sock.call("chat.send", text="x" * 2001)
    assert error["code"] == "too_long" and error["field"] == "text"
    error = await sock.call("question.ask", text="q" * 501)
    assert error["code"] == "too_long"
    assert (await sock.call("chat.send", text="x" * 2000))["type"] == "ack"
    await sock.close()


async def test_missing_things_are_not_found(people, live):
    sock = await open_socket(people.amina, live.pk)
    assert (await sock.call("question.upvote", question_id=12345))["code"] == "not_found"
    assert (await sock.call("poll.vote", poll_id=12345, option_ids=[1]))["code"] == "not_found"
    await sock.close()


async def test_too_many_messages_are_rate_limited_then_the_flood_is_closed(people, live):
    sock = await open_socket(people.amina, live.pk)
    codes = []
    for i in range(12):
        answer = await sock.call("chat.send", text=f"spam {i}")
        codes.append(answer.get("code", answer["type"]))
    assert codes[:10] == ["ack"] * 10
    assert "rate_limited" in codes[10:]
    for i in range(FLOOD_STRIKES + 5):
        await sock.send({"type": "chat.send", "text": f"flood {i}"})
    assert await sock.closed_with() == CloseCode.FLOOD
    assert any(m.get("code") == "flood" for m in sock.backlog)


async def test_an_oversized_frame_closes_the_socket_with_1009(people, live, settings):
    settings.WEBSOCKET_MAX_MESSAGE_BYTES = 1024
    sock = await open_socket(people.amina, live.pk)
    await sock.send({"type": "chat.send", "text": "x" * 1100})
    assert await sock.closed_with() == 1009


async def test_a_failing_handler_is_a_server_error_and_the_socket_stays_open(people, live, monkeypatch):
    async def broken(ctx, message):
        raise RuntimeError("boom")

    registry.room_message("test.broken")(broken)
    try:
        sock = await open_socket(people.amina, live.pk)
        assert (await sock.call("test.broken"))["code"] == "server_error"
        assert (await sock.call("chat.send", text="still here"))["type"] == "ack"
        await sock.close()
    finally:
        registry._HANDLERS.pop("test.broken", None)


def test_the_protocol_document_names_every_error_and_close_code():
    text = (Path(__file__).resolve().parents[3] / "docs" / "protocol.md").read_text()
    for code in ErrorCode:
        assert f"`{code.value}`" in text, code
    for close in CloseCode:
        assert f"`{close.value}`" in text, close
    for type_ in registry.registered_types():
        if registry.message_spec(type_).handler.__module__ == "sessions.room.handlers":
            assert f'"type": "{type_}"' in text, type_
