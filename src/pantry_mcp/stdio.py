"""stdio with the same edge as HTTP: every line is checked by ``strict_json`` first.

The SDK's stdio transport parses each line itself: it keeps the last of repeated keys,
takes NaN and Infinity, and drops a line it cannot parse without answering, so the client
waits for an answer that never comes. Here each line is decoded strictly before the SDK
sees it; a refused line is answered at once with the JSON-RPC error (``id: null`` when the
request id is unknown, nothing for a notification, as JSON-RPC says) and never reaches the
server. Everything else, claiming stdout included, is the SDK's ``stdio_server``.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any, BinaryIO, cast

import anyio
import structlog
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp_types import ErrorData, JSONRPCError

from pantry_mcp.strict_json import Refusal, decode

log = structlog.get_logger("pantry_mcp.mcp")


class _CheckedLines:
    """The lines of stdin as text, refused ones answered here and left out."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = anyio.wrap_file(source)
        self._answers: Any = None  # the SDK's write stream, once it exists
        self._ready = anyio.Event()

    def answer_with(self, write_stream: Any) -> None:
        self._answers = write_stream
        self._ready.set()

    def __aiter__(self) -> AsyncIterator[str]:
        return self._lines()

    async def _lines(self) -> AsyncIterator[str]:
        async for raw in self._source:
            if not raw.strip():
                continue
            message, refused = decode(raw)
            if refused is None:
                yield raw.decode("utf-8-sig")
                continue
            if _is_notification(message):
                continue  # JSON-RPC answers no notification, not even to refuse it
            await self._answer(refused)

    async def _answer(self, refused: Refusal) -> None:
        log.info("jsonrpc_refused", code=refused.code, reason=refused.message[:200])
        await self._ready.wait()
        error = ErrorData(code=refused.code, message=refused.message)
        reply = JSONRPCError(jsonrpc="2.0", id=refused.request_id, error=error)
        # the server may be shutting down: then nobody is left to answer
        with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
            await self._answers.send(SessionMessage(reply))


def _is_notification(message: Any) -> bool:
    return isinstance(message, dict) and "method" in message and "id" not in message


@asynccontextmanager
async def checked_stdio() -> AsyncIterator[tuple[Any, Any]]:
    """``stdio_server()``, reading stdin through the strict check."""
    lines = _CheckedLines(sys.stdin.buffer)
    async with stdio_server(stdin=cast("Any", lines)) as (read_stream, write_stream):
        lines.answer_with(write_stream)
        yield read_stream, write_stream
