"""How much of a session a person was present for, from their attendance stretches.

A person may leave and come back (several `Attendance` rows); the stretches may overlap
(two tabs). Presence is the length of their union, clipped to the session's span: the
room's actual start and end when the room recorded them, else the scheduled times.
A stretch still open (no `left_at`) counts up to the session's end.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime


def presence_seconds(*, span: tuple[datetime, datetime], stretches: Iterable[tuple[datetime, datetime | None]]) -> float:
    start, end = span
    clipped = sorted(
        (max(joined, start), min(left or end, end)) for joined, left in stretches
    )
    total = 0.0
    current_start: datetime | None = None
    current_end: datetime | None = None
    for a, b in clipped:
        if b <= a:
            continue
        if current_end is None or a > current_end:
            if current_start is not None and current_end is not None:
                total += (current_end - current_start).total_seconds()
            current_start, current_end = a, b
        elif b > current_end:
            current_end = b
    if current_start is not None and current_end is not None:
        total += (current_end - current_start).total_seconds()
    return total


def presence_percent(*, span: tuple[datetime, datetime], stretches: Iterable[tuple[datetime, datetime | None]]) -> int:
    """Whole percent of the span covered (rounded down, so 74.9% is not 75%)."""
    length = (span[1] - span[0]).total_seconds()
    if length <= 0:
        return 0
    return min(100, int(presence_seconds(span=span, stretches=stretches) * 100 // length))
