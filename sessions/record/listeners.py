"""When certificates are issued: as a session's room ends and as a learner passes a course.

A course is passed at one of three writes, each told by a `course_event` with the
learner's id: an attempt recorded (`course.attempt_submitted`, also when an offline
attempt is synced later), a short answer marked (`course.answer_marked`, which may turn a
pending attempt into a pass), or an item marked done (`progress.done`, for courses
without question sets).

Both run after the write that triggers them has committed; a failure here is logged and
never undoes it (the backfill command `manage.py certificates_backfill`, and the
student's own certificates page, issue anything missed).
"""

from __future__ import annotations

import logging
from typing import Any

from courses.curriculum.events import course_event
from sessions.room.events import room_event_listener

from .services import certificates_issue_for_course, certificates_issue_for_session

logger = logging.getLogger(__name__)


@room_event_listener("room.ended")
def certificates_on_room_ended(*, session_id: int, **_: Any) -> None:
    certificates_issue_for_session(session_id=session_id)


#: The course events after which a learner may have passed the course.
PASSING_EVENTS = frozenset({"progress.done", "course.attempt_submitted", "course.answer_marked"})


def certificates_on_course_event(*, kind: str, course_id: int, data: dict[str, Any], **_: Any) -> None:
    if kind not in PASSING_EVENTS or "user_id" not in data:
        return
    try:
        certificates_issue_for_course(course_id=course_id, user_ids=[data["user_id"]])
    except Exception:  # the progress is saved; the certificate can be backfilled
        logger.exception("course %s: certificate not issued", course_id)


course_event.connect(certificates_on_course_event, dispatch_uid="sessions.record.certificates_on_course_event")
