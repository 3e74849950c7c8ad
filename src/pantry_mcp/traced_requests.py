"""A trace span for every MCP request: the SDK's own span, given the parent and the details
only this server knows. Installed only while traces are on.

The span itself is the SDK's ``OpenTelemetryMiddleware`` (mcp 2.3.0): named
``{method} {tool or prompt}`` by the MCP semantic conventions, it records the method,
protocol version, JSON-RPC request id, tool or prompt name, and ends as an error with the
JSON-RPC code (or ``tool_error``). Its parent is the trace context in the request's
``_meta``, else whatever context is current. Two middlewares of ours sit around it:

- ``HeaderParent`` (outside it): when ``_meta`` carries no trace context, the HTTP
  request's ``traceparent`` header becomes the current context, so the span continues
  the caller's trace. The SDK cannot do this itself: a stateful session's requests run in
  the session's own task, not in the HTTP request's.
- ``SpanDetails`` (inside it): the resource URI, the session, the transport, the acting
  user's id, and a link to the HTTP request's context when ``_meta`` named another parent
  (the conventions ask for both). Never arguments, results, tokens or headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp.server._otel import OpenTelemetryMiddleware
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context

from pantry_mcp.request_log import acting_user_id

SESSION_HEADER = "mcp-session-id"
TRACE_HEADERS = ("traceparent", "tracestate", "baggage")

__all__ = ["HeaderParent", "SdkSpan", "SpanDetails", "middlewares"]

# The SDK's span, from its private module: tests/pantry_mcp/test_sdk_seams.py fails first
# if a release moves or reshapes it.
SdkSpan = OpenTelemetryMiddleware


def _valid(parent: Context) -> bool:
    return trace.get_current_span(parent).get_span_context().is_valid


def _meta_parent(meta: Mapping[str, Any] | None) -> Context | None:
    if not meta or "traceparent" not in meta:
        return None
    try:
        parent = propagate.extract(meta)
    except (TypeError, ValueError):
        return None
    return parent if _valid(parent) else None


def _header_parent(ctx: ServerRequestContext[Any, Any]) -> Context | None:
    request = ctx.request
    if request is None:
        return None
    headers = request.headers
    carrier = {name: headers[name] for name in TRACE_HEADERS if name in headers}
    if "traceparent" not in carrier:
        return None
    parent = propagate.extract(carrier)
    return parent if _valid(parent) else None


class HeaderParent:
    """Outside the SDK's span: the HTTP ``traceparent`` as its parent when ``_meta`` has
    none (``_meta`` wins: one HTTP request may carry another MCP request's retry)."""

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        parent = None if _meta_parent(ctx.meta) is not None else _header_parent(ctx)
        if parent is None:
            return await call_next(ctx)
        token = otel_context.attach(parent)
        try:
            return await call_next(ctx)
        finally:
            otel_context.detach(token)


class SpanDetails:
    """Inside the SDK's span: what the conventions recommend and only we know."""

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        span = trace.get_current_span()
        if not span.is_recording():
            return await call_next(ctx)
        request = ctx.request
        attributes: dict[str, str] = {"network.transport": "pipe" if request is None else "tcp"}
        if request is not None:
            attributes["network.protocol.name"] = "http"
            session = request.headers.get(SESSION_HEADER)
            if session:
                attributes["mcp.session.id"] = session[:128]
            self._link_http_parent(span, ctx)
        uri = (ctx.params or {}).get("uri")
        if ctx.method == "resources/read" and isinstance(uri, str):
            attributes["mcp.resource.uri"] = uri[:300]
        user = acting_user_id(ctx)
        if user is not None:
            attributes["user.id"] = user
        span.set_attributes(attributes)
        return await call_next(ctx)

    @staticmethod
    def _link_http_parent(span: trace.Span, ctx: ServerRequestContext[Any, Any]) -> None:
        """``_meta`` named the parent: the HTTP request's own context, if it names another
        span, is kept as a link (the conventions' "link the ambient context")."""
        meta_parent, http_parent = _meta_parent(ctx.meta), _header_parent(ctx)
        if meta_parent is None or http_parent is None:
            return
        linked = trace.get_current_span(http_parent).get_span_context()
        if linked.span_id != trace.get_current_span(meta_parent).get_span_context().span_id:
            span.add_link(linked)


def middlewares() -> list[Any]:
    """The tracing middlewares, outermost first, to run before the request log."""
    return [HeaderParent(), SdkSpan(), SpanDetails()]
