"""The Starlette application: /mcp (streamable HTTP, both protocol eras), health routes,
and the middleware in front of them, in order: request id and access log first."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pantry_mcp.client import PantryClient
from pantry_mcp.config import Settings
from pantry_mcp.handlers import TOOLS
from pantry_mcp.registry import Registry
from pantry_mcp.server import build_server

access_log = structlog.get_logger("pantry_mcp.access")
LOOPBACK_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
LOOPBACK_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]


class RequestContext:
    """Give every request an id (the caller's X-Request-ID if sane), bind it to the logs,
    echo it back, and write one access-log line when the response has been sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = (
            incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else secrets.token_hex(8)
        )
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                access_log.info(
                    "http_request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 1),
                )


class TrimHeaderValues:
    """Drop the optional white space around header values (RFC 9110 5.5).

    uvicorn's httptools parser keeps trailing spaces and tabs, and the SDK compares
    ``Mcp-Name`` and friends to the body exactly, so ``"search_recipes "`` would fail.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {**scope, "headers": [(k, v.strip(b" \t")) for k, v in scope["headers"]]}
        await self.app(scope, receive, send)


def create_app(settings: Settings, *, client: PantryClient | None = None) -> Starlette:
    """``client`` lets tests hand in a Pantry client of their own; it is closed on shutdown."""
    pantry = client or PantryClient(
        settings.pantry_url, settings.pantry_token, timeout=settings.pantry_timeout
    )
    registry = Registry(TOOLS)
    server = build_server(settings, registry, pantry)
    manager = StreamableHTTPSessionManager(
        app=server,
        stateless=not settings.stateful,
        security_settings=TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=LOOPBACK_HOSTS,
            allowed_origins=LOOPBACK_ORIGINS,
        ),
    )

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        if await pantry.ready():
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "not ready", "pantry": "unreachable"}, status_code=503)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            async with manager.run():
                yield
        finally:
            await pantry.aclose()

    return Starlette(
        routes=[
            Route("/mcp", StreamableHTTPASGIApp(manager)),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
        ],
        middleware=[Middleware(RequestContext), Middleware(TrimHeaderValues)],
        lifespan=lifespan,
    )
