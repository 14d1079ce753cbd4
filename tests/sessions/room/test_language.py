"""The room speaks the person's interface language: errors and refusals arrive translated, codes unchanged."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.utils import translation

from server.asgi import application
from sessions.room.language import socket_language
from sessions.routing import websocket_urlpatterns

from .conftest import Socket, db, make_session


async def socket_with_headers(user: Any, session_id: int, headers: list[tuple[bytes, bytes]], *, expect_snapshot: bool = True) -> Socket:
    """Like conftest.open_socket, with the browser's headers (Accept-Language, Cookie)."""
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/sessions/{session_id}/", headers=headers)
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    sock = Socket(communicator, user)
    if expect_snapshot:
        sock.snapshot = await sock.expect_type("snapshot")
    return sock


async def prefer(user: Any, language: str) -> None:
    user.preferred_language = language
    await db(user.save, update_fields=["preferred_language"])


# --- over the socket -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("room_node")
async def test_a_person_who_chose_french_gets_protocol_errors_in_french(people, live):
    await prefer(people.amina, "fr")
    sock = await socket_with_headers(people.amina, live.pk, [(b"accept-language", b"pt-BR,pt;q=0.9")])
    await sock.send("{not json")
    error = await sock.expect_type("error")
    assert error["code"] == "bad_json" and error["message"] == "Le message n’est pas du JSON valide."
    error = await sock.call("chat.send", text=42)
    assert (error["code"], error["field"]) == ("wrong_field", "text")
    assert error["message"] == "« text » doit être du texte."
    error = await sock.call("chat.send", text="x" * 2001)
    assert error["code"] == "too_long" and error["message"] == "« text » dépasse 2000 caractères."
    error = await sock.call("chat.shout")
    assert error["code"] == "unknown_type" and error["message"] == "Type de message inconnu : « chat.shout »."
    await sock.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("room_node")
async def test_without_a_preference_the_browser_language_is_used(people, live):
    sock = await socket_with_headers(people.lukas, live.pk, [(b"accept-language", b"pt-BR,pt;q=0.9")])
    error = await sock.call("poll.vote", poll_id=1, option_ids=[])
    assert (error["code"], error["field"]) == ("wrong_field", "option_ids")
    assert error["message"] == "“option_ids” precisa de pelo menos 1 elemento."
    await sock.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("room_node")
async def test_a_service_refusal_from_the_database_thread_arrives_in_french(people, live):
    await prefer(people.amina, "fr")
    sock = await socket_with_headers(people.amina, live.pk, [])
    error = await sock.call("question.upvote", question_id=12345)  # services.question_upvote, via db_parallel
    assert error["code"] == "not_found" and error["message"] == "Cette question n’existe pas."
    host = await socket_with_headers(people.tanaka, live.pk, [(b"accept-language", b"pt")])
    error = await host.call("moderation.remove", user_id=people.tanaka.pk)
    assert error["code"] == "wrong_field" and error["message"] == "Não se pode remover a si próprio."
    await sock.close()
    await host.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("room_node")
async def test_a_refusal_at_connect_is_in_the_persons_language(people):
    session = await db(make_session, people, status="cancelled")
    await prefer(people.amina, "fr")
    sock = await socket_with_headers(people.amina, session.pk, [], expect_snapshot=False)
    error = await sock.receive()
    assert error["code"] == "room_ended" and error["message"] == "Cette séance est terminée."
    assert await sock.closed_with() == 4410


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("room_node")
async def test_someone_waiting_in_the_lobby_is_told_to_wait_in_arabic(people):
    session = await db(make_session, people, lobby_enabled=True)
    sock = await socket_with_headers(people.amina, session.pk, [(b"accept-language", b"ar-SN,ar;q=0.9")], expect_snapshot=False)
    await sock.expect_type("lobby.waiting")
    error = await sock.call("chat.send", text="let me in")
    assert error["code"] == "in_lobby" and error["message"] == "انتظر حتى يسمح لك المضيف بالدخول."
    await sock.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("room_node")
async def test_the_default_stays_english(people, live):
    sock = await socket_with_headers(people.lukas, live.pk, [(b"accept-language", b"de-DE,de;q=0.9")])
    await sock.send("{not json")
    assert (await sock.expect_type("error"))["message"] == "The message is not valid JSON."
    error = await sock.call("question.upvote", question_id=12345)
    assert error["code"] == "not_found" and error["message"] == "There is no such question."
    await sock.close()


def _signed_in_cookies(user: Any, language: str) -> bytes:
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    return f"{settings.SESSION_COOKIE_NAME}={session}; {settings.LANGUAGE_COOKIE_NAME}={language}".encode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("room_node")
async def test_the_footer_language_switch_wins_as_on_the_room_page(people, live):
    """Through the whole ASGI stack (channels' CookieMiddleware fills scope["cookies"])."""
    await prefer(people.amina, "fr")
    cookie = await sync_to_async(_signed_in_cookies)(people.amina, "pt")
    headers = [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000"), (b"cookie", cookie)]
    communicator = WebsocketCommunicator(application, f"/ws/sessions/{live.pk}/", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from(timeout=3))["type"] == "snapshot"
    await communicator.send_to(text_data="[1, 2]")
    error = await communicator.receive_json_from(timeout=3)
    assert error["code"] == "bad_message" and error["message"] == "Uma mensagem é um objeto JSON."
    await communicator.disconnect()



@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("room_node")
async def test_votes_written_in_one_group_are_refused_each_in_the_voters_language(people, live, settings):
    settings.ROOM_VOTE_BATCH_SECONDS = 0.3  # both votes join one group
    await prefer(people.amina, "fr")
    host = await socket_with_headers(people.tanaka, live.pk, [])
    await host.call("poll.create", question="Most likely diagnosis?", options=["STEMI", "Dissection"])
    poll = (await host.expect_type("poll.opened"))["data"]["poll"]
    await host.call("poll.close", poll_id=poll["id"])
    amina = await socket_with_headers(people.amina, live.pk, [])
    lukas = await socket_with_headers(people.lukas, live.pk, [(b"accept-language", b"pt")])
    vote = {"type": "poll.vote", "poll_id": poll["id"], "option_ids": [poll["options"][0]["id"]]}
    await amina.send({**vote, "id": "amina-late"})
    await lukas.send({**vote, "id": "lukas-late"})
    for_amina = await amina.expect(lambda m: m.get("id") == "amina-late")
    for_lukas = await lukas.expect(lambda m: m.get("id") == "lukas-late")
    for sock in (host, amina, lukas):
        await sock.close()
    assert for_amina["code"] == for_lukas["code"] == "conflict"
    assert (for_amina["message"], for_lukas["message"]) == ("Ce sondage est clos.", "Esta sondagem está fechada.")


# --- the assumption the consumer relies on ---------------------------------------------


@pytest.mark.parametrize("thread_sensitive", [True, False], ids=["orm-thread", "thread-pool"])
async def test_the_active_language_follows_calls_into_database_threads(thread_sensitive):
    """SQLite runs services on the ORM thread, PostgreSQL on a pool (fanout.db_parallel): both see it."""
    with translation.override("fr"):
        inside = await database_sync_to_async(translation.get_language, thread_sensitive=thread_sensitive)()
    assert inside == "fr"
    assert await database_sync_to_async(translation.get_language, thread_sensitive=thread_sensitive)() != "fr"


# --- choosing the language -------------------------------------------------------------


def _scope(*, cookie: str = "", accept: str = "", cookies: dict[str, str] | None = None) -> dict[str, Any]:
    headers = [(b"cookie", cookie.encode())] if cookie else []
    headers += [(b"accept-language", accept.encode())] if accept else []
    scope: dict[str, Any] = {"type": "websocket", "headers": headers}
    if cookies is not None:
        scope["cookies"] = cookies
    return scope


def test_the_language_cookie_then_the_profile_then_the_browser_then_the_default():
    chose_french = SimpleNamespace(preferred_language="fr")
    no_choice = SimpleNamespace(preferred_language="")
    name = settings.LANGUAGE_COOKIE_NAME
    assert socket_language(_scope(cookies={name: "pt"}, accept="ar"), chose_french) == "pt"
    assert socket_language(_scope(cookie=f"{name}=ar"), chose_french) == "ar"  # no CookieMiddleware: the header
    assert socket_language(_scope(accept="pt-BR,pt;q=0.9"), chose_french) == "fr"
    assert socket_language(_scope(accept="pt-BR,pt;q=0.9"), no_choice) == "pt"
    assert socket_language(_scope(), no_choice) == settings.LANGUAGE_CODE


def test_languages_the_site_does_not_offer_are_skipped():
    name = settings.LANGUAGE_COOKIE_NAME
    assert socket_language(_scope(cookies={name: "xx"}, accept="fr-CA"), SimpleNamespace(preferred_language="de")) == "fr"
    assert socket_language(_scope(accept="de-DE, *;q=0.5, pt;q=0.1"), SimpleNamespace(preferred_language="")) == "en"
    assert socket_language(_scope(accept="sw,ar;q=0.8"), SimpleNamespace()) == "ar"

