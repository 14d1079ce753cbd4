"""Helpers for room tests: a live session, sockets for named people, and a clean fan-out node."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from sessions.models import Audience, LiveSession, SessionKind
from sessions.room import fanout
from sessions.routing import websocket_urlpatterns


@pytest.fixture(autouse=True)
def quick_room_timers(settings):
    """Coalescing windows short enough for tests to wait on them."""
    settings.ROOM_PRESENCE_COALESCE_SECONDS = 0.02
    settings.ROOM_POLL_COALESCE_SECONDS = 0.05
    from sessions.room.ratelimit import limiter

    limiter._buckets.clear()


@pytest.fixture
async def room_node():
    """Stop this process's fan-out node after the test (its loop ends with the test)."""
    yield
    await fanout.node_shutdown()
    from django.db import connections

    # The ORM thread of database_sync_to_async keeps its connection; close it so the
    # test database can be dropped.
    await database_sync_to_async(connections.close_all)()


def make_session(people: Any, *, host: Any = None, **fields: Any) -> LiveSession:
    host = host or people.tanaka
    now = timezone.now()
    values: dict[str, Any] = {
        "kind": SessionKind.CASE_CONFERENCE, "title": "Chest pain in a 54-year-old", "host": host, "presenter": host,
        "institution": host.primary_membership().institution, "starts_at": now - timedelta(minutes=5),
        "ends_at": now + timedelta(hours=1), "audience": Audience.EVERYONE, "capacity": 100,
    }
    values.update(fields)
    return LiveSession.objects.create(**values)


@pytest.fixture
def live(people) -> LiveSession:
    """A case conference hosted by Prof. Tanaka, open to everyone, started 5 minutes ago."""
    return make_session(people)


class Socket:
    """A participant's socket with small conveniences around WebsocketCommunicator."""

    def __init__(self, communicator: WebsocketCommunicator, user: Any) -> None:
        self.communicator = communicator
        self.user = user
        self.snapshot: dict[str, Any] | None = None
        self._counter = 0
        self.backlog: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any] | str) -> None:
        if isinstance(message, dict):
            await self.communicator.send_to(text_data=json.dumps(message))
        else:
            await self.communicator.send_to(text_data=message)

    async def call(self, type: str, **fields: Any) -> dict[str, Any]:
        """Send a message with a fresh id and return its ack or error (skipping broadcasts)."""
        self._counter += 1
        client_id = fields.pop("id", f"{self.user.username}-{self._counter}")
        await self.send({"type": type, "id": client_id, **fields})
        return await self.expect(lambda m: m.get("id") == client_id and m["type"] in ("ack", "error"))

    async def receive(self, timeout: float = 2) -> dict[str, Any]:
        return json.loads(await self.communicator.receive_from(timeout=timeout))

    async def expect(self, predicate: Any, timeout: float = 3) -> dict[str, Any]:
        """The first message matching `predicate`; others are kept for later expects."""
        for index, message in enumerate(self.backlog):
            if predicate(message):
                del self.backlog[index]
                return message
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError("expected message did not arrive")
            message = await self.receive(timeout=left)
            if predicate(message):
                return message
            self.backlog.append(message)

    async def expect_type(self, type: str, timeout: float = 3) -> dict[str, Any]:
        return await self.expect(lambda m: m.get("type") == type, timeout=timeout)

    async def nothing(self, timeout: float = 0.2) -> bool:
        return await self.communicator.receive_nothing(timeout=timeout)

    async def closed_with(self, timeout: float = 3) -> int | None:
        """Read until the server closes; return the close code."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            output = await self.communicator.receive_output(timeout=deadline - loop.time())
            if output["type"] == "websocket.close":
                return output.get("code")
            if output.get("text"):
                self.backlog.append(json.loads(output["text"]))
        raise AssertionError("socket was not closed")

    async def close(self) -> None:
        await self.communicator.disconnect()


async def open_socket(user: Any, session_id: int, *, query: str = "", expect_snapshot: bool = True) -> Socket:
    """Connect `user` to the room (scope user injected, as AuthMiddleware would)."""
    path = f"/ws/sessions/{session_id}/" + (f"?{query}" if query else "")
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    sock = Socket(communicator, user)
    if expect_snapshot:
        sock.snapshot = await sock.expect_type("snapshot")
    return sock


@database_sync_to_async
def db(fn, *args, **kwargs):
    return fn(*args, **kwargs)
