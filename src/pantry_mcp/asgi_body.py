"""Reading a request body in ASGI middleware and handing it on unchanged."""

from __future__ import annotations

from typing import Any

from starlette.types import Message, Receive, Scope

from pantry_mcp.strict_json import INVALID_REQUEST, PARSE_ERROR, Refusal, decode

MAX_BODY = 1024 * 1024  # JSON-RPC messages are small; anything larger is refused with 413


_PARSED = "pantry.parsed_body"  # scope key: (body, its JSON, why it is refused) of the first parse
NOT_JSON = object()  # what ``parsed`` gives for a body that is not JSON


def _decoded(scope: Scope, body: bytes) -> tuple[Any, Refusal | None]:
    """``body`` decoded and checked once per request however many middlewares ask."""
    cached = scope.get(_PARSED)
    if cached is not None and cached[0] == body:  # a memcmp, far cheaper than a parse
        return cached[1], cached[2]
    message, refused = decode(body)
    if refused is not None and refused.code in (PARSE_ERROR, INVALID_REQUEST) and message is None:
        message = NOT_JSON
    scope[_PARSED] = (body, message, refused)
    return message, refused


def parsed(scope: Scope, body: bytes) -> Any:
    """``body`` as JSON (NOT_JSON if it is not)."""
    return _decoded(scope, body)[0]


def refusal(scope: Scope, body: bytes) -> Refusal | None:
    """Why the body must be refused below any schema (``strict_json``), or None."""
    return _decoded(scope, body)[1]


async def read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The whole body, or (b"", True) as soon as it grows past ``limit``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), False


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive that yields ``body`` once, then whatever the client sends next."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # later messages (a disconnect) come from the client

    return replayed
