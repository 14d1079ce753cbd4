"""Per-person rate limits of the room, as token buckets.

Limits are per (room, person) and per kind of message, shared by all of the person's
sockets. With REDIS_URL set the buckets live in Redis (one small Lua script per client
message, atomic), so a person with sockets on several processes gets ONE allowance; if
Redis cannot be reached the process falls back to its own buckets (each process's
allowance; the database work per message bounds what that can cost) rather than refuse
everyone. Without Redis (one process) the buckets are in memory. Hosts and presenters
get a larger allowance (a presenter may post 10 messages a second).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from django.conf import settings

logger = logging.getLogger(__name__)

#: bucket -> (tokens per second, burst) for attendees.
LIMITS: dict[str, tuple[float, float]] = {
    "default": (10.0, 30.0),
    "chat": (3.0, 10.0),
    "vote": (5.0, 15.0),
}
#: Multiplier for people allowed to present or moderate.
PRIVILEGED_FACTOR = 5.0
#: Refusals in a row after which the socket is closed as a flood (4429).
FLOOD_STRIKES = 50


@dataclass
class TokenBucket:
    rate: float
    burst: float
    tokens: float = field(default=-1.0)
    updated: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.burst

    def take(self, now: float | None = None) -> float:
        """Take one token; return 0 when allowed, else the seconds until one is free."""
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class RoomRateLimiter:
    """All buckets of this process, keyed by (session, user, bucket)."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[int, int, str], TokenBucket] = {}

    def check(self, *, session_id: int, user_id: int, bucket: str, privileged: bool) -> float:
        key = (session_id, user_id, bucket)
        found = self._buckets.get(key)
        if found is None:
            rate, burst = LIMITS.get(bucket, LIMITS["default"])
            factor = (PRIVILEGED_FACTOR if privileged else 1.0) * _operator_factor()
            found = self._buckets[key] = TokenBucket(rate * factor, burst * factor)
        return found.take()

    def forget(self, *, session_id: int, user_id: int) -> None:
        for key in [k for k in self._buckets if k[0] == session_id and k[1] == user_id]:
            del self._buckets[key]


#: KEYS[1] = bucket key; ARGV = rate, burst, now (s). Returns the wait in ms (0 = allowed).
_REDIS_TAKE = """
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 't', 'u')
local tokens, updated = tonumber(state[1]), tonumber(state[2])
if tokens == nil then tokens = burst; updated = now end
tokens = math.min(burst, tokens + math.max(0, now - updated) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / rate * 1000) end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'u', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return wait
"""


class SharedRateLimiter:
    """Buckets in Redis, shared by every process; this process's buckets if Redis fails."""

    def __init__(self, local: RoomRateLimiter) -> None:
        self.local = local
        self._client = None
        self._script = None
        self._loop = None

    def _redis(self):  # noqa: ANN202 (redis.asyncio types)
        import asyncio

        url = getattr(settings, "REDIS_URL", "")
        if not url:
            return None
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            import redis.asyncio as aioredis

            self._client = aioredis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
            self._script = self._client.register_script(_REDIS_TAKE)
            self._loop = loop
        return self._script

    async def check(self, *, session_id: int, user_id: int, bucket: str, privileged: bool) -> float:
        """0 when allowed, else the seconds until the next message would be."""
        script = self._redis()
        if script is None:
            return self.local.check(session_id=session_id, user_id=user_id, bucket=bucket, privileged=privileged)
        rate, burst = LIMITS.get(bucket, LIMITS["default"])
        factor = (PRIVILEGED_FACTOR if privileged else 1.0) * _operator_factor()
        try:
            wait_ms = await script(
                keys=[f"{getattr(settings, 'REDIS_NAMESPACE', 'openrounds')}:room-rate:{session_id}:{user_id}:{bucket}:{int(privileged)}"],
                args=[rate * factor, burst * factor, f"{time.time():.3f}"],
            )
        except Exception:
            logger.warning("room rate limits: Redis unavailable; using this process's buckets")
            return self.local.check(session_id=session_id, user_id=user_id, bucket=bucket, privileged=privileged)
        return int(wait_ms) / 1000.0


def _operator_factor() -> float:
    """ROOM_RATE_LIMIT_FACTOR scales every limit (e.g. for load tests); default 1."""
    return float(getattr(settings, "ROOM_RATE_LIMIT_FACTOR", 1))


limiter = RoomRateLimiter()
shared_limiter = SharedRateLimiter(limiter)
