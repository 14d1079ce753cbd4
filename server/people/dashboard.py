"""What the home page shows a signed-in person: their next sessions, new library material,
their courses and, for trainees and supervisors, their consults.

Each part is read through that part's own permission-checked selectors, so the home page
never shows what the person may not see.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from server.people.models import User


@dataclass
class Dashboard:
    upcoming_sessions: list = field(default_factory=list)
    new_materials: list = field(default_factory=list)
    courses: list = field(default_factory=list)
    consults: list = field(default_factory=list)
    matching_consult_requests: list = field(default_factory=list)


def dashboard_for(*, user: User, limit: int = 5) -> Dashboard:
    from courses.curriculum.selectors import courses_visible_to
    from courses.library.selectors import material_visible_to
    from sessions.consults.selectors import consult_requests_matching, consults_of_participant, user_is_supervisor
    from sessions.scheduling.selectors import user_schedule

    dashboard = Dashboard(
        upcoming_sessions=list(user_schedule(user=user)[:limit]),
        new_materials=list(
            material_visible_to(user).filter(withdrawn_at__isnull=True).select_related("institution").order_by("-created_at")[:limit]
        ),
        courses=list(courses_visible_to(user=user).order_by("-pk")[:limit]),
        consults=list(consults_of_participant(user=user)[:limit]),
    )
    if user_is_supervisor(user=user):
        dashboard.matching_consult_requests = list(consult_requests_matching(supervisor=user)[:limit])
    return dashboard
