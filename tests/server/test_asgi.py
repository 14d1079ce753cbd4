"""Every WebSocket needs a signed-in user and one of our own origins."""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator

from server.asgi import application


@pytest.mark.django_db(transaction=True)
async def test_anonymous_websocket_is_refused():
    communicator = WebsocketCommunicator(application, "/ws/sessions/1/", headers=[(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")])
    connected, code = await communicator.connect()
    assert not connected
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_websocket_with_foreign_origin_is_refused():
    communicator = WebsocketCommunicator(application, "/ws/sessions/1/", headers=[(b"origin", b"https://evil.example"), (b"host", b"127.0.0.1:8000")])
    connected, _ = await communicator.connect()
    assert not connected
    await communicator.disconnect()
