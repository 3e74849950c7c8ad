"""``DirectRoute``: an HTTP request for /mcp goes straight to the MCP endpoint; everything
else (other paths, /mcp/, other scope types) goes on to Starlette's router as before."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.types import Receive, Scope, Send

from pantry_mcp.mcp_route import DirectRoute


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def app(self, name: str) -> Any:
        async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
            self.seen.append((name, scope["type"]))

        return asgi


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("scope_type", "path", "reached"),
    [
        ("http", "/mcp", "endpoint"),
        ("http", "/mcp/", "router"),
        ("http", "/healthz", "router"),
        ("http", "/mcpx", "router"),
        ("websocket", "/mcp", "router"),
    ],
)
async def test_only_http_requests_for_the_path_skip_the_router(
    scope_type: str, path: str, reached: str
) -> None:
    recorder = Recorder()
    route = DirectRoute(recorder.app("router"), path="/mcp", endpoint=recorder.app("endpoint"))

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        return None

    await route({"type": scope_type, "path": path, "headers": []}, receive, send)
    assert recorder.seen == [(reached, scope_type)]
