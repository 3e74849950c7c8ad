"""Handler and registry tests: no MCP server, but a real Pantry over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pantry_mcp.client import PantryClient
from tests.support import SERVICE_TOKEN, RunningServer, unique


@pytest.fixture
def user() -> str:
    return unique("mcp-user")


@pytest.fixture
async def pantry_client(pantry_server: RunningServer) -> AsyncIterator[PantryClient]:
    client = PantryClient(pantry_server.base_url, SERVICE_TOKEN)
    yield client
    await client.aclose()
