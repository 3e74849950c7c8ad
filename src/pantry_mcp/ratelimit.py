"""Tool calls per minute per user: a token bucket, refilled continuously.

One replica keeps its buckets in memory. Several replicas share them in Redis
(``PANTRY_MCP_REDIS_URL``), updated atomically by a small Lua script on Redis's own
clock, so a user gets the same budget whichever replica answers. If Redis cannot be
reached the call is allowed and a warning logged: a limiter must not take the service
down with it.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from typing import Protocol

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = structlog.get_logger("pantry_mcp.ratelimit")


class RateLimiter(Protocol):
    async def retry_after(self, user: str) -> int:
        """0 if the call may go ahead (and is counted), else whole seconds to wait."""
        ...

    async def aclose(self) -> None: ...


def _take(tokens: float, elapsed: float, capacity: float, per_second: float) -> tuple[float, int]:
    """The bucket after ``elapsed`` seconds of refill and one call: (tokens left, wait)."""
    tokens = min(capacity, tokens + elapsed * per_second)
    if tokens >= 1:
        return tokens - 1, 0
    return tokens, max(1, math.ceil((1 - tokens) / per_second))


class MemoryRateLimiter:
    MAX_TRACKED = 50_000

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.per_second = per_minute / 60.0
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    async def retry_after(self, user: str) -> int:
        if self.capacity <= 0:
            return 0
        now = time.monotonic()
        tokens, last = self._buckets.pop(user, (self.capacity, now))
        tokens, wait = _take(tokens, now - last, self.capacity, self.per_second)
        self._buckets[user] = (tokens, now)
        while len(self._buckets) > self.MAX_TRACKED:
            self._buckets.popitem(last=False)
        return wait

    async def aclose(self) -> None:
        return None


# KEYS[1] bucket; ARGV capacity, tokens per second. Returns the wait in whole seconds.
_BUCKET_SCRIPT = """
local capacity = tonumber(ARGV[1])
local per_second = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * per_second)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.max(1, math.ceil((1 - tokens) / per_second))
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / per_second) + 60)
return wait
"""


class RedisRateLimiter:
    def __init__(self, url: str, per_minute: int, *, prefix: str = "pantry-mcp:rate:") -> None:
        self.redis: Redis = Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self.capacity = per_minute
        self.per_second = per_minute / 60.0
        self.prefix = prefix
        self._script = self.redis.register_script(_BUCKET_SCRIPT)

    async def retry_after(self, user: str) -> int:
        if self.capacity <= 0:
            return 0
        try:
            wait = await self._script(
                keys=[self.prefix + user], args=[self.capacity, self.per_second]
            )
        except (RedisError, OSError) as error:
            log.warning("rate_limit_store_unavailable", error_type=type(error).__name__)
            return 0
        return int(wait)

    async def aclose(self) -> None:
        await self.redis.aclose()


def rate_limiter(per_minute: int, redis_url: str | None) -> RateLimiter:
    if redis_url:
        return RedisRateLimiter(redis_url, per_minute)
    return MemoryRateLimiter(per_minute)
