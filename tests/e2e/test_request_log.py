"""Operators read one JSON line per MCP request, tied to its HTTP request id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
import structlog
from mcp import Client

from pantry_mcp.logging import configure
from tests.e2e.conftest import McpServerFactory

pytestmark = pytest.mark.anyio


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    configure("json", "info", stream=stream)
    yield stream
    structlog.reset_defaults()
    root.handlers[:], root.level = handlers, level


def lines(text: str) -> list[dict[str, Any]]:
    found = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
    return found


@pytest.mark.parametrize(
    ("mode", "stateful"), [("legacy", "0"), ("legacy", "1"), ("2026-07-28", "0")]
)
async def test_a_tool_call_is_one_line_with_its_upstream_calls(
    mcp_server: McpServerFactory, json_logs: io.StringIO, mode: str, stateful: str
) -> None:
    url = mcp_server(user="log-user", PANTRY_MCP_STATEFUL=stateful)
    async with Client(url, mode=mode) as client:
        await client.call_tool("whats_for_dinner", {"count": 2})
        await client.call_tool("search_recipes", {"query": "soup", "max_minutes": 0})
    records = lines(json_logs.getvalue())
    calls = [r for r in records if r.get("event") == "mcp_request" and r["method"] == "tools/call"]
    dinner, bad = calls
    assert dinner["name"] == "whats_for_dinner"
    assert dinner["user"] == "log-user"
    assert dinner["outcome"] == "ok"
    assert dinner["protocol_version"] == ("2025-11-25" if mode == "legacy" else "2026-07-28")
    assert {(u["method"], u["path"], u["status"]) for u in dinner["upstream"]} == {
        ("GET", "/users/me/preferences", 200),
        ("GET", "/recipes", 200),
        ("GET", "/pantry", 200),  # what expires soon
    }
    # The preferences question's check and the tool share one read of the preferences.
    paths = [u["path"] for u in dinner["upstream"]]
    assert paths.count("/users/me/preferences") == 1, paths
    assert bad["outcome"] == "tool_error"
    assert bad["upstream"] == []
    # The MCP line is the request's access line too: one line per MCP request.
    assert (dinner["http_method"], dinner["path"], dinner["status"]) == ("POST", "/mcp", 200)
    assert dinner["client"] == "127.0.0.1"
    assert dinner["http_duration_ms"] >= dinner["duration_ms"]
    by_id = [r for r in records if r.get("request_id") == dinner["request_id"]]
    assert by_id == [dinner]
    assert all(r["level"] in {"info", "warning", "error"} for r in records)
    assert "soup" not in json.dumps(calls)  # arguments are never logged


async def test_a_refusal_below_the_schema_is_logged_without_its_value(
    mcp_server: McpServerFactory, json_logs: io.StringIO
) -> None:
    url = mcp_server(user="log-user")
    body = (
        b'{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"search_recipes",'
        b'"arguments":{"query":"secret\\ud800"}}}'
    )
    headers = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "MCP-Protocol-Version": "2025-11-25",
    }
    async with httpx2.AsyncClient() as http:
        answer = await http.post(url, content=body, headers=headers)
    assert answer.json()["error"]["code"] == -32602
    records = lines(json_logs.getvalue())
    (refused,) = [r for r in records if r.get("event") == "jsonrpc_refused"]
    assert refused["code"] == -32602 and refused["status"] == 200
    assert "params.arguments.query" in refused["reason"]
    assert "secret" not in json_logs.getvalue()  # the place is logged, never the value
    (access,) = [r for r in records if r.get("event") == "http_request" and r["path"] == "/mcp"]
    assert access["request_id"] == refused["request_id"]
