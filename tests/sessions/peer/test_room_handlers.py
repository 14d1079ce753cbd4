"""The shared notes over the room's WebSocket: snapshot, live changes, the stale-base refusal, reconnects."""

from __future__ import annotations

import json

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from sessions.models import Participant, PeerNotes
from sessions.room import fanout
from sessions.routing import websocket_urlpatterns
from tests.sessions.room.conftest import db, make_session, open_socket, quick_room_timers, room_node  # noqa: F401

from .conftest import make_peer_session

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("room_node")]


@pytest.fixture
def peer(people):
    return make_peer_session(people)


def _apply(text: str, change: dict) -> str:
    units = text.encode("utf-16-le")
    return (units[: change["start"] * 2] + change["insert"].encode("utf-16-le") + units[change["end"] * 2:]).decode("utf-16-le")


async def _drain(sock) -> list[dict]:
    """Everything the socket was sent and has not read, until it is quiet for a moment."""
    messages = list(sock.backlog)
    sock.backlog.clear()
    while not await sock.communicator.receive_nothing(timeout=0.3):
        messages.append(await sock.receive())
    return messages


async def test_the_snapshot_carries_the_notes_in_peer_sessions_only(people, peer):
    amina = await open_socket(people.amina, peer.pk)
    part = amina.snapshot["peer"]
    assert part["notes"] == {"version": 0, "text": "", "updated_at": None, "updated_by": None, "save_id": None}
    assert part["max_chars"] == 20_000 and part["download_url"] == f"/peer/sessions/{peer.pk}/notes.txt"
    await amina.close()
    lecture = await db(make_session, people)
    tanaka = await open_socket(people.tanaka, lecture.pk)
    assert tanaka.snapshot["peer"] == {}
    error = await tanaka.call("notes.save", text="hello", base_version=0)
    assert error["type"] == "error" and error["code"] == "not_peer_session"
    await tanaka.close()


async def test_a_save_reaches_everyone_in_the_room_as_a_change(people, peer):
    amina = await open_socket(people.amina, peer.pk)
    lukas = await open_socket(people.lukas, peer.pk)
    ack = await amina.call("notes.save", id="n-1", text="Malaria: Lagos uses artemether-lumefantrine", base_version=0)
    assert ack == {"type": "ack", "id": "n-1", "seq": ack["seq"]} and ack["seq"] > 0
    event = await lukas.expect_type("notes.changed")
    assert event["seq"] == ack["seq"] and event["actor"] == people.amina.pk
    change = event["data"]
    assert (change["version"], change["base_version"], change["save_id"]) == (1, 0, "n-1")
    text = _apply("", change)
    assert text == "Malaria: Lagos uses artemether-lumefantrine" and change["length"] == len(text)
    # Lukas adds a line on version 1; Amina sees only what he added.
    await lukas.call("notes.save", text=text + "\nGermany: travellers only", base_version=1)
    added = (await amina.expect(lambda m: m.get("type") == "notes.changed" and m["data"]["version"] == 2))["data"]
    assert added["insert"] == "\nGermany: travellers only" and added["start"] == len(text)
    assert _apply(text, added) == await db(lambda: PeerNotes.objects.get(session=peer).text)
    await amina.close()
    await lukas.close()


async def test_a_save_on_an_outdated_base_is_refused_with_the_newer_notes_and_nothing_is_lost(people, peer):
    amina = await open_socket(people.amina, peer.pk)
    lukas = await open_socket(people.lukas, peer.pk)
    await amina.call("notes.save", text="Amina: ask about IPTp", base_version=0)
    error = await lukas.call("notes.save", id="l-1", text="Lukas: compare with German guidance", base_version=0)
    assert error["type"] == "error" and error["id"] == "l-1" and error["code"] == "notes_conflict"
    assert error["notes"]["version"] == 1 and error["notes"]["text"] == "Amina: ask about IPTp"
    assert error["notes"]["updated_by"]["name"] == people.amina.name
    assert await db(lambda: PeerNotes.objects.get(session=peer).text) == "Amina: ask about IPTp"
    # Lukas merges and saves on the newer version: both texts are kept.
    merged = "Amina: ask about IPTp\nLukas: compare with German guidance"
    ack = await lukas.call("notes.save", text=merged, base_version=1)
    assert ack["type"] == "ack"
    assert await db(lambda: PeerNotes.objects.get(session=peer).text) == merged
    await amina.close()
    await lukas.close()


async def test_the_same_message_id_sent_again_stores_one_change(people, peer):
    amina = await open_socket(people.amina, peer.pk)
    first = await amina.call("notes.save", id="n-9", text="Once", base_version=0)
    again = await amina.call("notes.save", id="n-9", text="Once", base_version=0)
    assert first == again
    assert await db(lambda: PeerNotes.objects.get(session=peer).version) == 1
    await amina.close()


async def test_after_a_reconnect_the_snapshot_has_the_newest_notes_and_the_missed_changes_replay(people, peer):
    amina = await open_socket(people.amina, peer.pk)
    lukas = await open_socket(people.lukas, peer.pk)
    await amina.call("notes.save", text="Version one", base_version=0)
    seen = (await lukas.expect_type("notes.changed"))["seq"]
    await lukas.close()
    await amina.call("notes.save", text="Version one\nVersion two", base_version=1)
    lukas = await open_socket(people.lukas, peer.pk, query=f"v=1&since={seen}")
    assert lukas.snapshot["peer"]["notes"]["version"] == 2
    assert lukas.snapshot["peer"]["notes"]["text"] == "Version one\nVersion two"
    replayed = [e for e in lukas.snapshot["events"] if e["type"] == "notes.changed"]
    assert [e["data"]["version"] for e in replayed] == [2]
    await amina.close()
    await lukas.close()


async def test_the_notes_survive_everyone_leaving_and_a_server_restart(people, peer):
    amina = await open_socket(people.amina, peer.pk)
    await amina.call("notes.save", text="Durable", base_version=0)
    await amina.close()
    await fanout.node_shutdown()  # this process's room node stops, as in a restart
    yui = await open_socket(people.yui, peer.pk)
    assert yui.snapshot["peer"]["notes"]["text"] == "Durable"
    assert yui.snapshot["peer"]["notes"]["updated_by"] == {"id": people.amina.pk, "name": people.amina.name}
    await yui.close()


async def test_notes_get_answers_the_whole_text_to_this_socket_only(people, peer):
    amina = await open_socket(people.amina, peer.pk)
    lukas = await open_socket(people.lukas, peer.pk)
    await amina.call("notes.save", text="Whole text", base_version=0)
    await lukas.expect_type("notes.changed")
    await lukas.send({"type": "notes.get", "id": "g-1"})
    current = await lukas.expect(lambda m: m.get("type") == "notes.current")
    assert current["id"] == "g-1" and current["notes"]["text"] == "Whole text" and current["notes"]["version"] == 1
    assert (await lukas.expect(lambda m: m.get("type") == "ack" and m.get("id") == "g-1"))["seq"] is None
    assert "notes.current" not in {m["type"] for m in await _drain(amina)}  # Amina is not sent the reply
    await amina.close()
    await lukas.close()


async def test_malformed_saves_are_refused_by_the_protocol(people, peer):
    amina = await open_socket(people.amina, peer.pk)
    assert (await amina.call("notes.save", base_version=0))["code"] == "missing_field"
    assert (await amina.call("notes.save", text="x", base_version="1"))["code"] == "wrong_field"
    assert (await amina.call("notes.save", text="x"))["code"] == "missing_field"
    assert (await amina.call("notes.save", text="x" * 20_001, base_version=0))["code"] == "too_long"
    # As a browser sends it (UTF-8, not \u-escaped): under the 64 KiB frame limit, over the notes' bytes.
    await amina.send(json.dumps({"type": "notes.save", "id": "big", "text": "🦟" * 15_001, "base_version": 0}, ensure_ascii=False))
    assert (await amina.expect(lambda m: m.get("id") == "big"))["code"] == "too_long"
    assert await db(lambda: PeerNotes.objects.filter(session=peer).exists()) is False
    await amina.close()


async def test_a_muted_participant_reads_but_cannot_write(people, peer):
    amina = await open_socket(people.amina, peer.pk)
    lukas = await open_socket(people.lukas, peer.pk)
    assert (await amina.call("moderation.mute", user_id=people.lukas.pk))["type"] == "ack"
    error = await lukas.call("notes.save", text="Sneaky", base_version=0)
    assert error["code"] == "muted"
    await amina.call("notes.save", text="Host's notes", base_version=0)
    assert _apply("", (await lukas.expect_type("notes.changed"))["data"]) == "Host's notes"
    await amina.close()
    await lukas.close()


async def test_outsiders_and_anonymous_sockets_never_reach_the_notes(people, peer):
    tunde = await open_socket(people.tunde, peer.pk, expect_snapshot=False)
    error = await tunde.expect_type("error")
    assert error["code"] == "not_allowed" and await tunde.closed_with() == 4403
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/sessions/{peer.pk}/")
    communicator.scope["user"] = AnonymousUser()
    connected, code = await communicator.connect()
    assert not connected and code == 4401
    assert await db(lambda: Participant.objects.filter(session=peer, user=people.tunde).exists()) is False


async def test_a_foreign_origin_cannot_open_the_room_socket(people, peer):
    from asgiref.sync import sync_to_async
    from django.conf import settings
    from django.test import Client

    from server.asgi import application

    def cookie() -> bytes:
        client = Client()
        client.force_login(people.amina)
        return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()

    headers = [(b"origin", b"https://evil.example"), (b"host", b"127.0.0.1:8000"), (b"cookie", await sync_to_async(cookie)())]
    communicator = WebsocketCommunicator(application, f"/ws/sessions/{peer.pk}/", headers=headers)
    connected, _ = await communicator.connect()
    assert not connected
    await communicator.disconnect()


def test_the_events_are_json_with_the_documented_fields():
    """docs/protocol.md shows `notes.changed` with these fields; keep them in step."""
    documented = {"version", "base_version", "start", "end", "insert", "length", "by", "save_id", "at"}
    from pathlib import Path

    protocol = (Path(__file__).resolve().parents[3] / "docs" / "protocol.md").read_text()
    section = protocol[protocol.index("## Peer sessions"):]
    example = next(line for line in section.splitlines() if line.startswith('{"type": "notes.changed"'))
    assert set(json.loads(example)["data"]) == documented
