"""The rate limiter shared by every replica: one token bucket per user in Redis, updated
atomically by a Lua script. If Redis cannot be reached the call is let through (and
logged): a limiter outage must not become a service outage."""

from __future__ import annotations

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = structlog.get_logger("pantry_mcp.ratelimit")

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
