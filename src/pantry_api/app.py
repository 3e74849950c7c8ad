"""The Pantry REST service as a Starlette application."""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from pantry_api.config import Settings
from pantry_api.errors import ApiError, error_response
from pantry_api.login.routes import PATH as LOGIN_PATH
from pantry_api.login.routes import LoginPage
from pantry_api.middleware import BodyLimit, RateLimit, ServiceAuth
from pantry_api.openapi import build as build_openapi
from pantry_api.routes import ingredients, meal_plans, pantry, recipes, users
from pantry_api.routing import Operation, build_routes
from pantry_api.seed import seed_if_empty
from pantry_api.store import idempotency
from pantry_api.store.db import Database
from pantry_api.store.users import ensure as ensure_user

if TYPE_CHECKING:
    from pantry_api.tracing import Tracing

log = structlog.get_logger("pantry_api")
# The REST contract's own version (the OpenAPI document's), apart from the release's.
API_VERSION = "1.0.0"
ROUTERS = (recipes.router, ingredients.router, pantry.router, users.router, meal_plans.router)


def operations() -> list[Operation]:
    return [op for router in ROUTERS for op in router.operations]


class KnownUsers:
    """Creates each acting user's row the first time this process sees them.

    Done in its own short write transaction, so read requests never need the write lock.
    """

    MAX_REMEMBERED = 50_000

    def __init__(self, app: ASGIApp, db: Database) -> None:
        self.app = app
        self.db = db
        self.seen: OrderedDict[str, None] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("state", {}).get("user") if scope["type"] == "http" else None
        if user is not None and user not in self.seen:
            try:
                async with self.db.write() as conn:
                    await ensure_user(conn, user)
            except ApiError as error:  # outside the routes: render it here (a busy database)
                await error.response()(scope, receive, send)
                return
            self.seen[user] = None
            if len(self.seen) > self.MAX_REMEMBERED:
                self.seen.popitem(last=False)
        await self.app(scope, receive, send)


async def _api_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return error_response(
            405,
            "method_not_allowed",
            f"{request.method} is not allowed on {request.url.path}.",
            headers=dict(exc.headers or {}),
        )
    if exc.status_code == 404:
        return error_response(
            404, "not_found", f"No endpoint at {request.url.path}; see /openapi.json."
        )
    return error_response(exc.status_code, "http_error", str(exc.detail))


async def _server_error(_: Request, exc: Exception) -> Response:
    log.error("unhandled_error", error_type=type(exc).__name__)
    return error_response(500, "internal_error", "Pantry failed to handle this request.")


def create_app(
    settings: Settings, *, db: Database | None = None, tracing: Tracing | None = None
) -> Starlette:
    """The service; with ``tracing``, a span per request and per SQL statement, flushed
    when the app stops."""
    if not settings.service_token:
        raise ValueError("a service token is required to build the app")
    database = db or Database.for_settings(settings)
    app_class = Starlette
    if tracing is not None:
        from pantry_api.traced_requests import traced_starlette

        tracing.instrument(database.engine)
        app_class = traced_starlette(tracing.tracer)
    # Without a configured secret (the CLI always passes one), sessions last one process.
    login = LoginPage(
        settings, database, session_secret=settings.session_secret or secrets.token_urlsafe(32)
    )
    ops = operations()
    document = build_openapi(ops, title="Pantry API", version=API_VERSION)

    async def openapi(_: Request) -> Response:
        return JSONResponse(document)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[dict[str, Any]]:
        applied = await database.migrate()
        seeded = False
        async with database.write() as conn:
            if settings.seed:
                seeded = await seed_if_empty(conn, demo_account=settings.demo_account)
            await idempotency.forget_expired(conn)
        log.info(
            "pantry_api_ready", dialect=database.dialect, migrations_applied=applied, seeded=seeded
        )
        if tracing is not None:
            tracing.settle()
        try:
            yield {}
        finally:
            try:
                await login.aclose()
                await database.close()
            finally:
                if tracing is not None:
                    tracing.shutdown()  # spans still queued go out before the process ends

    routes: list[BaseRoute] = [
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        # The sign-in page is HTML for browsers: outside the OpenAPI document on purpose.
        Route(LOGIN_PATH, login.endpoint, methods=["GET", "POST"]),
        *build_routes(ops, database),
    ]
    app = app_class(
        routes=routes,
        middleware=[
            Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
            Middleware(ServiceAuth, service_token=settings.service_token),
            Middleware(RateLimit, per_minute=settings.rate_limit_per_minute),
            Middleware(KnownUsers, db=database),
        ],
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
        lifespan=lifespan,
    )
    app.state.db = database
    return app
