"""The SDK's own per-request cost, measured in-process: the floor under any server built on
it, and the numbers behind the proposals in bench/README.md.

pantry-mcp answers a lone request with one call of ``mcp.server.runner.serve_one`` (see
src/pantry_mcp/single_exchange.py), as the SDK's own entries do. This times that kernel with
a trivial tool and no HTTP at all, and the pieces of it that do work a one-shot request does
not need: building the per-request ``Connection`` from the envelope, tearing it down
(a shielded cancel scope around an empty exit stack), shaping the result (dumped from
its model, then validated and dumped again by the per-version surface), and the deep copy
of the server's identity stamped on every 2026-07-28 result.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import mcp_types as types
import uvloop
from mcp.server.connection import Connection
from mcp.server.lowlevel import Server
from mcp.server.runner import aclose_shielded, serve_one
from mcp.shared.message import ServerMessageMetadata
from mcp.shared.transport_context import TransportContext
from mcp_types import methods

from bench.servers import SEARCH_ANSWER

VERSION = "2026-07-28"
CALLS = 20_000
PARAMS = {
    "name": "search_recipes",
    "arguments": {"query": "curry"},
    "_meta": {
        "io.modelcontextprotocol/protocolVersion": VERSION,
        "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {},
    },
}
# what pantry-mcp's search_recipes returns for Pantry's stubbed answer (bench/servers.py)
RESULT = {
    "content": [{"type": "text", "text": "10 recipes match 'curry'; showing 1-10."}],
    "structuredContent": {
        "summary": "10 recipes match 'curry'; showing 1-10.",
        "results": [
            {k: item[k] for k in ("id", "title", "total_minutes", "summary")}
            for item in SEARCH_ANSWER["items"]  # type: ignore[attr-defined]
        ],
        "page": 1,
        "total": 10,
        "has_more": False,
    },
    "isError": False,
    "resultType": "complete",
}


class _Context:
    """The dispatch context of a request with no back channel (as single_exchange's)."""

    def __init__(self) -> None:
        self.transport = TransportContext(kind="streamable-http", can_send_request=False)
        self.request_id = 1
        self.message_metadata = ServerMessageMetadata(request_context=None)
        self.progress_token = None
        self.can_send_request = False
        self.cancel_requested = anyio.Event()

    async def send_raw_request(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("no back channel")

    async def notify(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def progress(self, *args: Any, **kwargs: Any) -> None:
        return None


def _server() -> Server[Any]:
    result = types.CallToolResult.model_validate(RESULT)

    async def call_tool(ctx: Any, params: Any) -> types.CallToolResult:
        return result  # a model, as pantry-mcp's handlers return

    server: Server[Any] = Server("kernel", on_call_tool=call_tool)
    server.middleware = []  # as pantry-mcp runs it with traces off: no OpenTelemetry span
    return server


def _connection() -> Connection:
    return Connection.from_envelope(VERSION, types.Implementation(name="b", version="1"), None)


async def _per_call(step: Callable[[], Awaitable[Any]], calls: int) -> float:
    for _ in range(calls // 10):  # warm up
        await step()
    started = time.process_time()
    for _ in range(calls):
        await step()
    return round((time.process_time() - started) / calls * 1e6, 1)


async def _measure(calls: int) -> dict[str, float]:
    server = _server()
    context = _Context()

    async def kernel() -> None:
        await serve_one(
            server, context, "tools/call", PARAMS, connection=_connection(), lifespan_state=None
        )

    async def envelope() -> None:
        _connection()

    connection = _connection()

    async def teardown() -> None:
        await aclose_shielded(connection)

    async def reshape() -> None:
        methods.serialize_server_result("tools/call", VERSION, dict(RESULT))

    named = Server("pantry-mcp", version="0.1.0", title="Pantry")  # pantry-mcp's identity

    async def stamp() -> None:
        named.server_info_stamp  # noqa: B018 - the property is the work being timed

    return {
        "serve_one_us": await _per_call(kernel, calls),
        "connection_from_envelope_us": await _per_call(envelope, calls),
        "connection_teardown_us": await _per_call(teardown, calls),
        "result_revalidation_us": await _per_call(reshape, calls),
        "server_info_stamp_us": await _per_call(stamp, calls),
    }


def run(calls: int = CALLS) -> dict[str, float]:
    return uvloop.run(_measure(calls))


def lines(results: dict[str, float]) -> str:
    return (
        f"SDK kernel, in-process (one `serve_one` with a trivial tool, no HTTP): "
        f"{results['serve_one_us']} µs of CPU per request; of which building the per-request "
        f"Connection {results['connection_from_envelope_us']} µs, tearing it down "
        f"{results['connection_teardown_us']} µs, re-validating a search result "
        f"{results['result_revalidation_us']} µs, copying the serverInfo stamp "
        f"{results['server_info_stamp_us']} µs"
    )
