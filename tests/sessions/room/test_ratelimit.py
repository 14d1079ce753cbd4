"""Rate limits are per person and room, and shared by every process when Redis is there."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings

from sessions.room.ratelimit import LIMITS, RoomRateLimiter, SharedRateLimiter
from tests.conftest import need_component


async def test_a_person_runs_out_of_chat_allowance_in_one_process(settings):
    settings.REDIS_URL = ""
    limiter = SharedRateLimiter(RoomRateLimiter())
    burst = int(LIMITS["chat"][1])
    waits = [await limiter.check(session_id=1, user_id=7, bucket="chat", privileged=False) for _ in range(burst + 1)]
    assert waits[:burst] == [0.0] * burst and waits[-1] > 0
    assert await limiter.check(session_id=1, user_id=8, bucket="chat", privileged=False) == 0.0  # someone else


@pytest.mark.realservices
async def test_two_processes_share_one_allowance_through_redis():
    need_component("Redis (REDIS_URL)", bool(getattr(settings, "REDIS_URL", "")))
    session_id = uuid.uuid4().int % 10**9  # a fresh bucket
    first, second = SharedRateLimiter(RoomRateLimiter()), SharedRateLimiter(RoomRateLimiter())
    burst = int(LIMITS["chat"][1])
    for n in range(burst):
        process = first if n % 2 else second
        assert await process.check(session_id=session_id, user_id=7, bucket="chat", privileged=False) == 0.0
    # The allowance is spent across both "processes": each refuses now.
    assert await first.check(session_id=session_id, user_id=7, bucket="chat", privileged=False) > 0
    assert await second.check(session_id=session_id, user_id=7, bucket="chat", privileged=False) > 0
