"""Where a media request goes: the channel of the worker that carries the media.

Why apart from the worker: the signalling handlers (any web process), the room's event
listener and `/healthz` all need to know where media lives, but must not import the
worker's SFU and recorders to find out. Three modes: embedded (`MEDIA_WORKER_IN_PROCESS`,
one worker inside this process on a channel of its own), registry (production: workers
announce themselves in Redis and each participant is placed by load, `placement.py`),
and static (`MEDIA_PLACEMENT=static`: `session_id % MEDIA_WORKER_COUNT` fixed channels).
"""

from __future__ import annotations

import uuid
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

from .placement import worker_registry

REQUEST = "media.request"


SIGNAL = "media.signal"


def media_channel_layer() -> Any:
    """The channel layer media messages travel on (a seam for tests)."""
    return get_channel_layer()


def media_setting(name: str, default: Any) -> Any:
    """A media setting (server/settings/base.py reads each from the environment)."""
    return getattr(settings, name, default)


def worker_count() -> int:
    return max(1, int(media_setting("MEDIA_WORKER_COUNT", 1)))


#: Embedded mode: this process's own worker channel. Unique, so processes that share a
#: Redis (tests, a misconfigured deploy) never take each other's media requests.
_LOCAL_CHANNEL = f"media-worker-local-{uuid.uuid4().hex[:12]}"


def worker_channel_for(session_id: int) -> str:
    """The channel of the worker that owns `session_id`'s media."""
    if worker_in_process():
        return _LOCAL_CHANNEL
    return worker_channel_of_index(session_id % worker_count())


def placement_by_registry() -> bool:
    """Whether sessions are placed by load through the Redis registry (production default).

    Not in the embedded mode (one process has one worker), not without Redis, and not
    with `MEDIA_PLACEMENT=static` (the fixed `session_id % MEDIA_WORKER_COUNT` spread).
    """
    return (not worker_in_process() and bool(media_setting("REDIS_URL", ""))
            and str(media_setting("MEDIA_PLACEMENT", "registry")).lower() != "static")


async def media_worker_channel(
    session_id: int, *, place: bool, participant: str | None = None, spread: bool = True, viewer: bool = False,
) -> str | None:
    """The channel of the worker carrying the media; None if no worker can.

    With ``participant``: the worker of that person's media (a session may span
    workers); without: the session's primary worker (recording, discard). ``place``
    chooses a worker when none carries it yet (an offer arrives); without it only an
    existing placement is returned (rights, discard). ``spread`` False keeps the whole
    session on its primary worker (a consult: clinical media never crosses a link).
    """
    if not placement_by_registry():
        return worker_channel_for(session_id)
    registry = worker_registry()
    if participant is not None:
        if place:
            info = await registry.place_participant(session_id, participant, spread=spread, viewer=viewer)
        else:
            info = await registry.participant_on(session_id, participant)
        return info.channel if info is not None else None
    info = await registry.placed_on(session_id)
    if info is None and place:
        info = await registry.place(session_id)
    return info.channel if info is not None else None


def worker_in_process() -> bool:
    value = media_setting("MEDIA_WORKER_IN_PROCESS", True)
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off", "")
    return bool(value)


def worker_channel_of_index(index: int) -> str:
    base = str(media_setting("MEDIA_WORKER_CHANNEL", "media-worker"))
    return base if worker_count() == 1 else f"{base}-{index}"

