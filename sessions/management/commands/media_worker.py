"""`python manage.py media_worker`: the process that owns the media of live sessions.

Procfile: `media: python manage.py media_worker`. Web processes then run with
MEDIA_WORKER_IN_PROCESS=0 and forward signalling to this process over the channel layer
(Redis). The code lives in sessions/media/worker.py.
"""

from __future__ import annotations

import asyncio
import signal

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Run the media worker (SFU and recorder) for live sessions."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--index", type=int, default=0, help="Which worker (0..MEDIA_WORKER_COUNT-1).")

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        from sessions.media.worker import run_worker_process, worker_count

        if not 0 <= options["index"] < worker_count():
            raise CommandError(f"--index must be below MEDIA_WORKER_COUNT ({worker_count()}).")
        asyncio.run(run_worker_process(index=options["index"], install_signals=(signal.SIGTERM, signal.SIGINT)))
