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
