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


def rate_limiter(per_minute: int, redis_url: str | None) -> RateLimiter:
    if redis_url:
        # imported only when configured: the Redis client costs some 6 MB of memory
        from pantry_mcp.ratelimit_redis import RedisRateLimiter

        return RedisRateLimiter(redis_url, per_minute)
    return MemoryRateLimiter(per_minute)
