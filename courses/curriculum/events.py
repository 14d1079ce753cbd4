"""The one way a course write tells the rest of the platform what changed.

Every service that changes something others see (a course's outline, its publication)
calls `course_event_emit` once. The event leaves only after the transaction commits, so
nobody is told about a change that was rolled back. Listeners connect to `course_event`
(a plain Django signal: notifications, caches, an open course page's refresh).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

#: Sent with `kind` (e.g. "course.published"), `course_id` and `data` (ids only, no text).
course_event = Signal()


def course_event_emit(*, kind: str, course_id: int, data: dict[str, Any] | None = None) -> None:
    """Send `course_event` after the current transaction commits (at once outside one)."""
    payload = dict(data or {})

    def send() -> None:
        logger.info("course %s event %s", course_id, kind)
        course_event.send(sender=None, kind=kind, course_id=course_id, data=payload)

    transaction.on_commit(send)
