"""The Starlette application: /mcp (streamable HTTP, both protocol eras), health routes,
and the middleware in front of them, in order: request id and access log first."""

from __future__ import annotations

import itertools
import os
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pantry_mcp.asgi_body import MAX_BODY
from pantry_mcp.auth.discovery import discovery_routes, resource_metadata_url
from pantry_mcp.auth.jwks import JwksCache
from pantry_mcp.auth.middleware import BearerAuth, HostOriginGuard
from pantry_mcp.auth.verifier import TokenVerifier
from pantry_mcp.client import PantryClient, pantry_client
from pantry_mcp.config import Settings
from pantry_mcp.handlers import TOOLS
from pantry_mcp.jsonrpc_guard import JsonRpcGuard
from pantry_mcp.logging import REQUEST_ID, info_line
from pantry_mcp.mcp_route import DirectRoute
from pantry_mcp.metrics import CONTENT_TYPE, Metrics
from pantry_mcp.registry import Registry
from pantry_mcp.request_log import ACCESS_RECORD, AccessRecord
from pantry_mcp.resumption import IgnoreLastEventId
from pantry_mcp.server import StateSlot, build_server, open_sessions
from pantry_mcp.single_exchange import SingleExchange
from pantry_mcp.tracing import Tracing

MCP_PATH = "/mcp"


class RequestContext:
    """Give every request an id (the caller's X-Request-ID if sane), bind it to the logs,
    echo it back, count it, and write its one line just before the answer's last bytes go
    out: the MCP request's line with the access fields added (``request_log``), or a plain
    access line for anything else."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"").decode(
            "latin-1"
        )
        request_id = (
            incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else _request_ids.next()
        )
        started = time.perf_counter()
        status = 0
        record = scope[ACCESS_RECORD] = AccessRecord()

        def write_line() -> None:
            record.open = False
            self.metrics.http_request(scope["path"], status)
            client = scope.get("client")
            access = {
                "client": client[0] if client else None,
                "path": scope["path"],
                "status": status,
            }
            seconds = round((time.perf_counter() - started) * 1000, 1)
            if record.mcp is not None:
                line = record.mcp  # the MCP layer's fields, then the access fields
                line.update(access)
                line["http_method"] = scope["method"]
                line["http_duration_ms"] = seconds
                info_line("pantry_mcp.mcp", "mcp_request", line)
            else:
                line = {"method": scope["method"], **access, "duration_ms": seconds}
                info_line("pantry_mcp.access", "http_request", line)

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])  # the SDK sends HTTPStatus members
                # (streamed answers already carry X-Accel-Buffering: no from the SDK)
                headers = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                message["headers"] = headers
            elif (
                message["type"] == "http.response.body"
                and not message.get("more_body", False)
                and record.open
            ):
                write_line()  # before the client can see the answer end, so lines come first
            await send(message)

        bound = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if record.open:  # no answer was sent (a crash, or the client went away)
                write_line()
            REQUEST_ID.reset(bound)


class _RequestIds:
    """Request ids: a random prefix per process and a counter, unique and cheaper than
    drawing 64 random bits per request."""

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)  # a child must not repeat its parent's

    def reset(self) -> None:
        self._prefix = secrets.token_hex(4)
        self._count = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._count):08x}"


_request_ids = _RequestIds()


class TrimHeaderValues:
    """Drop the optional white space around header values (RFC 9110 5.5).

    uvicorn's httptools parser keeps trailing spaces and tabs, and the SDK compares
    ``Mcp-Name`` and friends to the body exactly, so ``"search_recipes "`` would fail.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and any(
            value[:1] in _SPACE or value[-1:] in _SPACE for _, value in scope["headers"]
        ):
            scope = {**scope, "headers": [(k, v.strip(b" \t")) for k, v in scope["headers"]]}
        await self.app(scope, receive, send)


_SPACE = (b" ", b"\t")  # optional white space, by the one-byte slice at either end


def create_app(
    settings: Settings, *, client: PantryClient | None = None, tracing: Tracing | None = None
) -> Starlette:
    """``client`` lets tests hand in a Pantry client of their own; it is closed on shutdown.
    ``tracing``, when traces are on, is flushed and stopped on shutdown."""
    pantry = client or pantry_client(settings)
    registry = Registry(TOOLS)
    metrics = Metrics(workers=settings.workers)
    slot = StateSlot()
    server = build_server(settings, registry, pantry, metrics, slot)
    manager = StreamableHTTPSessionManager(
        app=server,
        stateless=not settings.stateful,
        security_settings=None,  # HostOriginGuard below checks Host and Origin first
        # Stateless, each answer is one JSON body: no SSE framing, and on 2026-07-28 no side
        # task and stream per request. Stateful sessions answer tool calls on an SSE stream,
        # the one channel that can carry the server's elicitation/create to a 2025-11-25
        # client within the call (the preferences question).
        json_response=not settings.stateful,
        max_request_body_size=MAX_BODY,
        session_idle_timeout=settings.session_idle_timeout,
        max_sessions=settings.max_sessions,
    )
    if settings.stateful:
        metrics.watch_sessions(lambda: open_sessions(manager))
    issuer_http = httpx2.AsyncClient(headers={"Accept": "application/json"})
    middleware = [
        Middleware(RequestContext, metrics=metrics),
        Middleware(TrimHeaderValues),
        Middleware(
            HostOriginGuard,
            hosts=settings.allowed_hosts,
            origins=settings.allowed_origins,
            path=MCP_PATH,
        ),
    ]
    # lone requests go straight to the SDK's kernel; the rest to its transports
    mcp_app = SingleExchange(
        StreamableHTTPASGIApp(manager), server, lambda: slot.value, stateless=not settings.stateful
    )
    routes = [Route(MCP_PATH, mcp_app)]
    keys: JwksCache | None = None
    guard = Middleware(JsonRpcGuard, path=MCP_PATH)
    if settings.auth is not None:
        keys = JwksCache(
            issuer_http, metadata_url=settings.auth.metadata_url, jwks_url=settings.auth.jwks_url
        )
        middleware.append(
            Middleware(
                BearerAuth,
                verifier=TokenVerifier(settings.auth, keys),
                resource_metadata_url=resource_metadata_url(settings.auth.resource_url),
                scope_for_tool=lambda name: spec.scope if (spec := registry.get(name)) else None,
                path=MCP_PATH,
                on_refusal=metrics.auth_failure,
            )
        )
        routes += discovery_routes(settings.auth, issuer_http)
    middleware.append(guard)  # innermost: after the bearer check, right before the SDK
    middleware.append(Middleware(IgnoreLastEventId, path=MCP_PATH))
    middleware.append(Middleware(DirectRoute, path=MCP_PATH, endpoint=mcp_app))

    async def metrics_page(_: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        problems = {}
        if not await pantry.ready():
            problems["pantry"] = "unreachable"
        if keys is not None and not keys.loaded:
            await keys.refresh()
            if not keys.loaded:
                problems["jwks"] = "not loaded"
        if problems:
            return JSONResponse({"status": "not ready", **problems}, status_code=503)
        return JSONResponse({"status": "ready"})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if keys is not None:
            await keys.refresh()  # a down issuer is retried on the first token, not fatal
        if tracing is not None:
            tracing.settle()
        try:
            async with manager.run():
                yield
        finally:
            await pantry.aclose()
            await issuer_http.aclose()
            if tracing is not None:
                tracing.shutdown()  # the last spans go out before the process ends

    app = Starlette(
        routes=[
            *routes,
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            *(
                []
                if settings.metrics_address
                else [Route("/metrics", metrics_page, methods=["GET"])]
            ),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    return app
