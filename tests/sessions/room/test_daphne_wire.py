"""What a client receives when the room refuses or closes its socket, read off a real daphne.

An outside attack found every refusal arriving as 1011 (daphne's autobahn rejected our
IntEnum close codes), a flood and a removal leaving the socket open, and oversized frames
ending in 1006: the tests that looked at the consumer never saw it. Here every code is
read by a real WebSocket client (`websockets`) from a real daphne process serving the
test database, as a browser would get it.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import websockets
from django.conf import settings

from sessions.models import Attendance, Audience, SessionKind
from sessions.room import daphne_wire
from tests.browser_support import session_cookie_for
from tests.sessions.room.conftest import make_session

pytestmark = [pytest.mark.realservices, pytest.mark.django_db(transaction=True)]


class Client:
    """A socket to the real daphne, with the messages it received."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.messages: list[dict[str, Any]] = []
        self.counter = 0

    async def send(self, type: str, **fields: Any) -> str:
        self.counter += 1
        message_id = f"t-{self.counter}"
        await self.socket.send(json.dumps({"type": type, "id": message_id, **fields}))
        return message_id

    async def expect(self, predicate, timeout: float = 10.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            for message in self.messages:
                if predicate(message):
                    return message
            while True:
                message = json.loads(await self.socket.recv())
                self.messages.append(message)
                if predicate(message):
                    return message

    async def close_code(self, timeout: float = 15.0) -> int:
        """Read until the server closes; the code in its close frame (1006: none came)."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    self.messages.append(json.loads(await self.socket.recv()))
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else 1006


def signed_in(*users) -> dict[int, str]:
    """Session cookies, made before the event loop runs (the ORM is synchronous)."""
    return {user.pk: session_cookie_for(user) for user in users}


async def connect(site, cookie: str, session_id: int, query: str = "v=1") -> Client:
    socket = await websockets.connect(
        f"ws://127.0.0.1:{site.port}/ws/sessions/{session_id}/?{query}",
        additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}", "Origin": site.url},
        max_size=None, open_timeout=10,
    )
    return Client(socket)


async def joined(site, cookie: str, session_id: int) -> Client:
    client = await connect(site, cookie, session_id)
    await client.expect(lambda m: m.get("type") == "snapshot")
    return client


def test_the_checks_on_daphne_and_autobahn_internals_pass_with_the_pinned_versions():
    daphne_wire.check_compatibility()


def test_refusals_reach_the_client_with_their_documented_close_codes(people, live_site):
    invited_only = make_session(people, audience=Audience.INVITED, title="Invited round")
    amina = signed_in(people.amina)[people.amina.pk]

    async def scenario() -> dict[str, int]:
        unknown = await connect(live_site, amina, 999_999)
        old_client = await connect(live_site, amina, invited_only.pk, query="v=9")
        outsider = await connect(live_site, amina, invited_only.pk)
        codes = {"unknown": await unknown.close_code(), "version": await old_client.close_code(),
                 "outsider": await outsider.close_code()}
        assert any(m.get("type") == "error" for m in outsider.messages), "the reason comes before the close"
        return codes

    assert asyncio.run(scenario()) == {"unknown": 4404, "version": 4400, "outsider": 4403}


def test_a_flood_closes_the_socket_with_4429(people, live_site):
    live = make_session(people)
    cookies = signed_in(people.amina)

    async def scenario() -> tuple[int, list[str]]:
        amina = await joined(live_site, cookies[people.amina.pk], live.pk)
        try:
            for n in range(400):
                await amina.send("chat.send", text=f"spam {n}")
        except websockets.ConnectionClosed:
            pass
        code = await amina.close_code()
        return code, [m.get("code") for m in amina.messages if m.get("type") == "error"]

    code, errors = asyncio.run(scenario())
    assert code == 4429
    assert errors[-1] == "flood" and "server_error" not in errors


def test_a_removed_person_is_closed_with_4430(people, live_site):
    live = make_session(people)
    cookies = signed_in(people.tanaka, people.amina)

    async def scenario() -> int:
        host = await joined(live_site, cookies[people.tanaka.pk], live.pk)
        amina = await joined(live_site, cookies[people.amina.pk], live.pk)
        await host.send("moderation.remove", user_id=people.amina.pk)
        return await amina.close_code()

    assert asyncio.run(scenario()) == 4430


def test_a_frame_over_64_kib_is_closed_with_1009(people, live_site):
    live = make_session(people)
    cookies = signed_in(people.amina)

    async def scenario() -> int:
        amina = await joined(live_site, cookies[people.amina.pk], live.pk)
        await amina.socket.send(json.dumps({"type": "chat.send", "id": "big", "text": "x" * 70_000}))
        return await amina.close_code()

    assert asyncio.run(scenario()) == 1009


def test_end_for_everyone_closes_every_attendee_with_4410_and_records_when_they_left(people, live_site):
    live = make_session(people)
    cookies = signed_in(people.tanaka, people.amina, people.lukas)

    async def scenario() -> list[int]:
        host = await joined(live_site, cookies[people.tanaka.pk], live.pk)
        attendees = [await joined(live_site, cookies[user.pk], live.pk) for user in (people.amina, people.lukas)]

        def present() -> int:  # presence is written a moment after joining (coalesced)
            return Attendance.objects.filter(session=live, user__in=[people.amina, people.lukas]).count()

        for _ in range(100):
            if await asyncio.to_thread(present) == 2:
                break
            await asyncio.sleep(0.1)
        await host.send("room.end")
        codes = [await attendee.close_code() for attendee in attendees]
        for attendee in attendees:
            assert any(m.get("type") == "room.ended" for m in attendee.messages)
        return codes

    assert asyncio.run(scenario()) == [4410, 4410]
    deadline = time.monotonic() + 15  # written when the server has closed the socket's row
    open_stretches = Attendance.objects.filter(session=live, user__in=[people.amina, people.lukas], left_at__isnull=True)
    while open_stretches.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not open_stretches.exists(), "every attendee's leave time is recorded"
    assert Attendance.objects.filter(session=live, user__in=[people.amina, people.lukas]).count() == 2


def test_the_note_update_acknowledgement_carries_the_number_of_the_stored_event(people, live_site):
    from sessions.consults import services as consults

    consults.roster_update(supervisor=people.mensah, specialties=["Paediatrics"], languages=["en"], is_active=True)
    consult = consults.consult_request_create(trainee=people.chikondi, specialty="Paediatrics", urgency="soon",
                                              language="en", reason="Fever and a rash in a toddler.")
    consult = consults.consult_accept(supervisor=people.mensah, consult=consult)
    assert consult.session.kind == SessionKind.CONSULT
    cookie = signed_in(people.chikondi)[people.chikondi.pk]

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        trainee = await joined(live_site, cookie, consult.session_id)
        sent = await trainee.send("note.update", subjective="Fever for two days.")
        ack = await trainee.expect(lambda m: m.get("type") == "ack" and m.get("id") == sent)
        event = await trainee.expect(lambda m: m.get("type") == "note.updated")
        # A resend after a reconnect (same id) is acknowledged with the same number, not stored twice.
        again = await joined(live_site, cookie, consult.session_id)
        await again.socket.send(json.dumps({"type": "note.update", "id": sent, "subjective": "Fever for two days."}))
        repeat = await again.expect(lambda m: m.get("type") == "ack" and m.get("id") == sent)
        assert repeat["seq"] == ack["seq"]
        return ack, event

    ack, event = asyncio.run(scenario())
    assert isinstance(ack["seq"], int) and ack["seq"] == event["seq"]


def test_text_the_database_cannot_store_is_refused_as_wrong_field_and_the_socket_stays(people, live_site):
    """NUL and lone surrogates: PostgreSQL refuses them, so the room refuses them everywhere."""
    live = make_session(people)
    cookies = signed_in(people.amina)

    async def scenario() -> list[dict[str, Any]]:
        amina = await joined(live_site, cookies[people.amina.pk], live.pk)
        replies = []
        for n, text in enumerate(("before\u0000after", "lone \ud800 surrogate")):
            await amina.socket.send(json.dumps({"type": "chat.send", "id": f"bad-{n}", "text": text}))
            replies.append(await amina.expect(lambda m, n=n: m.get("id") == f"bad-{n}"))
        sent = await amina.send("chat.send", text="Plain text still works")
        replies.append(await amina.expect(lambda m: m.get("id") == sent))
        return replies

    nul, surrogate, fine = asyncio.run(scenario())
    for refused in (nul, surrogate):
        assert refused["type"] == "error" and refused["code"] == "wrong_field" and refused["field"] == "text"
    assert fine["type"] == "ack" and isinstance(fine["seq"], int)
