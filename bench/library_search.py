"""Library benchmark: search latency on 100,000 materials, and upload memory for 1 GB.

    .venv/bin/python bench/library_search.py                 # both parts, SQLite (+ PostgreSQL if reachable)
    .venv/bin/python bench/library_search.py search --db sqlite --materials 100000
    .venv/bin/python bench/library_search.py search --db postgres
    .venv/bin/python bench/library_search.py upload --size-mb 1024

Search: a throw-away database (a temporary SQLite file, or a temporary PostgreSQL
database `openrounds_bench_library` on 127.0.0.1 that is dropped afterwards) is migrated,
seeded with the demo people and filled with N generated materials; then
`material_search` (the same call the page makes: count, one page, seven facets) runs
for a fixed list of queries as three people of different schools, and p50/p95/max are
printed. Upload: runs bench/library_upload.py (a 1 GB video as a resumable chunked
upload through a real daphne; the server's peak resident memory). Everything is bounded
and removed at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
PG_BENCH_DB = "openrounds_bench_library"

WORDS = (
    "tuberculosis malaria sepsis stroke asthma diabetes hypertension anaemia pneumonia meningitis cholera dengue "
    "leptospirosis typhoid hepatitis cirrhosis pancreatitis appendicitis eclampsia haemorrhage jaundice neonatal "
    "malnutrition dehydration arrhythmia infarction failure murmur embolism thrombosis fracture burns trauma "
    "ultrasound radiograph electrocardiogram biopsy culture antibiotic antiretroviral insulin oxytocin artesunate "
    "praziquantel vaccination screening surveillance outbreak triage resuscitation ventilation oxygen fluids "
    "transfusion dialysis surgery anaesthesia analgesia palliative paediatric obstetric geriatric community rural "
    "district referral guideline protocol lecture case seminar workshop simulation assessment examination history "
    "diagnosis management treatment prevention epidemiology pharmacology physiology anatomy pathology microbiology "
    "immunology genetics nutrition ethics communication leadership teamwork quality safety audit research evidence"
).split()
DISCIPLINES = ["Cardiology", "Infectious diseases", "Paediatrics", "Surgery", "Neurology", "Public health",
               "Internal medicine", "Emergency medicine", "Obstetrics and gynaecology", "Radiology", "Pathology"]
QUERIES = ["tuberculosis", "malaria children", "sepsis fluids", "electro", "stroke thrombosis guideline",
           "praziquantel", "", "heart", "neonatal jaundice phototherapy", "cholera outbreak rural"]
FILTERS = [{}, {"kind": "pdf"}, {"discipline": "Cardiology"}, {"language": "fr"}, {"level": "clinical", "licence": "cc-by"}]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def backend_cpu_clock(pid: int):
    """A function returning the CPU seconds used so far by process `pid` (Linux).

    Why: on a shared machine wall-clock latency measures the neighbours too; CPU time
    of this process plus the database backend serving it is what one search costs.
    """
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)

    class Timespec(ctypes.Structure):
        _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]

    clock = ctypes.c_int()
    if libc.clock_getcpuclockid(pid, ctypes.byref(clock)):
        return lambda: 0.0

    def read() -> float:
        spec = Timespec()
        libc.clock_gettime(clock, ctypes.byref(spec))
        return spec.tv_sec + spec.tv_nsec / 1e9

    return read


def setup_django(database_url: str, media_root: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["MEDIA_ROOT"] = media_root
    os.environ.setdefault("DEBUG", "1")
    os.environ["DJANGO_SETTINGS_MODULE"] = "server.settings.test"
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()


def fill(count: int) -> float:
    """Insert `count` generated materials (bulk, through the ORM; triggers/indexes follow)."""
    from django.db import transaction
    from django.utils import timezone

    from courses.library.services import material_search_text
    from courses.models import Level, Licence, Material, MaterialKind, Scope
    from server.people.demo import seed_people
    from server.people.models import Membership

    schools = list(seed_people().values())
    contributors = {m.institution_id: m.user for m in Membership.objects.filter(role="faculty").select_related("user")}
    rng = random.Random(5)
    kinds = [k for k in MaterialKind.values if k != "recording"]
    languages = ["en"] * 6 + ["fr", "pt", "de", "ja"]
    started = time.perf_counter()
    batch: list[Material] = []
    now = timezone.now()
    with transaction.atomic():
        for index in range(count):
            school = schools[index % len(schools)]
            material = Material(
                kind=rng.choice(kinds), title=" ".join(rng.choices(WORDS, k=rng.randint(3, 7))).capitalize(),
                description=" ".join(rng.choices(WORDS, k=rng.randint(15, 40))),
                discipline=rng.choice(DISCIPLINES), topics=rng.sample(WORDS, 3), competencies=[],
                level=rng.choice(Level.values), language=rng.choice(languages), licence=rng.choice(Licence.values),
                authors="Bench", institution=school, contributed_by=contributors.get(school.pk),
                scope=rng.choice(Scope.values), version=1, created_at=now, updated_at=now,
            )
            material.search_text = material_search_text(material=material)
            batch.append(material)
            if len(batch) == 2000:
                Material.objects.bulk_create(batch)
                batch.clear()
        if batch:
            Material.objects.bulk_create(batch)
    return time.perf_counter() - started


def run_search(database: str, count: int, rounds: int) -> None:
    media = tempfile.mkdtemp(prefix="bench-library-media-")
    sqlite_dir = tempfile.mkdtemp(prefix="bench-library-db-")
    if database == "sqlite":
        url = f"sqlite:///{sqlite_dir}/bench.sqlite3"
    else:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL.replace("postgres://", "postgresql://"), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_BENCH_DB}")
            conn.execute(f"CREATE DATABASE {PG_BENCH_DB}")
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + PG_BENCH_DB
    try:
        setup_django(url, media)
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        fill_seconds = fill(count)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE courses_material")
        from courses.library.search import material_search
        from server.people.models import User

        users = [User.objects.get(username=name) for name in ("amina", "lukas", "awa")]
        material_search(user=users[0], query="warm up")
        backend = lambda: 0.0  # noqa: E731
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                backend = backend_cpu_clock(cursor.fetchone()[0])
        timings: list[float] = []
        cpu: list[float] = []
        per_query: dict[str, list[float]] = {}
        load_before = os.getloadavg()[0]
        for _round in range(rounds):
            for query in QUERIES:
                for filters in FILTERS:
                    for user in users:
                        cpu_started = time.process_time() + backend()
                        started = time.perf_counter()
                        result = material_search(user=user, query=query, filters=filters)
                        elapsed = (time.perf_counter() - started) * 1000
                        cpu.append((time.process_time() + backend() - cpu_started) * 1000)
                        timings.append(elapsed)
                        per_query.setdefault(query or "(browse)", []).append(elapsed)
        load_after = os.getloadavg()[0]
        print(f"[search] {connection.vendor}: {count} materials inserted in {fill_seconds:.1f} s; "
              f"{len(timings)} searches (count + page + 7 facets, 3 people of different schools); "
              f"load average {load_before:.1f} -> {load_after:.1f}")
        print(f"[search] {connection.vendor}: p50 {percentile(timings, 50):.1f} ms  p95 {percentile(timings, 95):.1f} ms  "
              f"max {max(timings):.1f} ms  mean {statistics.mean(timings):.1f} ms")
        print(f"[search] {connection.vendor}: CPU per search (this process + database backend): "
              f"p50 {percentile(cpu, 50):.1f} ms  p95 {percentile(cpu, 95):.1f} ms  max {max(cpu):.1f} ms")
        for query, values in per_query.items():
            print(f"[search]   {query!r:32} p50 {percentile(values, 50):6.1f} ms  p95 {percentile(values, 95):6.1f} ms")
        del result
        connection.close()
    finally:
        shutil.rmtree(media, ignore_errors=True)
        shutil.rmtree(sqlite_dir, ignore_errors=True)
        if database == "postgres":
            import psycopg

            with psycopg.connect(PG_ADMIN_URL.replace("postgres://", "postgresql://"), autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")


def run_upload(size_mb: int) -> None:
    """The upload part lives in bench/library_upload.py (a 1 GB resumable chunked upload).

    The single-request POST this file used to measure grew daphne by ~14 GB for 1 GB
    (daphne queues a request body in memory); such a request now gets 413 from
    server/request_limits.py, and large files travel in pieces.
    """
    subprocess.run([sys.executable, str(ROOT / "bench" / "library_upload.py"), "--size-mb", str(size_mb)],
                   cwd=ROOT, check=False, timeout=1800)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", nargs="?", choices=["search", "upload", "all"], default="all")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--materials", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--size-mb", type=int, default=1024)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M')}")
    if args.part in ("search", "all"):
        databases = ["sqlite", "postgres"] if args.db == "both" else [args.db]
        for database in databases:
            # One process per database: Django's settings are fixed once set up.
            command = [sys.executable, __file__, "_search", database, str(args.materials), str(args.rounds)]
            subprocess.run(command, cwd=ROOT, check=False, timeout=1800)
    if args.part in ("upload", "all"):
        run_upload(args.size_mb)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_search":
        run_search(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
