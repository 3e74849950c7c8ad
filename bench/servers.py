"""The servers the benchmarks compare, each run in its own process:
``python -m bench.servers KIND PORT`` with KIND one of raw, bare, ours, fastmcp, proxy.

- raw: a Starlette endpoint that answers a fixed JSON-RPC result (the floor);
- bare: the SDK's low-level Server with one trivial tool, stateless, JSON responses;
- ours: pantry-mcp as shipped (request log, metrics, validation), Pantry answered in
  process where the socket would be (``StubWire``) so that only our own cost is measured;
- proxy: the hop's yardstick, a plain Starlette app that forwards each GET to the Pantry
  at ``PANTRY_BENCH_UPSTREAM`` over one kept-alive httpx2 client (no MCP, no checks).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import mcp_types as types
import uvicorn
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from pantry_mcp.http1 import Http1Transport, RawResponse

SEARCH_ANSWER = {
    "items": [
        {
            "id": f"recipe-{n}",
            "title": f"Curry {n}",
            "summary": "A curry.",
            "cuisine": "indian",
            "course": "main",
            "total_minutes": 30,
            "dietary": ["vegan"],
            "owner": "catalog",
            "pantry_coverage": 0.0,
            "ingredients": [],
        }
        for n in range(10)
    ],
    "page": 1,
    "page_size": 10,
    "total": 10,
    "has_more": False,
    "match": "all",
}
RESULT = {"content": [{"type": "text", "text": "ok"}], "isError": False}
# Encoded once: the stub should cost as little as possible, so only the server is measured.
SEARCH_BYTES = json.dumps(SEARCH_ANSWER).encode()


def stub_transport() -> httpx2.MockTransport:
    """Pantry's answer to a search, from memory (the same for every stack that calls it)."""
    headers = {"content-type": "application/json"}
    return httpx2.MockTransport(
        lambda request: httpx2.Response(200, content=SEARCH_BYTES, headers=headers)
    )


class StubWire(Http1Transport):
    """Our Pantry transport with the socket taken out: the client writes its request bytes
    as over a real connection and gets Pantry's answer back as the bytes the connection
    would hand it (no parse of them: that is the socket's side, as in a MockTransport)."""

    async def exchange(
        self, host: bytes, port: int, head: bytes, body: bytes = b"", **options: Any
    ) -> RawResponse:
        return RawResponse(200, list(STUB_HEADERS), SEARCH_BYTES)


STUB_HEADERS = (
    (b"content-type", b"application/json"),
    (b"content-length", b"%d" % len(SEARCH_BYTES)),
)


def raw() -> ASGIApp:
    async def endpoint(request: Request) -> Response:
        message = json.loads(await request.body())
        body = {"jsonrpc": "2.0", "id": message.get("id"), "result": RESULT}
        return Response(json.dumps(body), media_type="application/json")

    return Starlette(routes=[Route("/mcp", endpoint, methods=["POST"])])


def bare() -> ASGIApp:
    tool = types.Tool(name="search_recipes", input_schema={"type": "object"})

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[tool])

    async def call_tool(ctx: Any, params: Any) -> types.CallToolResult:
        return types.CallToolResult(content=[types.TextContent(text="ok")])

    server: Server[Any] = Server(
        "bare",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        get_tool_input_schema=lambda name: {"type": "object"},
    )
    manager = StreamableHTTPSessionManager(app=server, stateless=True, json_response=True)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with manager.run():
            yield

    return Starlette(routes=[Route("/mcp", StreamableHTTPASGIApp(manager))], lifespan=lifespan)


def ours() -> ASGIApp:
    from pantry_mcp.app import create_app
    from pantry_mcp.client import PantryClient
    from pantry_mcp.config import Settings
    from pantry_mcp.heap import freeze_startup_heap, return_free_memory
    from pantry_mcp.logging import configure

    env = {
        "PANTRY_MCP_PANTRY_TOKEN": "bench-token-0123456789",
        "PANTRY_MCP_RATE_LIMIT": "0",
        "PANTRY_MCP_LOG_FORMAT": "json",
    }
    # The parent passes its issuer (PANTRY_MCP_AUTH_ISSUER, PANTRY_MCP_RESOURCE_URL, ...).
    env.update({k: v for k, v in os.environ.items() if k.startswith("PANTRY_MCP_")})
    settings = Settings.from_env(env, tty=False)

    configure("json", "info", stream=open("/dev/null", "w"))  # noqa: SIM115 - lives as long as the process
    client = PantryClient("http://pantry.stub", "bench-token-0123456789", transport=StubWire())
    app = create_app(settings, client=client)
    freeze_startup_heap()  # as pantry-mcp serve does
    return_free_memory()
    return app


def fastmcp() -> ASGIApp:
    from bench.peer_fastmcp import app

    return app(stub_transport())


def proxy() -> ASGIApp:
    upstream = httpx2.AsyncClient(base_url=os.environ["PANTRY_BENCH_UPSTREAM"], timeout=30)
    forwarded = ("authorization", "x-pantry-user", "accept")

    async def forward(request: Request) -> Response:
        answer = await upstream.get(
            request.url.path,
            params=request.query_params,
            headers={k: v for k, v in request.headers.items() if k in forwarded},
        )
        media_type = answer.headers.get("content-type", "application/json")
        return Response(answer.content, answer.status_code, media_type=media_type)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with upstream:
            yield

    return Starlette(routes=[Route("/{path:path}", forward, methods=["GET"])], lifespan=lifespan)


def main() -> None:
    kind, port = sys.argv[1], int(sys.argv[2])
    kinds = {"raw": raw, "bare": bare, "ours": ours, "fastmcp": fastmcp, "proxy": proxy}
    app = kinds[kind]()
    serve(app, port)


def serve(app: ASGIApp, port: int) -> None:
    """One bench server: uvicorn as pantry-mcp serve runs it, on 127.0.0.1, quiet."""
    logging.disable(logging.CRITICAL)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        http="httptools",
        loop="uvloop",
        ws="none",  # as pantry-mcp serve runs (no server here speaks websockets)
    )


if __name__ == "__main__":
    main()
