"""Private guidance across processes: two real daphne processes on one Redis.

The supervisor is connected to one process, the trainee and an observer to the other,
a second observer to the first. Guidance reaches the trainee (other process) and no
observer on either process, live or on replay.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from channels.db import database_sync_to_async
from django.db import connection

from sessions.consults import services
from tests.browser_support import session_cookie_for
from tests.conftest import need_component
from tests.sessions.room.test_multiprocess import FAST_PRESENCE, Client, own_redis  # noqa: F401

pytestmark = [pytest.mark.realservices, pytest.mark.django_db(transaction=True)]

GUIDANCE = "Ask about neck stiffness"


async def test_guidance_never_reaches_an_observer_on_any_process(people, consult, server_process_factory, own_redis):  # noqa: F811
    need_component("PostgreSQL test database", connection.vendor == "postgresql")
    await database_sync_to_async(services.observer_invite)(supervisor=people.mensah, consult=consult, user=people.thoko)
    env = {"REDIS_URL": own_redis.url, "ROOM_FANOUT_CHANNEL": f"test-consult-{uuid.uuid4().hex[:8]}", **FAST_PRESENCE}
    cookies = await database_sync_to_async(lambda: [session_cookie_for(u) for u in (people.mensah, people.chikondi, people.kalua, people.thoko)])()
    a = await asyncio.to_thread(server_process_factory, **env)
    b = await asyncio.to_thread(server_process_factory, **env)
    supervisor = Client(a.port, consult.session_id, cookies[0])
    trainee = Client(b.port, consult.session_id, cookies[1])
    observer_b = Client(b.port, consult.session_id, cookies[2])
    observer_a = Client(a.port, consult.session_id, cookies[3])
    clients = [supervisor, trainee, observer_b, observer_a]
    try:
        for client in clients:
            await client.open()
        client_id = uuid.uuid4().hex
        import json

        await supervisor.ws.send(json.dumps({"type": "guidance.send", "id": client_id, "text": GUIDANCE}))
        ack = await supervisor.next(lambda m: m.get("id") == client_id and m["type"] in ("ack", "error"))
        assert ack["type"] == "ack", ack
        got = await trainee.next(lambda m: m["type"] == "consult.guidance")
        assert got["data"]["text"] == GUIDANCE
        after = await supervisor.chat("public, after the guidance")
        for observer in (observer_a, observer_b):
            await observer.next(lambda m, after=after: m.get("seq") == after)
            assert all(m["type"] != "consult.guidance" for m in observer.seen)
            assert GUIDANCE not in json.dumps(observer.seen)
        # Replay after a reconnect (through the other process) keeps it private too.
        await observer_b.ws.close()
        replay = Client(a.port, consult.session_id, cookies[2])
        clients.append(replay)
        snapshot = await replay.open(since=0)
        assert GUIDANCE not in json.dumps(snapshot)
    finally:
        for client in clients:
            if client.ws is not None:
                await client.ws.close()
