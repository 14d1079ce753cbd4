"""Two real daphne processes on one real Redis and PostgreSQL: one room across both,
surviving a killed process and a Redis restart without losing an acknowledged event."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import connection

from sessions.models import RoomEvent
from tests.browser_support import session_cookie_for
from tests.conftest import free_port, need_component, port_open

from .conftest import make_session

pytestmark = [pytest.mark.realservices, pytest.mark.django_db(transaction=True)]

FAST_PRESENCE = {
    "ROOM_HEARTBEAT_SECONDS": "1", "ROOM_SWEEP_SECONDS": "1", "ROOM_PRESENCE_TTL_SECONDS": "3",
    "ROOM_CATCHUP_SECONDS": "0.5",
}


class OwnRedis:
    """A redis-server of this test on a free loopback port, that the test may restart."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", self.port):
            if time.monotonic() > deadline:
                pytest.fail("redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    need_component("redis-server", shutil.which("redis-server") is not None)
    redis = OwnRedis()
    redis.start()
    yield redis
    redis.stop()


class Client:
    """A participant's socket to one daphne process (the `websockets` library)."""

    def __init__(self, port: int, session_id: int, cookie: str) -> None:
        self.port, self.session_id, self.cookie = port, session_id, cookie
        self.ws: Any = None
        self.seen: list[dict[str, Any]] = []
        self.acks: dict[str, int] = {}
        self.last_seq = 0
        self.snapshot: dict[str, Any] = {}

    async def open(self, since: int | None = None) -> dict[str, Any]:
        from websockets.asyncio.client import connect

        query = f"?since={since}" if since is not None else ""
        self.ws = await connect(
            f"ws://127.0.0.1:{self.port}/ws/sessions/{self.session_id}/{query}",
            additional_headers={"Cookie": f"sessionid={self.cookie}", "Origin": f"http://127.0.0.1:{self.port}"},
            open_timeout=10,
        )
        self.snapshot = await self.next(lambda m: m["type"] == "snapshot")
        for event in self.snapshot["events"]:
            self._record(event)
        self.last_seq = max(self.last_seq, self.snapshot["seq"])
        return self.snapshot

    def _record(self, message: dict[str, Any]) -> None:
        if isinstance(message.get("seq"), int) and message["type"] not in ("ack", "pong"):
            self.seen.append(message)
            self.last_seq = max(self.last_seq, message["seq"])

    async def next(self, predicate: Any, timeout: float = 10) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                message = json.loads(await self.ws.recv())
                if message["type"] == "ack":
                    self.acks[message["id"]] = message["seq"]
                elif message["type"] != "snapshot":
                    self._record(message)
                if predicate(message):
                    return message

    async def chat(self, text: str, client_id: str | None = None) -> int:
        client_id = client_id or uuid.uuid4().hex
        await self.ws.send(json.dumps({"type": "chat.send", "id": client_id, "text": text}))
        ack = await self.next(lambda m: m.get("id") == client_id and m["type"] in ("ack", "error"))
        assert ack["type"] == "ack", ack
        return ack["seq"]

    def chats(self) -> list[str]:
        return [m["data"]["text"] for m in self.seen if m["type"] == "chat.message"]

    def seqs(self) -> list[int]:
        return [m["seq"] for m in self.seen]


def _cookies(*users: Any) -> list[str]:
    return [session_cookie_for(user) for user in users]


async def test_two_processes_share_a_room_and_survive_a_crash_and_a_redis_restart(
    people, server_process_factory, own_redis
):
    need_component("PostgreSQL test database", connection.vendor == "postgresql")
    env = {"REDIS_URL": own_redis.url, "ROOM_FANOUT_CHANNEL": f"test-room-{uuid.uuid4().hex[:8]}", **FAST_PRESENCE}
    session = await database_sync_to_async(make_session)(people)
    host_cookie, amina_cookie, lukas_cookie = await database_sync_to_async(_cookies)(people.tanaka, people.amina, people.lukas)
    a = await asyncio.to_thread(server_process_factory, **env)
    b = await asyncio.to_thread(server_process_factory, **env)

    host = Client(a.port, session.pk, host_cookie)
    amina = Client(b.port, session.pk, amina_cookie)
    lukas = Client(b.port, session.pk, lukas_cookie)
    await host.open()
    await amina.open()
    await lukas.open()

    # 1. Chat crosses processes both ways.
    seq = await amina.chat("Hello from Lagos")
    await host.next(lambda m: m.get("seq") == seq)
    seq = await host.chat("Welcome, everyone")
    await amina.next(lambda m: m.get("seq") == seq)
    await lukas.next(lambda m: m.get("seq") == seq)
    assert "Hello from Lagos" in host.chats() and "Welcome, everyone" in amina.chats()
    answered = await amina.chat("Question before the crash", client_id="amina-before-crash")

    # 2. Process B dies; the host goes on; B's people disappear from the room by themselves.
    await asyncio.to_thread(b.kill)
    sent_while_down = [await host.chat(f"while B is down {i}") for i in range(5)]
    def amina_left(m: dict[str, Any]) -> bool:
        return m["type"] == "presence" and people.amina.pk in m["data"]["left"]

    # The sweep may already have happened while the host's chats were acknowledged.
    if not any(amina_left(m) for m in host.seen):
        try:
            await host.next(amina_left, timeout=15)
        except TimeoutError:
            seen = [(m["seq"], m["type"], m["data"] if m["type"] == "presence" else None) for m in host.seen]
            pytest.fail(f"the host never saw amina leave; the host saw {seen}")

    # 3. B comes back on the same port; its clients resume from their last number.
    await asyncio.to_thread(b.start)
    before = amina.seqs()
    last_before = amina.last_seq
    await amina.open(since=last_before)
    resumed = amina.snapshot["events"]
    # Exactly what she missed: her own last message if its broadcast had not reached her
    # before the crash (she had only its ack), and everything the host sent meanwhile.
    expected = [s for s in [answered, *sent_while_down] if s > last_before]
    assert [m["seq"] for m in resumed if m["type"] == "chat.message"] == expected
    assert all(m["seq"] > last_before for m in resumed)
    all_seqs = amina.seqs()
    assert len(all_seqs) == len(set(all_seqs)), "no event twice"
    assert all_seqs == sorted(all_seqs) and set(before) < set(all_seqs)
    # A resend of an acknowledged message (same id) is acknowledged again and stored once.
    assert await amina.chat("Question before the crash", client_id="amina-before-crash") == answered
    count = await database_sync_to_async(
        lambda: RoomEvent.objects.filter(session=session, client_id="amina-before-crash").count()
    )()
    assert count == 1

    # 4. Redis restarts: acknowledged events reach the other process anyway, in order, once.
    await asyncio.to_thread(own_redis.stop)
    during = [await host.chat(f"while Redis is down {i}") for i in range(3)]
    await asyncio.to_thread(own_redis.start)
    await amina.next(lambda m: m.get("seq") == during[-1], timeout=20)
    after = await host.chat("after the restart")
    await amina.next(lambda m: m.get("seq") == after, timeout=20)
    chats = amina.chats()
    for i in range(3):
        assert chats.count(f"while Redis is down {i}") == 1
    seqs = amina.seqs()
    assert len(seqs) == len(set(seqs)) and seqs == sorted(seqs)

    for client in (host, amina):
        await client.ws.close()
    if lukas.ws is not None:
        await lukas.ws.close()


async def test_people_of_a_process_that_stalled_past_the_presence_ttl_are_not_lost(
    people, server_process_factory, own_redis
):
    """A process whose beats stop for a while (a busy database thread, a GC or VM pause) is
    swept by the others, which deletes its connection rows. When it comes back it must put
    its live sockets back, or its people vanish from the room for good: never shown as
    joined, never shown as left when the process really dies."""
    need_component("PostgreSQL test database", connection.vendor == "postgresql")
    env = {"REDIS_URL": own_redis.url, "ROOM_FANOUT_CHANNEL": f"test-room-{uuid.uuid4().hex[:8]}", **FAST_PRESENCE}
    session = await database_sync_to_async(make_session)(people)
    host_cookie, amina_cookie = await database_sync_to_async(_cookies)(people.tanaka, people.amina)
    a = await asyncio.to_thread(server_process_factory, **env)
    b = await asyncio.to_thread(server_process_factory, **env)
    host = Client(a.port, session.pk, host_cookie)
    amina = Client(b.port, session.pk, amina_cookie)
    await host.open()
    await amina.open()

    # B stalls right after amina's snapshot (before it records her presence), long enough
    # for A to declare it dead (TTL 3 s, sweep every 1 s).
    assert b.process is not None
    os.kill(b.process.pid, signal.SIGSTOP)
    try:
        await asyncio.sleep(5)
    finally:
        os.kill(b.process.pid, signal.SIGCONT)

    def amina_joined(m: dict[str, Any]) -> bool:
        return m["type"] == "presence" and any(c["user_id"] == people.amina.pk for c in m["data"]["joined"])

    def amina_left(m: dict[str, Any]) -> bool:
        return m["type"] == "presence" and people.amina.pk in m["data"]["left"]

    # Whatever the host saw meanwhile, amina is in the room once B is back.
    await host.next(amina_joined, timeout=10)
    presence = [m for m in host.seen if amina_joined(m) or amina_left(m)]
    assert amina_joined(presence[-1])

    # And when B really dies, she leaves.
    await asyncio.to_thread(b.kill)
    await host.next(amina_left, timeout=10)
    await host.ws.close()
