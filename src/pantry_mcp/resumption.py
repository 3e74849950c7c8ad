"""``Last-Event-ID`` on ``GET /mcp``: this server keeps no event store, so no stream can be
resumed. The spec lets a server ignore the header, and that is what happens to a well-formed
one; the SDK, given the header and no store, would return without answering (a 500). A value
that is not a visible-ASCII token (RFC 9110 field values; SSE ids are text) is refused with
400 and a JSON-RPC error body.
"""

from __future__ import annotations

import re

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from pantry_mcp.strict_json import INVALID_REQUEST, Refusal

HEADER = b"last-event-id"
_TOKEN = re.compile(rb"[\x21-\x7e]{1,256}")


class IgnoreLastEventId:
    def __init__(self, app: ASGIApp, path: str) -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        values = [value for key, value in scope["headers"] if key == HEADER]
        if not values:
            await self.app(scope, receive, send)
            return
        if not all(_TOKEN.fullmatch(value) for value in values):
            refused = Refusal(INVALID_REQUEST, "Invalid Request: Last-Event-ID is not an event id")
            await JSONResponse(refused.response(), 400)(scope, receive, send)
            return
        headers = [(key, value) for key, value in scope["headers"] if key != HEADER]
        await self.app({**scope, "headers": headers}, receive, send)
