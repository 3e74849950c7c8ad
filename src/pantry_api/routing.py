"""Declared operations: one place that turns an HTTP request into validated models,
runs the handler inside one database transaction, and shapes the reply.

Each route module declares its operations on a :class:`Router`; the same declarations
drive both the Starlette routes and the OpenAPI document, so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_origin

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pantry_api import strict_json
from pantry_api.errors import BadRequest, Conflict, NotFound, UnsupportedMediaType, ValidationFailed
from pantry_api.store import idempotency
from pantry_api.store.db import Database
from pantry_api.strict_url import check_path, check_query

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
ACTING_USER_HEADER = "x-pantry-user"
IDEMPOTENCY_HEADER = "idempotency-key"


@dataclass
class Call:
    """What a handler gets: the acting user and an open transaction."""

    user: str
    conn: AsyncConnection
    request: Request


@dataclass(frozen=True)
class Reply:
    """A handler's answer when the status is not the operation's default."""

    body: BaseModel | None
    status: int
    media_type: str = "application/json"
    text: str | None = None


Handler = Callable[..., Awaitable[BaseModel | Reply | None]]


@dataclass(frozen=True)
class Operation:
    method: Method
    path: str
    handler: Handler
    summary: str
    tag: str
    path_model: type[BaseModel] | None
    query_model: type[BaseModel] | None
    body_model: type[BaseModel] | None
    response_model: type[BaseModel] | None
    status: int
    other_statuses: tuple[int, ...]
    errors: tuple[int, ...]
    idempotent: bool
    media_type: str

    @property
    def operation_id(self) -> str:
        return self.handler.__name__

    @property
    def writes(self) -> bool:
        return self.method != "GET"


@dataclass
class Router:
    tag: str
    operations: list[Operation] = field(default_factory=list)

    def add(
        self,
        method: Method,
        path: str,
        *,
        summary: str,
        path_model: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        body: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        other_statuses: tuple[int, ...] = (),
        errors: tuple[int, ...] = (),
        idempotent: bool = False,
        media_type: str = "application/json",
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            # 503: SQLite stayed locked past the busy timeout (any request may write: a
            # user's first creates them).
            standard = {400, 401, 422, 429, 503} | ({404} if path_model else set())
            if body is not None:
                standard |= {413, 415}
            if idempotent:
                standard |= {409}  # a key reused for a different request
            self.operations.append(
                Operation(
                    method=method,
                    path=path,
                    handler=handler,
                    summary=summary,
                    tag=self.tag,
                    path_model=path_model,
                    query_model=query,
                    body_model=body,
                    response_model=response,
                    status=status,
                    other_statuses=other_statuses,
                    errors=tuple(sorted(standard | set(errors))),
                    idempotent=idempotent,
                    media_type=media_type,
                )
            )
            return handler

        return register


def list_fields(model: type[BaseModel]) -> set[str]:
    return {
        name for name, info in model.model_fields.items() if get_origin(info.annotation) is list
    }


def _field_errors(error: ValidationError, where: str) -> list[dict[str, object]]:
    details: list[dict[str, object]] = []
    for item in error.errors(include_url=False, include_context=False, include_input=False):
        location = ".".join(str(part) for part in item["loc"])
        details.append(
            {"field": f"{where}.{location}" if location else where, "problem": item["msg"]}
        )
    return details


def _parse_query(model: type[BaseModel], request: Request) -> BaseModel:
    check_query(request)
    multi = list_fields(model)
    raw: dict[str, Any] = {}
    for key in request.query_params:
        values = request.query_params.getlist(key)
        raw[key] = values if key in multi else values[-1]
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise ValidationFailed(
            "A query parameter is invalid.", details=_field_errors(error, "query")
        ) from None


def _parse_path(op: Operation, request: Request) -> BaseModel:
    assert op.path_model is not None
    check_path(request)
    try:
        return op.path_model.model_validate(request.path_params)
    except ValidationError:
        raise NotFound(f"Nothing exists at {request.url.path}.") from None


async def _parse_body(model: type[BaseModel], request: Request) -> tuple[BaseModel, bytes]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise UnsupportedMediaType("Send the body as JSON with Content-Type: application/json.")
    raw = await request.body()
    strict_json.decode(raw)  # what JSON allows but Unicode, numbers or the stores do not
    try:
        return model.model_validate_json(raw), raw
    except ValidationError as error:
        if any(item["type"] == "json_invalid" for item in error.errors()):
            # The strict step let through what pydantic's parser does not: still malformed.
            raise BadRequest("The request body is not valid JSON.") from None
        raise ValidationFailed(
            "A field of the body is invalid.", details=_field_errors(error, "body")
        ) from None


def _render(op: Operation, result: BaseModel | Reply | None) -> tuple[int, bytes, str]:
    if isinstance(result, Reply):
        if result.text is not None:
            return result.status, result.text.encode(), result.media_type
        body = result.body.model_dump_json().encode() if result.body is not None else b""
        return result.status, body, result.media_type
    if result is None:
        return 204, b"", op.media_type
    return op.status, result.model_dump_json().encode(), op.media_type


Endpoint = Callable[[Request], Awaitable[Response]]


def build_routes(operations: list[Operation], db: Database) -> list[Route]:
    """One route per path, dispatching on the method, so a 405 lists every allowed method."""
    by_path: dict[str, dict[str, Endpoint]] = {}
    for op in operations:
        by_path.setdefault(op.path, {})[op.method] = _endpoint(op, db)
    routes = []
    for path, endpoints in by_path.items():

        async def dispatch(
            request: Request, endpoints: dict[str, Endpoint] = endpoints
        ) -> Response:
            method = "GET" if request.method == "HEAD" else request.method
            return await endpoints[method](request)

        routes.append(Route(path, dispatch, methods=list(endpoints)))
    return routes


def _endpoint(op: Operation, db: Database) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        user: str = request.scope["state"]["user"]
        kwargs: dict[str, Any] = {}
        if op.path_model is not None:
            kwargs["path"] = _parse_path(op, request)
        if op.query_model is not None:
            kwargs["query"] = _parse_query(op.query_model, request)
        raw_body = b""
        if op.body_model is not None:
            kwargs["body"], raw_body = await _parse_body(op.body_model, request)
        key = request.headers.get(IDEMPOTENCY_HEADER) if op.idempotent else None
        if key is not None:
            idempotency.check_key(key)
        fingerprint = idempotency.fingerprint(op.method, request.url.path, raw_body)

        if not op.writes:
            async with db.read() as conn:
                status, body, media_type = _render(
                    op, await op.handler(Call(user, conn, request), **kwargs)
                )
            return _response(status, body, media_type)

        try:
            async with db.write() as conn:
                if key is not None:
                    stored = await idempotency.lookup(conn, user, key, fingerprint)
                    if stored is not None:
                        return _response(stored.status, stored.body, op.media_type, replayed=True)
                status, body, media_type = _render(
                    op, await op.handler(Call(user, conn, request), **kwargs)
                )
                if key is not None:
                    await idempotency.remember(conn, user, key, fingerprint, status, body)
        except IntegrityError:
            # Another request with the same key won the race: answer with what it stored.
            if key is not None:
                async with db.read() as conn:
                    stored = await idempotency.lookup(conn, user, key, fingerprint)
                if stored is not None:
                    return _response(stored.status, stored.body, op.media_type, replayed=True)
            raise Conflict(
                "The change conflicts with the current state; read it again and retry."
            ) from None
        return _response(status, body, media_type)

    return endpoint


def _response(status: int, body: bytes, media_type: str, *, replayed: bool = False) -> Response:
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    if status == 204:
        return Response(status_code=204, headers=headers)
    return Response(body, status_code=status, media_type=media_type, headers=headers)
