"""The one way a scheduling write tells others: one event per write, after commit.

Every service that changes what others see (a session created, changed, cancelled,
started or ended; a registration; a recommendation) calls `scheduling_event_on_commit`.
After the transaction commits the event is logged (ids only, never text bodies) and sent
to the channel-layer group `session_group_name(session_id)`, so an open room can react
(e.g. show "cancelled"). A broken channel layer never undoes a committed write.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from django.db import transaction

logger = logging.getLogger(__name__)

#: Event names, stable: subscribers match on them.
EVENTS = frozenset(
    {
        "session.created",
        "session.updated",
        "session.cancelled",
        "session.started",
        "session.ended",
        "registration.changed",
        "recommendation.created",
        "reflection.saved",
    }
)


def session_group_name(session_id: int) -> str:
    """Channel-layer group that receives the scheduling events of one session."""
    return f"schedule.session.{session_id}"


def scheduling_event_on_commit(*, name: str, session_id: int, data: dict[str, Any] | None = None) -> None:
    """Queue event `name` about session `session_id` for after the current transaction.

    `data` holds ids and states only (no free text). Outside a transaction the event
    goes out at once.
    """
    if name not in EVENTS:
        raise ValueError(f"unknown scheduling event {name!r}")
    payload = {"type": "schedule.event", "event": name, "session_id": session_id, **(data or {})}

    def send() -> None:
        logger.info("session %s event %s %s", session_id, name, {k: v for k, v in (data or {}).items()})
        try:
            from channels.layers import get_channel_layer

            layer = get_channel_layer()
            if layer is not None:
                async_to_sync(layer.group_send)(session_group_name(session_id), payload)
        except Exception:  # the write is committed; a layer outage only loses the live notice
            logger.warning("session %s event %s not sent to the channel layer", session_id, name, exc_info=True)

    transaction.on_commit(send)
