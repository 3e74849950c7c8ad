"""One log line per MCP request: method, tool/resource/prompt name, protocol version,
user, outcome, duration and every upstream Pantry call it made (method, path template,
status, duration). Never arguments, results or tokens.

Over HTTP, the line is also the request's access line: the MCP layer leaves its fields in
the request's ``AccessRecord`` and the HTTP layer (``app.RequestContext``) writes them
with its own (client, HTTP method, path, status, HTTP duration) as one line, just before
the answer's last bytes go out. A request with no HTTP record open for it (stdio, a
session's later requests on a stream, a batch's second request) gets a line of its own.
"""

from __future__ import annotations

import time
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types.jsonrpc import INVALID_PARAMS
from pydantic import ValidationError

from pantry_mcp.client import CallLog, current_calls
from pantry_mcp.logging import info_line
from pantry_mcp.metrics import Metrics
from pantry_mcp.tracing import add_trace_ids

ACCESS_RECORD = "pantry.access"  # ASGI scope key of the request's AccessRecord


class AccessRecord:
    """One HTTP request's line, being filled in: the MCP fields, once, while it is open."""

    __slots__ = ("mcp", "open")

    def __init__(self) -> None:
        self.mcp: dict[str, Any] | None = None
        self.open = True


def _claim(ctx: ServerRequestContext[Any, Any]) -> AccessRecord | None:
    """The request's open, still empty access record, if the MCP request came over HTTP."""
    request = ctx.request
    record = request.scope.get(ACCESS_RECORD) if request is not None else None
    if isinstance(record, AccessRecord) and record.open and record.mcp is None:
        return record
    return None


def _name(ctx: ServerRequestContext[Any, Any]) -> str | None:
    params = ctx.params or {}
    for key in ("name", "uri"):
        value = params.get(key)
        if isinstance(value, str):
            return value[:200]
    return None


def acting_user_id(ctx: ServerRequestContext[Any, Any]) -> str | None:
    """Who the request acts for, for the log and the trace: never more than the id."""
    request = ctx.request
    if request is not None:
        user = request.scope.get("state", {}).get("pantry_user")
        if isinstance(user, str):
            return user
    settings = getattr(ctx.lifespan_context, "settings", None)
    if settings is not None and settings.auth is None:
        return str(settings.user)
    return None


def _is_error(result: HandlerResult) -> bool:
    if isinstance(result, dict):
        return bool(result.get("isError"))
    return bool(getattr(result, "is_error", False))


KNOWN_METHODS = frozenset(
    {
        "initialize",
        "ping",
        "server/discover",
        "tools/list",
        "tools/call",
        "resources/list",
        "resources/templates/list",
        "resources/read",
        "prompts/list",
        "prompts/get",
        "completion/complete",
    }
)


class RequestLog:
    """A server (context-tier) middleware: wraps every request the SDK dispatches, logs
    it, and moves the metrics (labels only from known methods and tools: a client cannot
    mint new time series)."""

    def __init__(self, metrics: Metrics, *, trace_ids: bool = False) -> None:
        self.metrics = metrics
        self.trace_ids = trace_ids  # while traces are on: the line names the MCP span

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        if ctx.request_id is None:  # a notification: nothing to report
            return await call_next(ctx)
        started = time.perf_counter()
        calls = CallLog()
        token = current_calls.set(calls)
        outcome, code = "ok", None
        try:
            result = await call_next(ctx)
            if _is_error(result):
                outcome = "tool_error"
            return result
        except MCPError as error:
            outcome, code = "error", error.error.code
            raise
        except ValidationError:  # the SDK refusing malformed params: the client's mistake
            outcome, code = "error", INVALID_PARAMS
            raise
        except Exception:
            outcome = "crash"
            raise
        finally:
            current_calls.reset(token)
            calls.reads.clear()  # the answers shared within this request: nobody needs them now
            seconds = time.perf_counter() - started
            method = ctx.method if ctx.method in KNOWN_METHODS else "other"
            name = _name(ctx)
            registry = getattr(ctx.lifespan_context, "registry", None)
            tool = name if registry is not None and name and registry.get(name) else None
            self.metrics.mcp_request(method, tool, outcome, seconds, calls.calls)
            fields: dict[str, Any] = {
                "method": ctx.method,
                "name": name,
                "protocol_version": ctx.protocol_version,
                "user": acting_user_id(ctx),
                "outcome": outcome,
                "error_code": code,
                "duration_ms": round(seconds * 1000, 1),
                "upstream": [
                    {"method": c.method, "path": c.path, "status": c.status, "ms": c.duration_ms}
                    for c in calls.calls
                ],
            }
            if self.trace_ids:  # the HTTP layer writes the line outside this span
                add_trace_ids(None, "", fields)
            record = _claim(ctx)
            if record is not None:
                record.mcp = fields
            else:
                info_line("pantry_mcp.mcp", "mcp_request", fields)
