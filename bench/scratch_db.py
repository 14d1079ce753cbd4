"""A throwaway PostgreSQL database for the benchmarks that fill one (breakouts, school report).

Each such benchmark makes its own database on the local server (trust auth, as
`scripts/services.sh` sets it up), points Django at it and drops it at the end, so a run
never touches the test or demo data and leaves nothing behind (`--keep` leaves it for
EXPLAIN ANALYZE).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def setup_django(database_url: str, *, name: str) -> None:
    """Django on `database_url` with the test settings, quiet, its files in a fresh folder."""
    os.environ["DATABASE_URL"] = database_url
    os.environ["MEDIA_ROOT"] = tempfile.mkdtemp(prefix=f"bench-{name}-media-")
    os.environ.setdefault("DEBUG", "1")
    os.environ["DJANGO_SETTINGS_MODULE"] = "server.settings.test"
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()


def _drop(admin: str, database: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


@contextmanager
def scratch_postgres(database: str, *, reuse: bool = False, keep: bool = False) -> Iterator[None]:
    """Create `database` afresh (unless `reuse`), set Django up on it and migrate; drop it after (unless `keep`)."""
    import psycopg

    admin = PG_ADMIN_URL.replace("postgres://", "postgresql://")
    if not reuse:
        _drop(admin, database)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {database}")
    try:
        setup_django(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + database, name=database)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        yield
    finally:
        from django.db import connections

        connections.close_all()
        if not keep:
            _drop(admin, database)
