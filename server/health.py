"""`/healthz`: is the database, the channel layer and file storage reachable?

Load balancers and the operator read it; 503 when any part is down, so a process that
lost Redis is taken out of rotation instead of silently dropping room events.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.core.files.storage import storages
from django.db import connection
from django.http import HttpRequest
from ninja import NinjaAPI, Schema, Status

logger = logging.getLogger(__name__)

health_api = NinjaAPI(title="OpenRounds health", version="1", urls_namespace="health", docs_url=None, openapi_url=None)

CHECK_TIMEOUT_SECONDS = 3.0


class Component(Schema):
    ok: bool
    backend: str
    error: str | None = None


class Health(Schema):
    ok: bool
    database: Component
    channel_layer: Component
    storage: Component


def _database_check() -> Component:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return Component(ok=True, backend=connection.vendor)
    except Exception as error:  # noqa: BLE001 - any failure means "down"
        return Component(ok=False, backend=connection.vendor, error=type(error).__name__)
    finally:
        # This runs in a worker thread that no request cycle cleans up after.
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()


async def _channel_layer_check() -> Component:
    layer = get_channel_layer()
    backend = type(layer).__module__ + "." + type(layer).__name__
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            channel = await layer.new_channel("healthz.")
            token = uuid.uuid4().hex
            await layer.send(channel, {"type": "healthz.ping", "token": token})
            message = await layer.receive(channel)
        if message.get("token") != token:
            return Component(ok=False, backend=backend, error="round trip returned another message")
        return Component(ok=True, backend=backend)
    except Exception as error:  # noqa: BLE001
        return Component(ok=False, backend=backend, error=type(error).__name__ or "timeout")


def _storage_check() -> Component:
    storage = storages["default"]
    backend = type(storage).__module__ + "." + type(storage).__name__
    try:
        storage.exists("healthz/probe")
        return Component(ok=True, backend=backend)
    except Exception as error:  # noqa: BLE001
        return Component(ok=False, backend=backend, error=type(error).__name__)


@health_api.get("/healthz", response={200: Health, 503: Health}, auth=None)
async def healthz(request: HttpRequest) -> Status[Health]:
    database, layer, storage = await asyncio.gather(
        sync_to_async(_database_check, thread_sensitive=True)(),
        _channel_layer_check(),
        sync_to_async(_storage_check, thread_sensitive=False)(),
    )
    health = Health(ok=database.ok and layer.ok and storage.ok, database=database, channel_layer=layer, storage=storage)
    if not health.ok:
        logger.warning("healthz: down database=%s layer=%s storage=%s", database.ok, layer.ok, storage.ok)
    return Status(200 if health.ok else 503, health)
