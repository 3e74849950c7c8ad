"""The SDK internals pantry-mcp reads, pinned: an SDK release that changes them fails here
first, with a message saying which of our seams to rework."""

from __future__ import annotations

from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

from pantry_mcp.server import open_sessions


def test_the_session_table_is_still_where_open_sessions_reads_it() -> None:
    manager = StreamableHTTPSessionManager(app=Server("seam"), stateless=False)
    assert hasattr(manager, "_server_instances"), (
        "StreamableHTTPSessionManager no longer has _server_instances: "
        "rework pantry_mcp.server.open_sessions (the pantry_mcp_sessions_open gauge)"
    )
    assert open_sessions(manager) == 0
    manager._server_instances["one"] = object()  # type: ignore[assignment]
    assert open_sessions(manager) == 1


def test_the_sdk_span_middleware_is_still_its_default_and_where_we_import_it() -> None:
    """pantry_mcp.traced_requests runs the SDK's OpenTelemetryMiddleware (from its private
    module mcp.server._otel) while traces are on; the low-level Server installs it by
    default, and builds its span from ctx.method, ctx.params, ctx.meta and the result."""
    from mcp.server import _otel

    from pantry_mcp.traced_requests import SdkSpan

    assert SdkSpan is _otel.OpenTelemetryMiddleware, (
        "mcp.server._otel.OpenTelemetryMiddleware moved: rework pantry_mcp.traced_requests"
    )
    assert any(isinstance(m, SdkSpan) for m in Server("seam").middleware), (
        "the SDK no longer installs OpenTelemetryMiddleware by default: check that "
        "pantry_mcp.traced_requests still gives the span the SDK's names and attributes"
    )
