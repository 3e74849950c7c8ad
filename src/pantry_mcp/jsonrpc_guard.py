"""Refuse malformed JSON-RPC before the SDK sees it, with a plain JSON-RPC error.

On the 2025-11-25 transport the SDK answers such messages with pydantic's own text, and
takes a request whose id is null or an object for a notification. JSON that does not parse
is left to the SDK, whose parse error is already clean.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from pantry_mcp.asgi_body import MAX_BODY, NOT_JSON, parsed, read_body, replay

INVALID_REQUEST = -32600


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
            await JSONResponse({"error": "payload_too_large"}, 413)(scope, receive, send)
            return
        try:
            message = parsed(scope, body)
            # not JSON at all: the SDK's parse error says so
            wrong = None if message is NOT_JSON else problem(message)
        except RecursionError:
            wrong = "the JSON is nested too deeply"
        if wrong is not None:
            error = {"code": INVALID_REQUEST, "message": f"Invalid Request: {wrong}"}
            await JSONResponse({"jsonrpc": "2.0", "id": None, "error": error}, 400)(
                scope, receive, send
            )
            return
        await self.app(scope, replay(body, receive), send)
