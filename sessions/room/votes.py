"""Group commit of poll votes: the votes that arrive together are stored in one transaction.

A 1,000-person poll sends ~100 votes a second at its peak. One transaction per vote costs
a commit (a WAL flush) and a trip to the ORM thread each; here every process gathers the
votes that arrive while the previous group is being written (or within `ROOM_VOTE_BATCH_SECONDS`)
and writes them with `services.poll_votes_record` in a handful of statements. Each sender
is acknowledged only after its group committed, so an acknowledged vote is stored.
"""

from __future__ import annotations

import asyncio
import logging

from django.conf import settings

from .fanout import db_parallel

logger = logging.getLogger(__name__)


class VoteBatcher:
    """Votes waiting for the next group commit of this process (one per event loop)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiting: list[tuple[object, asyncio.Future[Exception | None]]] = []
        self.writers = 0
        self.max_writers = int(_setting("ROOM_VOTE_WRITERS", 2))
        self.window = _setting("ROOM_VOTE_BATCH_SECONDS", 0.005)
        self.max_group = 500

    async def vote(self, *, session_id: int, user_id: int, poll_id: int, option_ids: list[int]) -> None:
        """Store one vote with the others of its group; raise its refusal, if any."""
        from .services import VoteRequest

        future: asyncio.Future[Exception | None] = self.loop.create_future()
        self.waiting.append((VoteRequest(session_id, user_id, poll_id, tuple(sorted(set(option_ids)))), future))
        if self.writers < self.max_writers:
            self.writers += 1
            self.loop.create_task(self._write())
        refusal = await future
        if refusal is not None:
            raise refusal

    async def _write(self) -> None:
        from .services import poll_votes_record

        try:
            await asyncio.sleep(self.window)  # let the votes of this instant join the group
            while self.waiting:
                group, self.waiting = self.waiting[: self.max_group], self.waiting[self.max_group :]
                try:
                    results = await db_parallel(poll_votes_record)(votes=[request for request, _future in group])
                except Exception as exc:
                    logger.warning("room votes: a group of %d votes failed (%s)", len(group), type(exc).__name__)
                    results = [exc] * len(group)
                for (_request, future), result in zip(group, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self.writers -= 1


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


_BATCHERS: dict[asyncio.AbstractEventLoop, VoteBatcher] = {}


def vote_batcher() -> VoteBatcher:
    """This event loop's batcher."""
    loop = asyncio.get_running_loop()
    batcher = _BATCHERS.get(loop)
    if batcher is None:
        for old in [old for old in _BATCHERS if old.is_closed()]:
            del _BATCHERS[old]
        batcher = _BATCHERS[loop] = VoteBatcher(loop)
    return batcher
