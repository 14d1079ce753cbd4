"""The one way a library write tells the rest of the platform what changed.

Every service that changes what others see (a material contributed, edited, given a
new file, withdrawn) calls `material_event_emit` once. The event leaves only after the
transaction commits, so nobody hears of a change that was rolled back. Listeners connect
to `material_event` (a plain Django signal: courses refreshing an outline, notices).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

#: Sent with `kind` (e.g. "material.created"), `material_id` and `data` (ids and numbers only).
material_event = Signal()

KINDS = frozenset({"material.created", "material.updated", "material.withdrawn"})


def material_event_emit(*, kind: str, material_id: int, data: dict[str, Any] | None = None) -> None:
    """Send `material_event` after the current transaction commits (at once outside one)."""
    if kind not in KINDS:
        raise ValueError(f"unknown library event {kind!r}")
    payload = dict(data or {})

    def send() -> None:
        logger.info("material %s event %s %s", material_id, kind, payload)
        material_event.send(sender=None, kind=kind, material_id=material_id, data=payload)

    transaction.on_commit(send)
