"""``/mcp`` handed straight to the MCP endpoint, past Starlette's exception layer and router.

Every MCP request goes to one path. In front of it Starlette's ``ExceptionMiddleware``, its
``Router`` and the ``Route`` cost about 3% of a tool call's CPU (a route match, a child
scope, three more coroutine frames and a wrapped ``send``) and do nothing for it: nothing
on the MCP path raises ``HTTPException``, and a crash is still answered by the outermost
error layer (``ServerErrorMiddleware``), as before. Everything else (other paths, ``/mcp/``,
websocket and lifespan scopes) goes on through the router as ever.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class DirectRoute:
    """The innermost middleware: an HTTP request for ``path`` goes to ``endpoint``."""

    def __init__(self, app: ASGIApp, path: str, endpoint: ASGIApp) -> None:
        self.app = app
        self.path = path
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.path:
            await self.endpoint(scope, receive, send)
        else:
            await self.app(scope, receive, send)
