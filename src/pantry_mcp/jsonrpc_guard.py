"""Refuse malformed JSON-RPC before the SDK sees it, with a plain JSON-RPC error.

On the 2025-11-25 transport the SDK answers such messages with pydantic's own text, and
takes a request whose id is null or an object for a notification. Below any schema, the
body must be JSON a server can keep (``strict_json``: valid Unicode, finite numbers, each
key once, bounded nesting). Every refusal is a JSON-RPC error object (``id: null`` when the
request id is unknown), also for a body over the size limit (HTTP 413).
"""

from __future__ import annotations

from typing import Any

import structlog
from mcp.shared.inbound import ERROR_CODE_HTTP_STATUS
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from pantry_mcp.asgi_body import MAX_BODY, parsed, read_body, refusal, replay
from pantry_mcp.strict_json import INVALID_REQUEST, Refusal

_HANDSHAKE = {version.encode() for version in HANDSHAKE_PROTOCOL_VERSIONS}
log = structlog.get_logger("pantry_mcp.mcp")


def problem(message: Any) -> str | None:
    """What is wrong with one JSON-RPC message, or None."""
    if not isinstance(message, dict):
        return "a message must be a JSON object"
    if message.get("jsonrpc") != "2.0":
        return 'jsonrpc must be "2.0"'
    if "id" in message and (
        isinstance(message["id"], bool) or not isinstance(message["id"], str | int)
    ):
        return "id must be a string or an integer"
    if "method" in message:
        if not isinstance(message["method"], str):
            return "method must be a string"
        if "params" in message and not isinstance(message["params"], dict):
            return "params must be an object"
    elif not ("id" in message and ("result" in message or "error" in message)):
        return "a message needs a method (or an id with a result or an error)"
    return None


class JsonRpcGuard:
    def __init__(self, app: ASGIApp, path: str) -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body, too_large = await read_body(receive, MAX_BODY)
        if too_large:
            limit = f"Invalid Request: the body is larger than {MAX_BODY // 1024} KiB"
            await _refuse(scope, receive, send, Refusal(INVALID_REQUEST, limit), 413)
            return
        refused = refusal(scope, body)
        if refused is None:
            message = parsed(scope, body)
            wrong = problem(message)
            if wrong is not None:
                refused = Refusal(INVALID_REQUEST, f"Invalid Request: {wrong}")
        if refused is not None:
            await _refuse(scope, receive, send, refused, _status(scope, refused))
            return
        await self.app(scope, replay(body, receive), send)


def _status(scope: Scope, refused: Refusal) -> int:
    """As the SDK answers: on 2025-11-25 an error about a known request is a normal answer
    (200), one it cannot tie to a request is 400; 2026-07-28 maps codes to statuses."""
    modern = any(
        key == b"mcp-protocol-version" and value not in _HANDSHAKE
        for key, value in scope["headers"]
    )
    if not modern and refused.request_id is not None:
        return 200
    return ERROR_CODE_HTTP_STATUS.get(refused.code, 400)


async def _refuse(
    scope: Scope, receive: Receive, send: Send, refused: Refusal, status: int
) -> None:
    # the access line alone would show a 200 for a refused request: say what was refused
    # (the code and the place; never the value, which the client chose)
    log.info("jsonrpc_refused", code=refused.code, reason=refused.message[:200], status=status)
    await JSONResponse(refused.response(), status)(scope, receive, send)
