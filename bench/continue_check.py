"""The per-offer broadcast continuation check: what it costs a session with no broadcast.

    .venv/bin/python bench/continue_check.py [--offers 2000] [--sessions 200]

A media worker runs `_continue_broadcast` (sessions/media/worker_broadcast.py) at every
offer of a session it does not broadcast (sessions/media/worker.py, `handle`). This runs
`--offers` such checks, spread over `--sessions` sessions none of which broadcasts, on one
`MediaWorker` (not serving) against the local Redis (`REDIS_URL`, default db 6, a fresh
namespace deleted after) and a throw-away PostgreSQL database (bench/scratch_db.py), two
ways:

- "before": the check as it was, every Redis read (primary, owner, owner's heartbeat) and
  the notice read from the database (`broadcast_current`), done by skipping the first test;
- "now": one SISMEMBER on `<ns>:media:broadcasts`, which returns at once.

It reports the mean and p50/p99 per check, and the database queries counted (Django's
query log, the checks run on this thread's connection through `async_to_sync`). The room
event table is empty, so the query is as cheap as it gets: a real one costs more.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run(offers: int, sessions: int, *, gate: bool) -> tuple[list[float], int]:
    from asgiref.sync import async_to_sync
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from sessions.media.placement import WorkerRegistry
    from sessions.media.worker import MediaWorker

    timings: list[float] = []

    async def checks() -> None:
        registry = WorkerRegistry(os.environ["REDIS_URL"])
        if not gate:
            async def always_on(session_id: int) -> bool:
                return True
            registry.broadcast_on = always_on  # type: ignore[method-assign]  # the check as it was
        media = MediaWorker(channel="media-worker-bench", registry=registry, worker_id="bench")
        try:
            await registry.broadcast_owner(1)  # connect first
            for number in range(offers):
                began = time.perf_counter()
                await media._continue_broadcast(100_000 + number % sessions)
                timings.append(time.perf_counter() - began)
        finally:
            await registry.close()

    with CaptureQueriesContext(connection) as queries:
        async_to_sync(checks)()
    return timings, len(queries.captured_queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offers", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=200)
    args = parser.parse_args()
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/6")
    namespace = f"bench-continue-{uuid.uuid4().hex[:6]}"
    os.environ["REDIS_NAMESPACE"] = namespace
    os.environ["MEDIA_WORKER_IN_PROCESS"] = "0"
    from bench.scratch_db import scratch_postgres

    with scratch_postgres("openrounds_bench_continue"):
        from django.conf import settings

        settings.REDIS_NAMESPACE = namespace
        settings.DEBUG = True
        print(f"{platform.node()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
        run(200, args.sessions, gate=False)  # warm up both paths
        run(200, args.sessions, gate=True)
        for round_ in (1, 2):
            for label, gate in (("before", False), ("now", True)):
                timings, queries = run(args.offers, args.sessions, gate=gate)
                ms = sorted(t * 1000 for t in timings)
                print(f"round {round_} {label:6}: {len(ms)} checks, mean {statistics.fmean(ms):.3f} ms, "
                      f"p50 {ms[len(ms) // 2]:.3f} ms, p99 {ms[int(len(ms) * 0.99)]:.3f} ms, "
                      f"{queries} database queries")
        print(f"load average {os.getloadavg()[0]:.2f} at the end")
        import redis

        client = redis.Redis.from_url(os.environ["REDIS_URL"])
        keys = list(client.scan_iter(match=f"{namespace}:*"))
        if keys:
            client.delete(*keys)


if __name__ == "__main__":
    main()
