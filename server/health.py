"""`/healthz`: is the database, the channel layer and file storage reachable?

Load balancers and the operator read it; 503 when any part is down, so a process that
lost Redis is taken out of rotation instead of silently dropping room events.

Everyone gets the status code and one plain word per component (`up` / `down`). The
backend classes and error class names (which tell an attacker what runs here) and the
live media workers only go to staff signed in, or to a caller presenting
`settings.HEALTHZ_TOKEN` as `Authorization: Bearer <token>` (monitoring).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import uuid
from dataclasses import asdict
from typing import Any

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
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
    """What everyone sees: the verdict and a word per component."""

    ok: bool
    database: str
    channel_layer: str
    storage: str
    #: Only for staff or the monitoring token: backends, errors, media workers.
    details: dict[str, Any] | None = None


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


async def _may_see_details(request: HttpRequest) -> bool:
    token = str(getattr(settings, "HEALTHZ_TOKEN", "") or "")
    offered = request.headers.get("Authorization", "")
    if token and offered.startswith("Bearer ") and hmac.compare_digest(offered[7:].strip(), token):
        return True
    user = await request.auser()
    return bool(user.is_authenticated and user.is_staff)


async def _media_workers() -> dict[str, Any]:
    """The live media workers and their load (registry placement only)."""
    from sessions.media.placement import worker_registry
    from sessions.media.routing import placement_by_registry

    if not placement_by_registry():
        return {"placement": "embedded or static"}
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            alive = await worker_registry().alive()
    except Exception as error:  # noqa: BLE001
        return {"placement": "registry", "error": type(error).__name__}
    return {"placement": "registry", "live": [{"id": w.id, "draining": w.draining, **asdict(w.load)} for w in alive]}


def _word(component: Component) -> str:
    return "up" if component.ok else "down"


@health_api.get("/healthz", response={200: Health, 503: Health}, auth=None)
async def healthz(request: HttpRequest) -> Status[Health]:
    database, layer, storage = await asyncio.gather(
        sync_to_async(_database_check, thread_sensitive=True)(),
        _channel_layer_check(),
        sync_to_async(_storage_check, thread_sensitive=False)(),
    )
    ok = database.ok and layer.ok and storage.ok
    details = None
    if await _may_see_details(request):
        details = {"database": database.dict(), "channel_layer": layer.dict(), "storage": storage.dict(),
                   "media_workers": await _media_workers()}
    health = Health(ok=ok, database=_word(database), channel_layer=_word(layer), storage=_word(storage), details=details)
    if not ok:
        logger.warning("healthz: down database=%s layer=%s storage=%s (%s %s %s)", database.ok, layer.ok, storage.ok,
                       database.error, layer.error, storage.error)
    return Status(200 if ok else 503, health)
