"""MCP Apps on the wire, with the official client in every mode and over stdio: tools link
their views, the views are served as self-contained ``ui://`` documents, and the server
declares the extension where the protocol has room for it (``server/discover``).
"""

from __future__ import annotations

import gzip
import re

import httpx2
import pytest
from mcp import Client
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID
from mcp.shared.exceptions import MCPError

from pantry_mcp.views import VIEWS
from tests.e2e.conftest import McpServerFactory
from tests.support import VIEW_ONLY_TOOL_NAMES, text_of

pytestmark = pytest.mark.anyio
MODES = ["legacy", "2026-07-28"]
MAX_VIEW_BYTES = 800 * 1024
LINKS = {
    "whats_for_dinner": "ui://pantry/dinner-ideas",
    "plan_week_meals": "ui://pantry/week-plan",
    "add_recipe_to_plan": "ui://pantry/week-plan",
    "get_shopping_list": "ui://pantry/shopping-list",
}
# Anything that would make a view load from the network: tags that fetch (HTML is not
# case-sensitive) and CSS imports or urls (CSS is; JavaScript's ``new URL("https:...")``
# inside the bundled libraries is not a fetch).
EXTERNAL_TAG = re.compile(
    r"<(?:script|link|img|iframe|object|embed)\b[^>]*\s(?:src|href|data)=", re.I
)
EXTERNAL_CSS = re.compile(r"@import|url\(\s*['\"]?(?:https?:)?//")


@pytest.mark.parametrize("mode", MODES)
async def test_tools_link_their_views_whatever_the_client_declares(
    mcp_server: McpServerFactory, mode: str
) -> None:
    async with Client(mcp_server(), mode=mode) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        metas = {name: (tool.meta or {}) for name, tool in tools.items()}
        linked = {name: m for name, m in metas.items() if "resourceUri" in m.get("ui", {})}
        assert {name: meta["ui"]["resourceUri"] for name, meta in linked.items()} == LINKS
        for name, meta in linked.items():
            assert meta["ui/resourceUri"] == LINKS[name]
            assert "visibility" not in meta["ui"]  # the model may call them
        for name in VIEW_ONLY_TOOL_NAMES:
            assert metas[name] == {"ui": {"visibility": ["app"]}}


async def test_the_extension_is_declared_in_server_discover(
    mcp_server: McpServerFactory,
) -> None:
    """Sent as a client sends it (the SDK client does not itself ask for discover)."""
    envelope = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    body = {"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": envelope}}
    headers = {
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "server/discover",
        "Accept": "application/json, text/event-stream",
    }
    async with httpx2.AsyncClient() as http:
        response = await http.post(mcp_server(), json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["result"]["capabilities"]["extensions"] == {EXTENSION_ID: {}}


@pytest.mark.parametrize("mode", MODES)
async def test_views_are_listed_and_served_self_contained(
    mcp_server: McpServerFactory, mode: str
) -> None:
    async with Client(mcp_server(), mode=mode) as client:
        listed = {str(r.uri): r for r in (await client.list_resources()).resources}
        for uri, view in VIEWS.items():
            assert listed[uri].mime_type == APP_MIME_TYPE
            assert listed[uri].title == view.title
            contents = (await client.read_resource(uri)).contents
            assert len(contents) == 1
            document = contents[0]
            assert (str(document.uri), document.mime_type) == (uri, APP_MIME_TYPE)
            assert document.meta == {"ui": {"prefersBorder": True}}  # no csp: no network
            html = text_of(document)
            assert html.startswith("<!doctype html>")
            assert f'<body data-view="{view.name}">' in html
            assert not EXTERNAL_TAG.search(html), EXTERNAL_TAG.search(html)
            style = html[html.index("<style>") : html.index("</style>")]
            assert not EXTERNAL_CSS.search(style), EXTERNAL_CSS.search(style)
            size = len(html.encode())
            assert size <= MAX_VIEW_BYTES, f"{uri} is {size} bytes"
            assert len(gzip.compress(html.encode())) < size / 2
        with pytest.raises(MCPError, match="Unknown resource"):
            await client.read_resource("ui://pantry/no-such-view")


async def test_a_client_without_ui_gets_the_same_text_and_structured_content(
    mcp_server: McpServerFactory,
) -> None:
    """The Python client declares no MCP Apps support: the results it gets are whole."""
    async with Client(mcp_server(), mode="2026-07-28") as client:
        plan = await client.call_tool("plan_week_meals", {"start_date": "2026-11-30", "days": 2})
        assert not plan.is_error
        assert text_of(plan.content[0]) == plan.structured_content["summary"]
        first = plan.structured_content["days"][0]["title"]
        assert first in text_of(plan.content[0])
