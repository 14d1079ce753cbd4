"""The embedded media worker: one `MediaWorker` inside the web process (`make demo`).

Why apart: the signalling handlers start it lazily at the first media message, and the
room's event listener asks whether it runs; neither needs the worker process's entry
point, and `worker.py` stays the worker itself.
"""

from __future__ import annotations

import asyncio
import logging

from .routing import worker_channel_for, worker_in_process
from .worker import MediaWorker

logger = logging.getLogger(__name__)


_IN_PROCESS: dict[int, tuple[MediaWorker, asyncio.Task[None]]] = {}


async def ensure_in_process_worker(session_id: int) -> MediaWorker | None:
    """Start the worker for `session_id`'s channel in this process's loop, once (embedded mode).

    Returns when the worker listens, so the request sent next is not lost.
    """
    if not worker_in_process():
        return None
    loop = asyncio.get_running_loop()
    channel = worker_channel_for(session_id)
    key = hash((id(loop), channel))
    entry = _IN_PROCESS.get(key)
    if entry is None or entry[1].done():
        worker = MediaWorker(channel=channel)
        entry = _IN_PROCESS[key] = (worker, loop.create_task(worker.run()))
    try:
        await asyncio.wait_for(entry[0].ready.wait(), 5)
    except TimeoutError:
        logger.error("media worker did not start listening on %s", channel)
    return entry[0]


def in_process_worker_running(session_id: int) -> bool:
    """Whether this process runs the embedded worker of `session_id`'s channel (any loop).

    Embedded mode keeps each process's media to itself: without a running worker here
    there is no media of this session to act on.
    """
    channel = worker_channel_for(session_id)
    return any(worker.channel == channel and not task.done() for worker, task in list(_IN_PROCESS.values()))


async def stop_in_process_workers() -> None:
    """Stop the embedded workers of the running loop (tests, shutdown)."""
    for key, (worker, task) in list(_IN_PROCESS.items()):
        if task.get_loop() is asyncio.get_running_loop():
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
            _IN_PROCESS.pop(key, None)

