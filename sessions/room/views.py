"""Pages of the live room: the room itself and the host's attendance export."""

from __future__ import annotations

import csv
import logging

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from server.people.errors import PermissionRefused
from server.people.http import AuthenticatedHttpRequest
from sessions.annotation.selectors import annotated_pages
from sessions.models import SessionStatus

from . import selectors
from .protocol import PROTOCOL_VERSION

logger = logging.getLogger(__name__)


@login_required
def room_page(request: AuthenticatedHttpRequest, session_id: int) -> HttpResponse:
    """The room page; the socket (not this view) decides lobby, lock and removal."""
    try:
        session = selectors.room_page_context(session_id=session_id, user=request.user)
    except PermissionRefused as exc:
        if exc.code == "not_found":
            raise Http404(exc.message) from None
        return render(request, "room/refused.html", {"message": exc.message}, status=403)
    if session.status in (SessionStatus.ENDED, SessionStatus.CANCELLED):
        record = selectors.room_record(session=session, user=request.user)
        # The view composes the parts: room selectors never import annotation's (no cycle).
        record["annotations"] = annotated_pages(session=session, user=request.user)
        return render(request, "room/record.html", {
            "session": session, "record": record, "breakout_reports": selectors.room_breakout_reports(session=session),
        })
    return render(
        request,
        "room/room.html",
        {
            "session": session,
            "socket_path": f"/ws/sessions/{session.pk}/",
            "protocol_version": PROTOCOL_VERSION,
            "is_host": request.user.pk == session.host_id,
        },
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


@login_required
def attendance_csv(request: AuthenticatedHttpRequest, session_id: int) -> StreamingHttpResponse | HttpResponse:
    """Join and leave times of everyone (UTC, ISO 8601), for the host."""
    session = selectors.room_session(session_id=session_id)
    if session is None:
        raise Http404(_("There is no such session."))
    try:
        rows = selectors.room_attendance(session=session, user=request.user)
    except PermissionRefused as exc:
        return HttpResponse(exc.message, status=403, content_type="text/plain; charset=utf-8")
    writer = csv.writer(_Echo())
    groups = selectors.room_breakout_groups(session=session)

    def lines():
        yield writer.writerow(["name", "username", "school", "country", "joined_at_utc", "left_at_utc", "minutes", "breakout_groups"])
        for row in rows:
            school, country = selectors.school_and_country(row.user)
            minutes = round((row.left_at - row.joined_at).total_seconds() / 60, 1) if row.left_at else ""
            yield writer.writerow([
                _csv_safe(row.user.name), row.user.username, _csv_safe(school), country,
                row.joined_at.isoformat(), row.left_at.isoformat() if row.left_at else "", minutes,
                _csv_safe(groups.get(row.user_id, "")),
            ])

    logger.info("session %s attendance exported by user %s", session.pk, request.user.pk)
    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="attendance-session-{session.pk}.csv"'
    return response


def _csv_safe(value: str) -> str:
    """Names cannot become spreadsheet formulas."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
