"""The school's report: how many of a school's students took part, in what, with whom.

For a school's coordinators, over a period. Everything is aggregated in the database
(a handful of grouped queries, whatever the school's size): a school of 5,000 students
with 200,000 attendance records renders well under half a second on PostgreSQL
(bench/school_report.py). Learners are a school's active students and trainees.

- participants: learners with at least one activity in the period (a session attended,
  a course completed): the "every student" measure is participants / enrolled;
- by activity kind: participants, sessions and hours per session kind, and courses;
- reached: the other schools (and their countries) whose sessions the learners attended
  or whose people were in those sessions;
- hours: time present in sessions (each attendance stretch, an open one up to the
  session's end);
- completion: courses completed and certificates issued in the period.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _
from django_countries import countries

from courses.curriculum.selectors import courses_completed
from server.people.errors import PermissionRefused
from server.people.models import Institution, Membership, Role, User
from server.people.selectors import user_can_manage_institution
from sessions.models import Attendance, Certificate, LiveSession, SessionKind

LEARNER_ROLES = (Role.STUDENT, Role.TRAINEE)


@dataclass(frozen=True)
class KindRow:
    kind: str
    label: str
    participants: int
    activities: int
    hours: float


@dataclass
class SchoolReport:
    institution: Institution
    since: dt.date
    until: dt.date
    enrolled: int = 0
    participants: int = 0
    hours: float = 0.0
    by_kind: list[KindRow] = field(default_factory=list)
    schools_reached: list[tuple[str, str]] = field(default_factory=list)  # (name, country code)
    countries_reached: list[tuple[str, int]] = field(default_factory=list)  # (country code, schools)
    courses_completed: int = 0
    course_completers: int = 0
    certificates: int = 0
    by_month: list[tuple[dt.date, int]] = field(default_factory=list)

    @property
    def share(self) -> float:
        return self.participants / self.enrolled if self.enrolled else 0.0

    @property
    def percent(self) -> int:
        return round(self.share * 100)


def report_can_view(*, user: User, institution: Institution) -> bool:
    """Coordinators of the school (and staff): nobody else sees its students' numbers."""
    return user_can_manage_institution(user=user, institution=institution)


def _learners(institution: Institution) -> QuerySet:
    return Membership.objects.filter(institution=institution, is_active=True, role__in=LEARNER_ROLES).values("user_id")


def _bounds(since: dt.date, until: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(since, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return start, end


def school_report(*, user: User, institution: Institution, since: dt.date, until: dt.date) -> SchoolReport:
    """The report for `institution` over [since, until] (whole days, the viewer's time zone)."""
    if not report_can_view(user=user, institution=institution):
        raise PermissionRefused(_("Only the school's coordinators see its report."), code="not_found")
    return school_report_build(institution=institution, since=since, until=until)


def school_report_build(*, institution: Institution, since: dt.date, until: dt.date) -> SchoolReport:
    """The numbers, without the permission check (the benchmark and tests call it directly)."""
    start, end = _bounds(since, until)
    report = SchoolReport(institution=institution, since=since, until=until)
    learners = _learners(institution)
    report.enrolled = Membership.objects.filter(institution=institution, is_active=True, role__in=LEARNER_ROLES).values("user_id").distinct().count()

    attendance = Attendance.objects.filter(user_id__in=learners, joined_at__gte=start, joined_at__lt=end)
    labels = dict(SessionKind.choices)
    by_kind, by_month, attendees, total = _activity_totals(attendance)
    for kind, participants, activities, time in by_kind:
        report.by_kind.append(KindRow(
            kind=kind, label=str(labels.get(kind, kind)), participants=participants, activities=activities,
            hours=round(time.total_seconds() / 3600, 1),
        ))
    report.hours = round(total.total_seconds() / 3600, 1)
    report.by_month = by_month

    completions = [c for c in courses_completed(user_ids=learners) if c.completed_at and start <= c.completed_at < end]
    report.courses_completed = len(completions)
    report.course_completers = len({c.user_id for c in completions})
    if completions:
        report.by_kind.append(KindRow(kind="course", label=_("Courses completed"), participants=report.course_completers,
                                      activities=len({c.course_id for c in completions}), hours=0.0))

    # Learners who completed a course but attended nothing count too.
    completers = {c.user_id for c in completions}
    attending_completers = set(attendance.filter(user_id__in=completers).order_by().values_list("user_id", flat=True).distinct()) if completers else set()
    report.participants = attendees + len(completers - attending_completers)

    sessions = attendance.order_by().values("session_id")
    hosts = LiveSession.objects.filter(pk__in=sessions).order_by().values("institution_id")
    met = Attendance.objects.filter(session_id__in=sessions).order_by().values("user_id")
    schools_met = Membership.objects.filter(is_active=True, user_id__in=met).order_by().values("institution_id")
    reached = (
        Institution.objects.filter(Q(pk__in=hosts) | Q(pk__in=schools_met)).exclude(pk=institution.pk)
        .order_by("name").values_list("name", "country")
    )
    report.schools_reached = [(name, str(code)) for name, code in reached]
    per_country: dict[str, int] = {}
    for _name, code in report.schools_reached:
        per_country[code] = per_country.get(code, 0) + 1
    report.countries_reached = sorted(per_country.items(), key=lambda pair: (-pair[1], pair[0]))

    report.certificates = Certificate.objects.filter(user_id__in=learners, issued_at__gte=start, issued_at__lt=end).count()
    return report


def _month(value: Any) -> dt.date:
    if isinstance(value, str):  # SQLite returns the truncated timestamp as text
        value = dt.datetime.fromisoformat(value)
    return value.date() if isinstance(value, dt.datetime) else value


def _activity_totals(attendance: QuerySet) -> tuple[list[tuple[str, int, int, dt.timedelta]], list[tuple[dt.date, int]], int, dt.timedelta]:
    """(per kind: participants, sessions, time), (per month: participants), participants, time.

    Three grouped queries over the same rows. Tried on PostgreSQL and slower on the
    benchmark: one pass with GROUPING SETS, and grouping per person before counting
    (DISTINCT spills past the default work_mem), so neither is used.
    """
    length = ExpressionWrapper(Coalesce("left_at", "session__ends_at") - F("joined_at"), output_field=DurationField())
    rows = attendance.order_by().annotate(kind=F("session__kind"), spent=length)
    kinds = [
        (row["kind"], row["participants"], row["activities"], row["time"] or dt.timedelta())
        for row in rows.values("kind").annotate(
            participants=Count("user_id", distinct=True), activities=Count("session_id", distinct=True), time=Sum("spent"),
        ).order_by("kind")
    ]
    by_month = attendance.order_by().annotate(month=TruncMonth("joined_at")).values("month")
    months = [(_month(row["month"]), row["n"]) for row in by_month.annotate(n=Count("user_id", distinct=True)).order_by("month")]
    participants = attendance.order_by().values("user_id").distinct().count()
    return kinds, months, participants, sum((k[3] for k in kinds), dt.timedelta())


def school_report_stock(*, institution: Institution, since: dt.date, until: dt.date, limit: int | None = None) -> SchoolReport:
    """The same headline numbers the way ORM code usually grows: a loop over the students.

    Kept for the benchmark only (bench/school_report.py measures it beside the SQL one,
    on the first `limit` students).
    """
    start, end = _bounds(since, until)
    report = SchoolReport(institution=institution, since=since, until=until)
    members = Membership.objects.filter(institution=institution, is_active=True, role__in=LEARNER_ROLES).select_related("user").order_by("pk")
    if limit is not None:
        members = members[:limit]
    kinds: dict[str, set[int]] = {}
    hours: dict[str, float] = {}
    schools: set[int] = set()
    for membership in members:
        report.enrolled += 1
        took_part = False
        for stretch in Attendance.objects.filter(user=membership.user, joined_at__gte=start, joined_at__lt=end).select_related("session"):
            took_part = True
            kinds.setdefault(stretch.session.kind, set()).add(membership.user_id)
            left = stretch.left_at or stretch.session.ends_at
            hours[stretch.session.kind] = hours.get(stretch.session.kind, 0.0) + (left - stretch.joined_at).total_seconds() / 3600
            if stretch.session.institution_id != institution.pk:
                schools.add(stretch.session.institution_id)
        report.participants += took_part
    report.hours = round(sum(hours.values()), 1)
    report.by_kind = [KindRow(kind=k, label=k, participants=len(v), activities=0, hours=round(hours[k], 1)) for k, v in sorted(kinds.items())]
    report.schools_reached = [(s.name, str(s.country)) for s in Institution.objects.filter(pk__in=schools)]
    return report


def country_name(code: str) -> str:
    return str(dict(countries).get(code, code))
