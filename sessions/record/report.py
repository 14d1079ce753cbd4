"""The school's report: how many of a school's students took part, in what, with whom.

For a school's coordinators, over a period. Everything is aggregated in the database,
whatever the school's size: on PostgreSQL the attendance numbers are one set-based
statement (`_ACTIVITY_SQL`), so the page needs 5 queries for its numbers (10 before).
A school of 5,000 students with 200,000 attendance records: less than half the CPU time
of the grouped COUNT(DISTINCT) queries it used before (bench/school_report.py; figures
in docs/benchmarks.md). Learners are a school's active students and trainees.

- participants: learners with at least one activity in the period (a session attended,
  a course completed): the "every student" measure is participants / enrolled;
- by activity kind: participants, sessions and hours per session kind, and courses;
- reached: the other schools (and their countries) whose sessions the learners attended
  or whose people were in those sessions;
- hours: time present in sessions (each attendance stretch, an open one up to the
  session's end);
- completion: courses completed (by the course's own criterion: every question set
  passed where it has sets, else every item done) and certificates issued in the period.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _
from django_countries import countries

from courses.assessment.selectors import course_completions
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
    """The numbers, without the permission check (the benchmark and tests call it directly).

    On PostgreSQL the attendance numbers come from one set-based statement
    (`_activity_postgresql`); elsewhere (the demo's SQLite), or for a period longer than
    `MAX_BITMASK_MONTHS`, from the portable ORM queries (`_activity_portable`). Both give
    the same report (tests/sessions/record/test_report.py compares them with a
    straightforward loop over the rows on both databases).
    """
    start, end = _bounds(since, until)
    report = SchoolReport(institution=institution, since=since, until=until)
    learners = _learners(institution)
    # By each course's own criterion (every question set passed, where it has sets), as the
    # course page, the portfolio and the course certificate count it.
    completions = [c for c in course_completions(user_ids=learners) if c.completed_at and start <= c.completed_at < end]
    completers = {c.user_id for c in completions}
    months = _month_starts(start, end)
    if USE_POSTGRESQL_AGGREGATE and connection.vendor == "postgresql" and len(months) <= MAX_BITMASK_MONTHS:
        activity = _activity_postgresql(institution, start, end, months, completers)
    else:
        activity = _activity_portable(institution, start, end, completers)

    labels = dict(SessionKind.choices)
    report.enrolled = activity.enrolled
    for kind, participants, activities, seconds in activity.by_kind:
        report.by_kind.append(KindRow(
            kind=kind, label=str(labels.get(kind, kind)), participants=participants, activities=activities,
            hours=round(seconds / 3600, 1),
        ))
    report.hours = round(sum(seconds for *_rest, seconds in activity.by_kind) / 3600, 1)
    report.by_month = activity.by_month

    report.courses_completed = len(completions)
    report.course_completers = len(completers)
    if completions:
        report.by_kind.append(KindRow(kind="course", label=_("Courses completed"), participants=report.course_completers,
                                      activities=len({c.course_id for c in completions}), hours=0.0))
    # Learners who completed a course but attended nothing count too.
    report.participants = activity.attendees + len(completers) - activity.attending_completers

    reached = (
        Institution.objects.filter(pk__in=activity.schools_reached).exclude(pk=institution.pk)
        .order_by("name").values_list("name", "country")
    )
    report.schools_reached = [(name, str(code)) for name, code in reached]
    per_country: dict[str, int] = {}
    for _name, code in report.schools_reached:
        per_country[code] = per_country.get(code, 0) + 1
    report.countries_reached = sorted(per_country.items(), key=lambda pair: (-pair[1], pair[0]))

    report.certificates = Certificate.objects.filter(user_id__in=learners, issued_at__gte=start, issued_at__lt=end).count()
    return report


#: Off only to measure the portable queries on PostgreSQL beside the set-based statement
#: (bench/school_report.py).
USE_POSTGRESQL_AGGREGATE = True
#: Months are bits of a bigint in the set-based statement; longer periods use the portable way.
MAX_BITMASK_MONTHS = 64


@dataclass
class _Activity:
    """What attendance gives the report: per kind (kind, participants, sessions, seconds
    present), per month (first day, participants), and the ids of the schools reached."""

    enrolled: int = 0
    attendees: int = 0
    attending_completers: int = 0
    by_kind: list[tuple[str, int, int, float]] = field(default_factory=list)
    by_month: list[tuple[dt.date, int]] = field(default_factory=list)
    schools_reached: set[int] = field(default_factory=set)


def _month_starts(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """The first instant of every month of [start, end) in the current time zone, the
    first one at or before `start` (so every instant of the period falls in one)."""
    tz = timezone.get_current_timezone()
    year, month = start.year, start.month
    starts: list[dt.datetime] = []
    while True:
        first = dt.datetime(year, month, 1, tzinfo=tz)
        if first >= end:
            return starts
        starts.append(first)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


#: One pass over the learners' attendance of the period, grouped twice at once (GROUPING
#: SETS): per learner (which kinds and which months they took part in, as bitmasks) and per
#: session (its kind, host school and the time present in it). Everything else is counted
#: from those ~(learners + sessions) rows: participants per kind and per month are the
#: learners with that bit set, sessions and hours per kind come from the session rows, and
#: the schools reached are the sessions' hosts and the schools of anyone who attended them.
#: Measured on the benchmark (5,000 learners, 180,000 of their 200,000 records in the
#: period): the separate COUNT(DISTINCT ...) queries sorted all the rows once per number and
#: spilled past work_mem (~260 ms together, ~120 ms more for the schools); this statement
#: hashes each row once (~170 ms in all). The learners are an inline subquery, not a CTE:
#: a CTE used twice is materialised and estimated at 200 rows, and the planner then probed
#: the attendance index once per learner (228 ms). "People met" stays a join limited to
#: other schools' memberships: as EXISTS per membership it was planned as a hash of every
#: attendance row (176 ms). Details in docs/benchmarks.md ("School report").
#: A session whose kind is no longer a SessionKind value (kept from before a kind was
#: renamed or dropped) has no bit (array_position gives NULL): its sessions, and the
#: learners who attended them, are counted under its raw kind by the two 'other_kind_*'
#: parts, which join back only those few sessions (nothing when there are none), so the
#: output is the portable path's, which groups by the raw kind.
_ACTIVITY_SQL = """
WITH grouped AS MATERIALIZED (
    SELECT GROUPING(r.user_id) AS per_session, r.user_id, r.session_id,
           bit_or(r.kind_bit) AS kinds, bit_or(r.month_bit) AS months,
           sum(r.seconds) AS seconds, min(r.kind) AS kind, min(r.host) AS host
    FROM (
        SELECT a.user_id, a.session_id, k.kind, s.institution_id AS host, 1 << (k.kind - 1) AS kind_bit,
               1::bigint << (width_bucket(a.joined_at, %(months)s::timestamptz[]) - 1) AS month_bit,
               date_part('epoch', COALESCE(a.left_at, s.ends_at) - a.joined_at) AS seconds
        FROM live_attendance a JOIN live_livesession s ON s.id = a.session_id,
             LATERAL (SELECT array_position(%(kinds)s::text[], s.kind::text) AS kind) k
        WHERE a.user_id IN (SELECT user_id FROM people_membership
                            WHERE institution_id = %(school)s AND is_active AND role = ANY(%(roles)s))
          AND a.joined_at >= %(start)s AND a.joined_at < %(end)s
    ) r
    GROUP BY GROUPING SETS ((r.user_id), (r.session_id))
), per_learner AS (
    SELECT user_id, kinds, months FROM grouped WHERE per_session = 0
), per_session AS (
    SELECT session_id, kind, host, seconds FROM grouped WHERE per_session = 1
)
SELECT 'enrolled'::text, NULL::text, count(DISTINCT user_id), NULL::float8 FROM people_membership
    WHERE institution_id = %(school)s AND is_active AND role = ANY(%(roles)s)
UNION ALL SELECT 'attendees', NULL, count(*), NULL FROM per_learner
UNION ALL SELECT 'attending_completers', NULL, count(*), NULL FROM per_learner WHERE user_id = ANY(%(completers)s::bigint[])
UNION ALL SELECT 'kind_participants', k.n::text, count(*), NULL
    FROM per_learner, generate_series(1, cardinality(%(kinds)s::text[])) AS k(n)
    WHERE kinds & (1 << (k.n - 1)) <> 0 GROUP BY k.n
UNION ALL SELECT 'month_participants', m.n::text, count(*), NULL
    FROM per_learner, generate_series(1, cardinality(%(months)s::timestamptz[])) AS m(n)
    WHERE months & (1::bigint << (m.n - 1)) <> 0 GROUP BY m.n
UNION ALL SELECT 'kind_sessions', kind::text, count(*), sum(seconds) FROM per_session WHERE kind IS NOT NULL GROUP BY kind
UNION ALL SELECT 'other_kind_sessions', s.kind::text, count(*), sum(p.seconds)
    FROM per_session p JOIN live_livesession s ON s.id = p.session_id WHERE p.kind IS NULL GROUP BY s.kind
UNION ALL SELECT 'other_kind_participants', s.kind::text, count(DISTINCT a.user_id), NULL
    FROM per_session p JOIN live_livesession s ON s.id = p.session_id JOIN live_attendance a ON a.session_id = p.session_id
    WHERE p.kind IS NULL AND a.joined_at >= %(start)s AND a.joined_at < %(end)s
      AND a.user_id IN (SELECT user_id FROM people_membership
                        WHERE institution_id = %(school)s AND is_active AND role = ANY(%(roles)s))
    GROUP BY s.kind
UNION ALL SELECT 'school', i.id::text, NULL, NULL FROM people_institution i
    WHERE i.id IN (SELECT host FROM per_session)
       OR i.id IN (SELECT m.institution_id FROM people_membership m JOIN live_attendance met ON met.user_id = m.user_id
                   WHERE m.is_active AND m.institution_id <> %(school)s
                     AND met.session_id IN (SELECT session_id FROM per_session))
"""


def _activity_postgresql(
    institution: Institution, start: dt.datetime, end: dt.datetime, months: list[dt.datetime], completers: set[int],
) -> _Activity:
    """The attendance numbers in one statement on PostgreSQL (see `_ACTIVITY_SQL`)."""
    kinds = [str(kind) for kind in SessionKind.values]
    params: dict[str, Any] = {
        "school": institution.pk, "roles": [str(role.value) for role in LEARNER_ROLES], "kinds": kinds, "months": months,
        "start": start, "end": end, "completers": sorted(completers),
    }
    with connection.cursor() as cursor:
        cursor.execute(_ACTIVITY_SQL, params)
        rows = cursor.fetchall()
    activity = _Activity()
    participants: dict[str, int] = {}
    sessions: dict[str, tuple[int, float]] = {}
    for part, key, count, seconds in rows:
        if part == "enrolled":
            activity.enrolled = count
        elif part == "attendees":
            activity.attendees = count
        elif part == "attending_completers":
            activity.attending_completers = count
        elif part == "kind_participants":
            participants[kinds[int(key) - 1]] = count
        elif part == "month_participants":
            activity.by_month.append((months[int(key) - 1].date(), count))
        elif part == "kind_sessions":
            sessions[kinds[int(key) - 1]] = (count, float(seconds or 0))
        elif part == "other_kind_sessions":  # a kind no longer in SessionKind: its raw value
            sessions[key] = (count, float(seconds or 0))
        elif part == "other_kind_participants":
            participants[key] = count
        elif part == "school":
            activity.schools_reached.add(int(key))
    activity.by_kind = [(kind, participants.get(kind, 0), n, seconds) for kind, (n, seconds) in sorted(sessions.items())]
    activity.by_month.sort()
    return activity


def _activity_portable(institution: Institution, start: dt.datetime, end: dt.datetime, completers: set[int]) -> _Activity:
    """The attendance numbers with the ORM, on any database: grouped queries with
    COUNT(DISTINCT ...), one per number (the way before `_ACTIVITY_SQL`; the demo's SQLite)."""
    learners = _learners(institution)
    activity = _Activity()
    activity.enrolled = Membership.objects.filter(institution=institution, is_active=True, role__in=LEARNER_ROLES).values("user_id").distinct().count()
    attendance = Attendance.objects.filter(user_id__in=learners, joined_at__gte=start, joined_at__lt=end)
    by_kind, activity.by_month, activity.attendees, _total = _activity_totals(attendance)
    activity.by_kind = [(kind, participants, activities, time.total_seconds()) for kind, participants, activities, time in by_kind]
    if completers:
        activity.attending_completers = attendance.filter(user_id__in=completers).order_by().values("user_id").distinct().count()
    sessions = attendance.order_by().values("session_id")
    hosts = LiveSession.objects.filter(pk__in=sessions).order_by().values("institution_id")
    met = Attendance.objects.filter(session_id__in=sessions).order_by().values("user_id")
    schools_met = Membership.objects.filter(is_active=True, user_id__in=met).order_by().values("institution_id")
    activity.schools_reached = set(Institution.objects.filter(Q(pk__in=hosts) | Q(pk__in=schools_met)).values_list("pk", flat=True))
    return activity


def _month(value: Any) -> dt.date:
    if isinstance(value, str):  # SQLite returns the truncated timestamp as text
        value = dt.datetime.fromisoformat(value)
    return value.date() if isinstance(value, dt.datetime) else value


def _activity_totals(attendance: QuerySet) -> tuple[list[tuple[str, int, int, dt.timedelta]], list[tuple[dt.date, int]], int, dt.timedelta]:
    """(per kind: participants, sessions, time), (per month: participants), participants, time.

    Three grouped queries over the same rows (the portable way; PostgreSQL uses
    `_ACTIVITY_SQL`). A GROUPING SETS pass that grouped by (kind, person), (kind,
    session) and (month, person) was no faster on PostgreSQL (~270-300 ms: four large
    hash tables, or sorts past work_mem); grouping by person alone, with the kinds and
    months as bitmasks, is what made one pass pay off.
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
