"""Handler and registry tests: no MCP server, but a real Pantry over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest

from pantry_mcp.auth.jwks import JwksCache
from pantry_mcp.client import PantryClient
from pantry_mcp.config import metadata_url_for
from tests.issuer import Issuer
from tests.support import SERVICE_TOKEN, RunningServer, unique


@pytest.fixture
def user() -> str:
    return unique("mcp-user")


@pytest.fixture
async def pantry_client(pantry_server: RunningServer) -> AsyncIterator[PantryClient]:
    client = PantryClient(pantry_server.base_url, SERVICE_TOKEN)
    yield client
    await client.aclose()


@pytest.fixture
async def keys(issuer: Issuer) -> AsyncIterator[JwksCache]:
    """The issuer's key set over real HTTP, refreshable at once (no failure cooldown)."""
    async with httpx2.AsyncClient() as http:
        yield JwksCache(
            http, metadata_url=metadata_url_for(issuer.url), jwks_url=None, cooldown=0.0
        )
