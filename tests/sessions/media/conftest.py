"""Media through the real path: room socket → signalling handlers → channel layer → worker.

`MediaClient` is a participant's browser played by aiortc: it talks to the room socket
exactly as media.js does (media.offer / media.answer / media.candidate ...), and answers
the server's offers on its own.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import av
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError
from channels.layers import get_channel_layer

from sessions.media.tap import IceRestriction, restrict_ice
from tests.sessions.room.conftest import Socket, make_session, open_socket  # noqa: F401

LOOPBACK = IceRestriction(("127.0.0.1",))


@pytest.fixture(autouse=True)
def media_settings(settings):
    settings.MEDIA_ICE_HOST_ADDRESSES = ["127.0.0.1"]
    settings.MEDIA_WORKER_IN_PROCESS = True
    settings.ROOM_PRESENCE_COALESCE_SECONDS = 0.02
    from sessions.room.ratelimit import limiter

    limiter._buckets.clear()


@pytest.fixture
async def media_worker():
    """Stop the embedded worker, the fan-out node and the in-memory layer after the test."""
    from sessions.media.embedded import stop_in_process_workers
    from sessions.room import fanout

    yield
    await stop_in_process_workers()
    await fanout.node_shutdown()
    layer = get_channel_layer()
    if type(layer).__name__ == "InMemoryChannelLayer":  # never flush a shared Redis
        await layer.flush()


class MediaClient:
    """One person's browser: a room socket and an aiortc peer connection."""

    def __init__(self, user: Any, session_id: int) -> None:
        self.user = user
        self.session_id = session_id
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.socket: Socket | None = None
        self.messages: list[dict[str, Any]] = []
        self.decoded: Counter[str] = Counter()
        self.frame_sizes: set[tuple[int, int]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._counter = 0
        self.pc.on("track", lambda track: self._tasks.append(asyncio.ensure_future(self._consume(track))))

    async def connect(self) -> "MediaClient":
        self.socket = await open_socket(self.user, self.session_id)
        self._tasks.append(asyncio.ensure_future(self._pump()))
        return self

    async def reconnect(self) -> None:
        """The room socket drops and comes back (a new channel); the peer connection stays."""
        assert self.socket is not None
        await self.socket.close()
        self.socket = await open_socket(self.user, self.session_id)
        self._tasks.append(asyncio.ensure_future(self._pump()))

    @property
    def snapshot(self) -> dict[str, Any]:
        assert self.socket is not None and self.socket.snapshot is not None
        return self.socket.snapshot

    async def send(self, type: str, **fields: Any) -> str:
        self._counter += 1
        client_id = f"{self.user.username}-{self._counter}"
        assert self.socket is not None
        await self.socket.send({"type": type, "id": client_id, **fields})
        return client_id

    async def _pump(self) -> None:
        assert self.socket is not None
        while True:
            try:
                raw = await self.socket.communicator.receive_from(timeout=3600)
            except Exception:
                return
            message = json.loads(raw)
            self.messages.append(message)
            if message.get("type") == "media.offer":
                try:
                    await self.pc.setRemoteDescription(RTCSessionDescription(sdp=message["sdp"], type="offer"))
                    restrict_ice(self.pc, LOOPBACK)
                    await self.pc.setLocalDescription(await self.pc.createAnswer())
                    await self.send("media.answer", sdp=self.pc.localDescription.sdp)
                except Exception as exc:  # recorded for the test to see
                    self.messages.append({"type": "client.failure", "error": repr(exc)})

    async def _consume(self, track: Any) -> None:
        try:
            while True:
                frame = await track.recv()
                if isinstance(frame, av.VideoFrame):
                    self.frame_sizes.add((frame.width, frame.height))
                self.decoded[track.kind] += 1
        except MediaStreamError:
            pass

    async def offer(self, *tracks: Any, data_channel: bool = False) -> str:
        """Send an offer with `tracks` (or only a data channel); return its message id."""
        for track in tracks:
            self.pc.addTrack(track)
        if not tracks or data_channel:
            self.pc.createDataChannel("control")
        restrict_ice(self.pc, LOOPBACK)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return await self.send("media.offer", sdp=self.pc.localDescription.sdp)

    async def join(self, *tracks: Any) -> dict[str, Any]:
        """Offer and apply the answer (the client always makes the first offer)."""
        client_id = await self.offer(*tracks)
        reply = await self.expect(lambda m: m.get("reply_to") == client_id and m["type"] in ("media.answer", "media.error"))
        if reply["type"] == "media.answer":
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
        return reply

    async def move(self, *tracks: Any, kinds: list[str] | None = None) -> dict[str, Any]:
        """What media.js does on `media.moved`: a new peer connection, the same offer and subscriptions."""
        await self.pc.close()
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.on("track", lambda track: self._tasks.append(asyncio.ensure_future(self._consume(track))))
        self.decoded.clear()
        reply = await self.join(*tracks)
        if kinds:
            await self.send("media.subscribe", publisher="*", kinds=kinds)
        return reply

    async def expect(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen = 0
        while loop.time() < deadline:
            for message in self.messages[seen:]:
                if predicate(message):
                    return message
            seen = len(self.messages)
            await asyncio.sleep(0.02)
        raise AssertionError(f"expected message did not arrive; got {[m.get('type') for m in self.messages]}")

    async def expect_type(self, type: str, timeout: float = 10) -> dict[str, Any]:
        return await self.expect(lambda m: m.get("type") == type, timeout)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.pc.close()
        if self.socket is not None:
            try:
                await self.socket.close()
            except Exception:
                pass


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@pytest.fixture
async def clients():
    """`await clients(user, session_id)` → a connected MediaClient; all closed at teardown."""
    opened: list[MediaClient] = []

    async def open_client(user: Any, session_id: int) -> MediaClient:
        client = MediaClient(user, session_id)
        opened.append(client)
        return await client.connect()

    yield open_client
    for client in opened:
        await client.close()


def silent_audio() -> AudioStreamTrack:
    return AudioStreamTrack()
