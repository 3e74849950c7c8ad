"""The single-exchange path answers exactly as the SDK's own transports would.

``single_exchange.py`` serves lone requests by one call of the SDK's kernel instead of
going through the SDK's HTTP entries. Two pantry-mcp apps in front of the same Pantry, one
as shipped and one with the SDK's streamable HTTP app mounted directly, get the same
requests of both protocol eras (results, tool errors, protocol errors, refusals by the
SDK's own checks): status, content type and JSON-RPC answer must be the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from pantry_mcp.app import MCP_PATH, create_app
from pantry_mcp.single_exchange import SingleExchange
from tests.support import RunningServer, mcp_settings, serve_in_thread, unique

pytestmark = pytest.mark.anyio

MODERN, LEGACY = "2026-07-28", "2025-11-25"
ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientInfo": {"name": "equivalence", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
CALLS: list[tuple[str, str, dict[str, Any]]] = [
    ("tools/list", "", {}),
    ("tools/call", "search_recipes", {"name": "search_recipes", "arguments": {"query": "soup"}}),
    ("tools/call", "search_recipes", {"name": "search_recipes", "arguments": {"query": ""}}),
    ("tools/call", "no_such_tool", {"name": "no_such_tool", "arguments": {}}),
    ("tools/call", "search_recipes", {"name": "search_recipes", "arguments": "not an object"}),
    ("resources/read", "recipe://no-such-recipe", {"uri": "recipe://no-such-recipe"}),
    ("resources/read", "pantry://current", {"uri": "pantry://current"}),
    ("resources/templates/list", "", {}),
    ("prompts/get", "weekly_meal_planning", {"name": "weekly_meal_planning", "arguments": {}}),
    ("prompts/get", "nope", {"name": "nope"}),
    ("no/such/method", "", {}),
    ("ping", "", {}),
]


def sdk_only(app: Starlette) -> Starlette:
    """The same app with the SDK's streamable HTTP app on /mcp, no single exchange."""
    for route in app.routes:
        if isinstance(route, Route) and route.path == MCP_PATH:
            assert isinstance(route.app, SingleExchange)
            route.app = route.app.sdk_app
            return app
    raise AssertionError("no /mcp route")


@pytest.fixture
def both(pantry_server: RunningServer) -> Iterator[tuple[str, str]]:
    user = unique("same-answers")
    with ExitStack() as stack:
        urls = [
            stack.enter_context(serve_in_thread(app)).base_url + MCP_PATH
            for app in (
                create_app(mcp_settings(pantry_server.base_url, user)),
                sdk_only(create_app(mcp_settings(pantry_server.base_url, user))),
            )
        ]
        yield urls[0], urls[1]


def request(era: str, method: str, name: str, params: dict[str, Any], number: int) -> Any:
    headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": era}
    if era == MODERN:
        params = {**params, "_meta": ENVELOPE}
        headers["Mcp-Method"] = method
        if name:
            headers["Mcp-Name"] = name
    body = {"jsonrpc": "2.0", "id": number, "method": method, "params": params}
    return headers, body


async def answer(http: httpx2.AsyncClient, url: str, headers: Any, body: Any) -> Any:
    response = await http.post(url, json=body, headers=headers)
    kind = response.headers.get("content-type", "")
    payload = response.json() if kind.startswith("application/json") else response.text
    return response.status_code, kind, payload


@pytest.mark.parametrize("era", [MODERN, LEGACY])
async def test_every_answer_is_the_sdks_own(both: tuple[str, str], era: str) -> None:
    ours, sdks = both
    async with httpx2.AsyncClient(timeout=30) as http:
        for number, (method, name, params) in enumerate(CALLS, 1):
            headers, body = request(era, method, name, params, number)
            fast = await answer(http, ours, headers, body)
            sdk = await answer(http, sdks, headers, body)
            assert fast == sdk, f"{era} {method} {name}:\n{json.dumps([fast, sdk], indent=1)}"


async def test_refusals_by_the_sdks_checks_are_the_sdks(both: tuple[str, str]) -> None:
    ours, sdks = both
    headers, body = request(MODERN, "tools/list", "", {}, 1)
    cases = [
        ({**headers, "Mcp-Method": "tools/call"}, body),  # the header disagrees with the body
        ({**headers, "MCP-Protocol-Version": "2099-01-01"}, body),  # an unknown version
        (headers, {**body, "params": {}}),  # no envelope in _meta
        ({**headers, "Content-Type": "text/plain"}, body),
        ({"Accept": "text/event-stream", "MCP-Protocol-Version": MODERN}, body),
    ]
    async with httpx2.AsyncClient(timeout=30) as http:
        for case_headers, case_body in cases:
            content = json.dumps(case_body).encode()
            fast = await http.post(ours, content=content, headers=case_headers)
            sdk = await http.post(sdks, content=content, headers=case_headers)
            assert fast.status_code == sdk.status_code >= 400, case_headers
            assert fast.text == sdk.text, case_headers
