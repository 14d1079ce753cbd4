"""`python manage.py media_worker`: a process that carries the media of live sessions.

Procfile: `media: python manage.py media_worker`. Web processes then run with
MEDIA_WORKER_IN_PROCESS=0 and forward signalling to the worker that carries each session
over the channel layer (Redis). Run as many as the machines have cores: each announces
itself in Redis and sessions are placed by load (sessions/media/placement.py).

    manage.py media_worker                  serve; SIGTERM hands every session over, then exits
    manage.py media_worker --status         the live workers and their load
    manage.py media_worker --drain ID       ask worker ID to hand its sessions over and stop
                                            taking new ones (then stop it: a rolling deploy)
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Run a media worker (SFU and recorder) for live sessions, or list or drain workers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--index", type=int, default=0,
                            help="With MEDIA_PLACEMENT=static: which worker (0..MEDIA_WORKER_COUNT-1).")
        parser.add_argument("--drain", metavar="WORKER_ID", help="Ask this worker to hand its sessions over.")
        parser.add_argument("--status", action="store_true", help="List the live workers and their load.")

    def handle(self, *args: Any, **options: Any) -> None:
        from sessions.media.placement import worker_registry
        from sessions.media.routing import placement_by_registry, worker_count
        from sessions.media.worker import run_worker_process

        if options["drain"] or options["status"]:
            if not placement_by_registry():
                raise CommandError("Workers are listed and drained through the Redis registry: set REDIS_URL, "
                                   "MEDIA_WORKER_IN_PROCESS=0 and MEDIA_PLACEMENT=registry.")
            registry = worker_registry()

            async def status() -> list:
                try:
                    return await registry.alive()
                finally:
                    await registry.close()

            async def drain(worker_id: str) -> bool:
                try:
                    return await registry.request_drain(worker_id)
                finally:
                    await registry.close()

            if options["drain"]:
                if not asyncio.run(drain(options["drain"])):
                    raise CommandError(f"No live media worker {options['drain']!r} (see --status).")
                self.stdout.write(f"Worker {options['drain']} drains: its sessions move to the other workers.")
                return
            for info in asyncio.run(status()):
                load = info.load
                self.stdout.write(
                    f"{info.id}{' (draining)' if info.draining else ''}: {load.sessions} sessions, "
                    f"{load.participants} participants, {load.publications} publications, "
                    f"{load.forwarded} forwarded tracks, {load.cpu:.0f}% CPU")
            return
        if not placement_by_registry() and not 0 <= options["index"] < worker_count():
            raise CommandError(f"--index must be below MEDIA_WORKER_COUNT ({worker_count()}).")
        asyncio.run(run_worker_process(index=options["index"], install_signals=(signal.SIGTERM, signal.SIGINT)))
