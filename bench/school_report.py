"""School report benchmark: a school of 5,000 students with 200,000 activity records.

    .venv/bin/python bench/school_report.py                  # PostgreSQL on 127.0.0.1
    .venv/bin/python bench/school_report.py --students 5000 --records 200000 --rounds 5

A throw-away PostgreSQL database (`openrounds_bench_record`, dropped afterwards) is
migrated and seeded with the demo people; then one school gets N students, 40 partner
schools host sessions of every kind over the past year, and R attendance records
(stretches of 20-90 minutes) are spread over the students and those sessions, with a
few course completions. Measured:

* the report page as its coordinator opens it (`GET /record/report/<id>/`, the whole
  view: permission, the SQL aggregates, the SVG charts, the template), p50 and p95 of
  `--rounds` runs after one warm-up, wall clock and CPU (this process + its PostgreSQL
  backend), with the number of SQL queries: the set-based statement the report uses on
  PostgreSQL beside the portable grouped queries it used before (and still uses on
  SQLite), taking turns in the same run, and whether both give the same report;
* the stock way beside it: the same headline numbers from a loop over the students
  (`school_report_stock`, one query per student and a session per record), on the first
  `--stock-students` students, and its time extrapolated to the whole school.

Everything is bounded (~1-2 minutes on 2 cores) and removed at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_BENCH_DB = "openrounds_bench_record"
AIM_MS = 500


def fill(students: int, records: int) -> tuple[int, int]:
    """The school, its students, partner schools, sessions and attendance. Returns (school id, coordinator id)."""
    from django.db import connection
    from django.utils import timezone

    from courses.models import Course, LearnerProgress, Material, Module, ModuleItem
    from server.people.demo import seed_people
    from server.people.models import Institution, Membership, Role, User
    from sessions.models import Attendance, LiveSession, SessionKind, SessionStatus

    rng = random.Random(16)
    seed_people()
    school = Institution.objects.create(name="Bench School of Medicine", country="KE", city="Nairobi", time_zone="Africa/Nairobi")
    coordinator = User.objects.create(username="bench-coordinator")
    Membership.objects.create(user=coordinator, institution=school, role=Role.COORDINATOR)
    users = User.objects.bulk_create([User(username=f"bench-student-{n}", password="!") for n in range(students)], batch_size=5000)
    Membership.objects.bulk_create([Membership(user=u, institution=school, role=Role.STUDENT) for u in users], batch_size=5000)
    countries = ["NG", "DE", "MW", "GH", "JP", "IN", "BR", "GB", "SN", "MZ", "FR", "PT", "EG", "MA", "ZA", "CA", "US", "TZ", "UG", "RW"]
    partners = Institution.objects.bulk_create([
        Institution(name=f"Partner school {n}", country=countries[n % len(countries)], city="City", time_zone="UTC") for n in range(40)
    ])
    hosts = User.objects.bulk_create([User(username=f"bench-host-{n}", password="!") for n in range(40)])
    Membership.objects.bulk_create([Membership(user=h, institution=p, role=Role.FACULTY) for h, p in zip(hosts, partners)])
    foreign = User.objects.bulk_create([User(username=f"bench-partner-student-{n}", password="!") for n in range(2000)], batch_size=5000)
    Membership.objects.bulk_create([Membership(user=u, institution=partners[n % 40], role=Role.STUDENT) for n, u in enumerate(foreign)])
    now = timezone.now()
    kinds = [SessionKind.LECTURE, SessionKind.CASE_CONFERENCE, SessionKind.PEER, SessionKind.CONSULT]
    sessions = []
    for n in range(4000):
        starts = now - dt.timedelta(minutes=rng.randrange(60, 365 * 24 * 60))
        host = hosts[n % 40]
        sessions.append(LiveSession(
            kind=kinds[n % 4], title=f"Session {n}", host=host, presenter=host, institution=partners[n % 40],
            starts_at=starts, ends_at=starts + dt.timedelta(minutes=90), status=SessionStatus.ENDED,
        ))
    sessions = LiveSession.objects.bulk_create(sessions, batch_size=2000)
    rows = []
    for n in range(records):
        session = sessions[rng.randrange(len(sessions))]
        user = users[rng.randrange(students)] if n % 10 else foreign[rng.randrange(len(foreign))]
        joined = session.starts_at + dt.timedelta(minutes=rng.randrange(0, 30))
        rows.append(Attendance(session=session, user=user, joined_at=joined, left_at=joined + dt.timedelta(minutes=rng.randrange(20, 90))))
        if len(rows) == 20000:
            Attendance.objects.bulk_create(rows)
            rows = []
    Attendance.objects.bulk_create(rows)
    course = Course.objects.create(title="Global health", owner=hosts[0], institution=partners[0], is_published=True)
    module = Module.objects.create(course=course, title="One")
    items = [ModuleItem.objects.create(module=module, material=Material.objects.create(kind="article", title=f"M{i}", contributed_by=hosts[0], institution=partners[0]), position=i) for i in range(3)]
    LearnerProgress.objects.bulk_create([
        LearnerProgress(user=u, item=item, status="done", completed_at=now - dt.timedelta(days=rng.randrange(1, 300)))
        for u in users[:1500] for item in items
    ], batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return school.pk, coordinator.pk


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(school_id: int, coordinator_id: int, rounds: int, stock_students: int) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from server.people.models import Institution, Membership, User
    from sessions.record import report as report_module
    from sessions.record.report import school_report_build, school_report_stock

    client = Client(HTTP_HOST="localhost")
    client.force_login(User.objects.get(pk=coordinator_id))
    url = f"/record/report/{school_id}/"
    # CPU time of this process and of the PostgreSQL backend serving it: on a shared
    # machine the wall clock also measures the neighbours (see library_search.py).
    from bench.library_search import backend_cpu_clock

    with connection.cursor() as cursor:
        # No parallel workers: their CPU would not be counted (and a busy server rarely has spare ones).
        cursor.execute("SET max_parallel_workers_per_gather = 0")
        cursor.execute("SELECT pg_backend_pid()")
        backend_cpu = backend_cpu_clock(cursor.fetchone()[0])
    # The set-based statement (now) and the portable grouped queries (before), measured
    # turn about in the same run so that both see the same neighbours.
    ways = {"set-based SQL (now)": True, "grouped ORM queries (before)": False}
    times: dict[str, list[float]] = {way: [] for way in ways}
    cpu: dict[str, list[float]] = {way: [] for way in ways}
    queries: dict[str, int] = {}
    for way, fast in ways.items():
        report_module.USE_POSTGRESQL_AGGREGATE = fast
        client.get(url)  # warm-up (templates, translations, plans)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        queries[way] = len(captured)
        if os.environ.get("BENCH_SHOW_QUERIES"):
            print(way)
            for query in sorted(captured.captured_queries, key=lambda q: -float(q["time"]))[:6]:
                print(f"  {float(query['time']) * 1000:.0f} ms: {query['sql'][:400]}")
    for _ in range(rounds):
        for way, fast in ways.items():
            report_module.USE_POSTGRESQL_AGGREGATE = fast
            started, started_cpu = time.perf_counter(), time.process_time() + backend_cpu()
            response = client.get(url, HTTP_ACCEPT_ENCODING="identity")
            times[way].append((time.perf_counter() - started) * 1000)
            cpu[way].append((time.process_time() + backend_cpu() - started_cpu) * 1000)
            assert response.status_code == 200
    report_module.USE_POSTGRESQL_AGGREGATE = True
    load = os.getloadavg()
    print(f"report page, {rounds} runs each, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (aim < {AIM_MS} ms), "
          f"{len(response.content) / 1024:.1f} KB:")
    for way in ways:
        print(f"  {way}: wall p50 {statistics.median(times[way]):.0f} ms, p95 {_percentile(times[way], 0.95):.0f} ms; "
              f"CPU (this process + its PostgreSQL backend) p50 {statistics.median(cpu[way]):.0f} ms, "
              f"p95 {_percentile(cpu[way], 0.95):.0f} ms; {queries[way]} SQL queries")
    school = Institution.objects.get(pk=school_id)
    today = timezone.localdate()
    numbers = {}
    for way, fast in ways.items():
        report_module.USE_POSTGRESQL_AGGREGATE = fast
        numbers[way] = school_report_build(institution=school, since=today - dt.timedelta(days=365), until=today)
    report_module.USE_POSTGRESQL_AGGREGATE = True
    now, before = numbers.values()
    same = all(getattr(now, name) == getattr(before, name) for name in (
        "enrolled", "participants", "hours", "by_kind", "by_month", "schools_reached", "countries_reached",
        "courses_completed", "certificates"))
    report = now
    print(f"  numbers: {report.participants}/{report.enrolled} students took part ({report.percent}%), "
          f"{report.hours} h, {len(report.schools_reached)} schools in {len(report.countries_reached)} countries, "
          f"{report.courses_completed} courses completed; both ways give the same report: {same}")
    if not stock_students:
        return
    students = Membership.objects.filter(institution=school, role="student").count()
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as stock_queries:
        stock = school_report_stock(institution=school, since=today - dt.timedelta(days=365), until=today, limit=stock_students)
    stock_ms = (time.perf_counter() - started) * 1000
    print(f"stock way (a loop over students): {stock_ms:.0f} ms for {stock_students} students, {len(stock_queries)} SQL queries "
          f"({stock.participants} took part); extrapolated to {students}: {stock_ms * students / stock_students / 1000:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=5000)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--stock-students", type=int, default=250)
    parser.add_argument("--skip-stock", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the filled database afterwards (for EXPLAIN ANALYZE)")
    parser.add_argument("--reuse", action="store_true", help="measure a database kept by --keep, without refilling")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M')}; load {os.getloadavg()[0]:.2f}")
    from bench.scratch_db import scratch_postgres

    started = time.perf_counter()
    with scratch_postgres(PG_BENCH_DB, reuse=args.reuse, keep=args.keep):
        migrated = time.perf_counter()
        if args.reuse:
            from server.people.models import Institution, User

            school_id = Institution.objects.get(name="Bench School of Medicine").pk
            coordinator_id = User.objects.get(username="bench-coordinator").pk
        else:
            school_id, coordinator_id = fill(args.students, args.records)
            print(f"setup: migrate {migrated - started:.0f} s, fill {time.perf_counter() - migrated:.0f} s "
                  f"({args.students} students, {args.records} attendance records)")
        measure(school_id, coordinator_id, args.rounds, 0 if args.skip_stock else args.stock_students)

if __name__ == "__main__":
    main()
