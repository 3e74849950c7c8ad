"""pantry-mcp over stdio, launched as a subprocess by the official client, as Claude
Desktop would launch it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from tests.support import SERVICE_TOKEN, RunningServer, text_of, unique

pytestmark = pytest.mark.anyio


def stdio_server(pantry_url: str, user: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=str(Path(sys.executable).parent / "pantry-mcp"),
        args=["stdio"],
        env={
            "PATH": os.environ.get("PATH", ""),
            "PANTRY_MCP_PANTRY_URL": pantry_url,
            "PANTRY_MCP_PANTRY_TOKEN": SERVICE_TOKEN,
            "PANTRY_MCP_USER": user,
        },
    )


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28", "auto"])
async def test_the_user_requests_over_stdio(pantry_server: RunningServer, mode: str) -> None:
    user = unique("stdio-user")
    async with Client(stdio_server(pantry_server.base_url, user), mode=mode) as client:
        tools = await client.list_tools()
        assert len(tools.tools) == 8
        bought = await client.call_tool(
            "update_pantry",
            {"changes": [{"action": "add", "ingredient": "eggs", "quantity": 6, "unit": "piece"}]},
        )
        assert bought.structured_content["applied"] == 1
        plan = await client.call_tool("plan_week_meals", {"start_date": "2026-11-30", "days": 2})
        assert not plan.is_error
        pantry = await client.read_resource("pantry://current")
        assert "egg: 6" in text_of(pantry.contents[0])
        bad = await client.call_tool("plan_week_meals", {"start_date": "2026-02-30"})
        assert bad.is_error
        assert "start_date" in text_of(bad.content[0])
