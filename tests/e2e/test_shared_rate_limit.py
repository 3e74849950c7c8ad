"""Replicas share one rate-limit budget per user through Redis."""

from __future__ import annotations

import os

import pytest
from mcp import Client
from redis.asyncio import Redis
from redis.exceptions import RedisError

from pantry_mcp.ratelimit_redis import RedisRateLimiter
from tests.e2e.conftest import McpServerFactory
from tests.support import unique

pytestmark = pytest.mark.anyio
REDIS_URL = os.environ.get("PANTRY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def redis_url() -> str:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except (RedisError, OSError) as error:
        if os.environ.get("PANTRY_TEST_REQUIRE_REDIS") == "1":
            pytest.fail(f"PANTRY_TEST_REQUIRE_REDIS=1 but no Redis at {REDIS_URL}: {error}")
        pytest.skip(f"no Redis at {REDIS_URL}: {error}")
    finally:
        await client.aclose()
    return REDIS_URL


async def test_two_replicas_share_the_budget(mcp_server: McpServerFactory, redis_url: str) -> None:
    user = unique("shared-budget")
    env = {"PANTRY_MCP_REDIS_URL": redis_url, "PANTRY_MCP_RATE_LIMIT": "3"}
    first, second = mcp_server(user=user, **env), mcp_server(user=user, **env)
    results = []
    async with Client(first, mode="2026-07-28") as a, Client(second, mode="2026-07-28") as b:
        for client in (a, b, a, b):
            results.append(await client.call_tool("search_recipes", {"query": "soup"}))
    assert [r.is_error for r in results] == [False, False, False, True]


async def test_an_unreachable_store_lets_calls_through() -> None:
    limiter = RedisRateLimiter("redis://127.0.0.1:9/0", per_minute=1)
    try:
        assert [await limiter.retry_after("u") for _ in range(3)] == [0, 0, 0]
    finally:
        await limiter.aclose()
