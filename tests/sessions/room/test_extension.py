"""Other parts (consults, media) extend the room through sessions.room.registry."""

from __future__ import annotations

import pytest

from sessions.room import events, registry
from sessions.room.events import room_event_type
from sessions.room.protocol import Field
from sessions.room.registry import RoomContext

from .conftest import open_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("room_node")]


@pytest.fixture
def whisper_handler():
    """A part's private message: the host whispers to one attendee."""
    room_event_type("test.whispered", text=str)  # a part declares the events it emits

    @registry.room_message("test.whisper", roles={"host"}, fields={"to": Field("int"), "text": Field("str", max_length=50)})
    async def whisper(ctx: RoomContext, message: dict) -> None:
        await ctx.emit("test.whispered", {"text": message["text"]}, visible_to=[message["to"], ctx.user.pk])
        await ctx.reply({"type": "test.sent"})

    async def part(session, user) -> dict:
        return {"hello": user.username}

    registry.register_snapshot_part("test_part", part)
    yield
    registry._HANDLERS.pop("test.whisper", None)
    registry._SNAPSHOT_PARTS.pop("test_part", None)
    events._SCHEMAS.pop("test.whispered", None)


async def test_a_private_event_reaches_only_the_people_it_names(people, live, whisper_handler):
    host = await open_socket(people.tanaka, live.pk)
    amina = await open_socket(people.amina, live.pk)
    lukas = await open_socket(people.lukas, live.pk)
    assert amina.snapshot["test_part"] == {"hello": "amina"}
    ack = await host.call("test.whisper", to=people.amina.pk, text="Look at lead V2")
    assert ack["type"] == "ack" and ack["seq"]
    assert (await host.expect_type("test.sent"))["type"] == "test.sent"
    got = await amina.expect_type("test.whispered")
    assert got["data"]["text"] == "Look at lead V2" and got["seq"] == ack["seq"]
    after = await host.call("chat.send", text="public")
    await lukas.expect(lambda m: m.get("seq") == after["seq"])
    assert all(m["type"] != "test.whispered" for m in lukas.backlog)
    # Replay respects privacy too.
    await lukas.close()
    back = await open_socket(people.lukas, live.pk, query="since=0")
    assert all(e["type"] != "test.whispered" for e in back.snapshot["events"])
    again = await open_socket(people.amina, live.pk, query="since=0")
    assert any(e["type"] == "test.whispered" for e in again.snapshot["events"])
    for sock in (host, amina, back, again):
        await sock.close()


async def test_a_part_message_checks_the_role(people, live, whisper_handler):
    amina = await open_socket(people.amina, live.pk)
    error = await amina.call("test.whisper", to=people.lukas.pk, text="psst")
    assert error["code"] == "forbidden"
    await amina.close()
