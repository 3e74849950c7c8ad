"""End-to-end fixtures: pantry-mcp served over real HTTP in front of a real Pantry."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest

from pantry_mcp.app import create_app
from tests.support import RunningServer, mcp_settings, serve_in_thread, unique

McpServerFactory = Callable[..., str]


@pytest.fixture
def mcp_server(pantry_server: RunningServer) -> Iterator[McpServerFactory]:
    """Start pantry-mcp for one test: ``mcp_server(user=..., port=..., **env)`` returns its
    /mcp URL (on ``port`` when given, for a resource URL known in advance)."""
    with ExitStack() as stack:

        def start(user: str | None = None, port: int = 0, **env: str) -> str:
            settings = mcp_settings(pantry_server.base_url, user or unique("e2e-user"), **env)
            server = stack.enter_context(serve_in_thread(create_app(settings), port=port))
            return f"{server.base_url}/mcp"

        yield start
