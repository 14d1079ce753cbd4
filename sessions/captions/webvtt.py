"""A recording's captions as WebVTT: the caption lines of the room, timed from its start.

Why from the stored events: every finished line is a room event with its time, so the
captions of any stretch of the session (a recording, or its recovered part) are a query,
and nothing needs to be written while the session runs. A cue lasts until the next line,
at least one second and at most seven (a reader's pace).
"""

from __future__ import annotations

import datetime as dt

from sessions.models import RoomEvent

MIN_CUE = dt.timedelta(seconds=1)
MAX_CUE = dt.timedelta(seconds=7)


def _stamp(offset: dt.timedelta) -> str:
    millis = max(0, int(offset.total_seconds() * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def _escape(text: str) -> str:
    return text.replace("-->", "→").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def captions_webvtt(*, session_id: int, start: dt.datetime, end: dt.datetime | None = None) -> str:
    """WebVTT of the caption lines from `start` (time 0) to `end`; each cue names its writer."""
    lines = RoomEvent.objects.filter(session_id=session_id, type="caption.line", created_at__gte=start)
    if end is not None:
        lines = lines.filter(created_at__lte=end)
    rows = list(lines.order_by("seq").values_list("created_at", "payload"))
    out = ["WEBVTT", ""]
    for index, (at, payload) in enumerate(rows):
        following = rows[index + 1][0] if index + 1 < len(rows) else at + MAX_CUE
        until = min(max(following, at + MIN_CUE), at + MAX_CUE)
        out += [str(index + 1), f"{_stamp(at - start)} --> {_stamp(until - start)}",
                f"<v {_escape(str(payload.get('name', '')))}>{_escape(str(payload.get('text', '')))}", ""]
    return "\n".join(out)
