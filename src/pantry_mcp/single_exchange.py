"""One JSON-RPC request per POST, answered by one call into the SDK's kernel.

A request that stands alone (every 2026-07-28 request; a 2025-11-25 request on the
stateless path) is one call of ``serve_one``, the SDK's per-request kernel, which runs our
on_* handlers behind the server middleware. The SDK's own HTTP entries wrap that call in
layers that cost more than the tool call itself: a whole session per stateless 2025-11-25
request (transport, memory streams, a dispatcher task and their teardown), and on the
2026-07-28 path a Starlette request, pydantic envelope models and a pydantic pass over
the answer. Here the body is already parsed once (``asgi_body.parsed``), the connection
is set up exactly as the SDK's entries set it up, and the answer is written as JSON.

Only requests the SDK would accept take this path: the SDK's own checks decide
(``classify_inbound_request``, the duplicated-header check, the ``Mcp-Param`` headers),
and anything they refuse, and anything unusual (initialize, notifications, batches,
sessions, ``subscriptions/listen``, missing Accept or Content-Type), goes to the SDK
unchanged, so every refusal is still the SDK's own answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import anyio
import pydantic_core
import structlog
from mcp.server.connection import Connection
from mcp.server.lowlevel import Server
from mcp.server.runner import serve_one
from mcp.shared.dispatcher import CallOptions
from mcp.shared.exceptions import NoBackChannelError
from mcp.shared.inbound import (
    ERROR_CODE_HTTP_STATUS,
    InboundModernRoute,
    classify_inbound_request,
    find_duplicated_routing_header,
    x_mcp_header_map,
)
from mcp.shared.jsonrpc_dispatcher import (
    handler_exception_to_error_data,
    progress_token_from_params,
)
from mcp.shared.message import MessageMetadata, ServerMessageMetadata
from mcp.shared.transport_context import TransportContext
from mcp_types import DEFAULT_NEGOTIATED_VERSION, ErrorData, ProgressToken, RequestId
from mcp_types.jsonrpc import INTERNAL_ERROR
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from pantry_mcp.asgi_body import MAX_BODY, NOT_JSON, parsed, read_body, replay

log = structlog.get_logger("pantry_mcp.mcp")
_JSON_HEADERS = [(b"content-type", b"application/json")]


@dataclass
class _OneRequest:
    """The dispatch context of one request with no back channel (``DispatchContext``).

    Answers are single JSON bodies, so notifications and progress have nowhere to go,
    as in the SDK's JSON-response mode; a request to the client is refused."""

    transport: TransportContext
    request_id: RequestId
    message_metadata: MessageMetadata
    progress_token: ProgressToken | None = None
    can_send_request: bool = False
    _cancel: anyio.Event | None = field(default=None, repr=False)

    @property
    def cancel_requested(self) -> anyio.Event:
        if self._cancel is None:  # made on demand: an Event costs a look-up of the event loop
            self._cancel = anyio.Event()
        return self._cancel

    async def send_raw_request(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> dict[str, Any]:
        raise NoBackChannelError(method)

    async def notify(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> None:
        return None

    async def progress(
        self, progress: float, total: float | None = None, message: str | None = None
    ) -> None:
        return None


def _json(answer: dict[str, Any]) -> bytes:
    """The answer's body: pydantic-core's encoder (a third of the json module's time), or
    the json module for what UTF-8 cannot hold (a lone surrogate, sent as its escape)."""
    try:
        return pydantic_core.to_json(answer)
    except pydantic_core.PydanticSerializationError:
        return json.dumps(answer, separators=(",", ":")).encode()


def _accepts_json(accept: str) -> bool:
    types = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    return bool(types & {"application/json", "application/*", "*/*"})


def _lone_request(message: Any) -> TypeGuard[dict[str, Any]]:
    """One JSON-RPC request (the JSON-RPC guard has already checked its envelope)."""
    return (
        isinstance(message, dict)
        and isinstance(message.get("method"), str)
        and message["method"] not in ("initialize", "subscriptions/listen")
        and "id" in message
        and isinstance(message["id"], str | int)
        and not isinstance(message["id"], bool)
        and isinstance(message.get("params", {}), dict)
    )


class SingleExchange:
    """ASGI in front of the SDK's streamable HTTP app. ``stateless`` says whether lone
    2025-11-25 requests are ours too (in the stateful mode they belong to a session)."""

    def __init__(
        self,
        sdk_app: ASGIApp,
        server: Server[Any],
        lifespan_state: Callable[[], Any],
        *,
        stateless: bool,
    ) -> None:
        self.sdk_app = sdk_app
        self.server = server
        self.lifespan_state = lifespan_state
        self.stateless = stateless
        self._param_headers: dict[str, bool] = {}  # tool name: its schema names Mcp-Param headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.sdk_app(scope, receive, send)
            return
        pairs = [
            (key.decode("latin-1"), value.decode("latin-1")) for key, value in scope["headers"]
        ]
        headers = dict(pairs)
        version = headers.get("mcp-protocol-version")
        legacy = version is None or version in HANDSHAKE_PROTOCOL_VERSIONS
        plain = (
            _accepts_json(headers.get("accept", ""))
            and headers.get("content-type", "").lower().startswith("application/json")
            and (not legacy or (self.stateless and "mcp-session-id" not in headers))
        )
        if not plain:
            await self.sdk_app(scope, receive, send)
            return
        body, too_large = await read_body(receive, MAX_BODY)
        message = NOT_JSON if too_large else parsed(scope, body)
        if _lone_request(message):
            route = (
                self._legacy_route(version)
                if legacy
                else self._modern_route(pairs, headers, message)
            )
            if route is not None:
                status, answer = await self._answer(scope, receive, message, route, legacy=legacy)
                payload = _json(answer)
                length = (b"content-length", str(len(payload)).encode())
                start = {"type": "http.response.start", "status": status}
                await send({**start, "headers": [*_JSON_HEADERS, length]})
                await send({"type": "http.response.body", "body": payload})
                return
        await self.sdk_app(scope, replay(body, receive), send)  # the SDK answers, as ever

    @staticmethod
    def _legacy_route(version: str | None) -> InboundModernRoute:
        # as the SDK's stateless path: born ready at the header's version, no client info
        return InboundModernRoute(version or DEFAULT_NEGOTIATED_VERSION, None, None)

    def _modern_route(
        self, pairs: list[tuple[str, str]], headers: dict[str, str], message: dict[str, Any]
    ) -> InboundModernRoute | None:
        """The SDK's ladder, as its 2026-07-28 entry runs it; None if it refuses.
        ``headers`` is ``dict(pairs)``."""
        if find_duplicated_routing_header(pairs) is not None:
            return None
        verdict = classify_inbound_request(message, headers=headers)
        if not isinstance(verdict, InboundModernRoute):
            return None
        if message["method"] == "tools/call":
            name = message.get("params", {}).get("name")
            if not isinstance(name, str) or self._names_param_headers(name):
                return None  # the SDK compares Mcp-Param headers with the arguments
        return verdict

    def _names_param_headers(self, tool: str) -> bool:
        known = self._param_headers.get(tool)
        if known is None:
            lookup = self.server.get_tool_input_schema
            schema = lookup(tool) if lookup is not None else None
            known = bool(x_mcp_header_map(schema)) if schema is not None else False
            if schema is not None:
                self._param_headers[tool] = known
        return known

    async def _answer(
        self,
        scope: Scope,
        receive: Receive,
        message: dict[str, Any],
        route: InboundModernRoute,
        *,
        legacy: bool,
    ) -> tuple[int, dict[str, Any]]:
        request_id = message["id"]
        params = message.get("params")
        request = Request(scope, receive)
        # as each SDK entry builds it: the 2026-07-28 one hands the handlers the headers
        transport = TransportContext(
            kind="streamable-http",
            can_send_request=False,
            headers=None if legacy else request.headers,
        )
        context = _OneRequest(
            transport=transport,
            request_id=request_id,
            message_metadata=ServerMessageMetadata(request_context=request),
            progress_token=progress_token_from_params(params),
        )
        connection = Connection.from_envelope(
            route.protocol_version, route.client_info, route.client_capabilities
        )
        try:
            result = await serve_one(
                self.server,
                context,
                message["method"],
                params,
                connection=connection,
                lifespan_state=self.lifespan_state(),
            )
        except Exception as exc:
            error = handler_exception_to_error_data(exc)
            if error is None:  # never a handler's own text on the wire
                log.exception("mcp_handler_crashed", method=message["method"])
                error = ErrorData(code=INTERNAL_ERROR, message="Internal error")
            wire = error.model_dump(mode="json", by_alias=True, exclude_none=True)
            # 2025-11-25 answers errors with 200; 2026-07-28 maps codes to statuses
            status = 200 if legacy else ERROR_CODE_HTTP_STATUS.get(error.code, 200)
            return status, {"jsonrpc": "2.0", "id": request_id, "error": wire}
        return 200, {"jsonrpc": "2.0", "id": request_id, "result": result}
