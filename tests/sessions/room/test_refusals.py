"""Who may not enter a room, and what they are told (error code, then close code)."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from server.asgi import application
from sessions.models import Audience

from .conftest import db, make_session, open_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("room_node")]

ORIGIN = [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")]


async def test_anonymous_socket_is_refused(people, live):
    communicator = WebsocketCommunicator(application, f"/ws/sessions/{live.pk}/", headers=ORIGIN)
    connected, code = await communicator.connect()
    assert not connected
    assert code == 4401
    await communicator.disconnect()


async def test_socket_from_a_foreign_origin_is_refused(people, live):
    cookie = await sync_to_async(_session_cookie)(people.amina)
    headers = [(b"origin", b"https://evil.example"), (b"host", b"127.0.0.1:8000"), (b"cookie", cookie)]
    communicator = WebsocketCommunicator(application, f"/ws/sessions/{live.pk}/", headers=headers)
    connected, _ = await communicator.connect()
    assert not connected
    await communicator.disconnect()


def _session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


async def test_signed_in_person_from_our_origin_joins_through_the_full_stack(people, live):
    cookie = await sync_to_async(_session_cookie)(people.amina)
    communicator = WebsocketCommunicator(application, f"/ws/sessions/{live.pk}/", headers=[*ORIGIN, (b"cookie", cookie)])
    connected, _ = await communicator.connect()
    assert connected
    snapshot = await communicator.receive_json_from(timeout=3)
    assert snapshot["type"] == "snapshot" and snapshot["you"]["user_id"] == people.amina.pk
    await communicator.disconnect()


async def test_student_outside_the_partner_schools_is_refused(people):
    # Tokyo's partners are Lagos and AIIMS; Awa studies in Dakar.
    session = await db(make_session, people, audience=Audience.PARTNERS)
    awa = await open_socket(people.awa, session.pk, expect_snapshot=False)
    error = await awa.receive()
    assert error["type"] == "error" and error["code"] == "not_allowed"
    assert await awa.closed_with() == 4403
    amina = await open_socket(people.amina, session.pk)
    assert amina.snapshot["you"]["role"] == "attendee"
    await amina.close()


async def test_uninvited_person_cannot_enter_an_invited_only_room(people):
    session = await db(make_session, people, audience=Audience.INVITED)
    lukas = await open_socket(people.lukas, session.pk, expect_snapshot=False)
    assert (await lukas.receive())["code"] == "not_allowed"
    assert await lukas.closed_with() == 4403


async def test_unknown_session_is_refused(people):
    sock = await open_socket(people.amina, 999999, expect_snapshot=False)
    assert (await sock.receive())["code"] == "no_such_session"
    assert await sock.closed_with() == 4404


async def test_unsupported_protocol_version_is_refused(people, live):
    sock = await open_socket(people.amina, live.pk, query="v=2", expect_snapshot=False)
    assert (await sock.receive())["code"] == "unsupported_version"
    assert await sock.closed_with() == 4400


async def test_cancelled_session_room_cannot_be_entered(people):
    session = await db(make_session, people, status="cancelled")
    sock = await open_socket(people.amina, session.pk, expect_snapshot=False)
    assert (await sock.receive())["code"] == "room_ended"
    assert await sock.closed_with() == 4410
