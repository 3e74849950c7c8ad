"""/metrics: what one tool call and one refused token move."""

from __future__ import annotations

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import McpServerFactory
from tests.issuer import running_issuer

pytestmark = pytest.mark.anyio


async def scrape(mcp_url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    async with httpx2.AsyncClient() as http:
        response = await http.get(mcp_url.replace("/mcp", "/metrics"))
    assert response.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_a_tool_call_moves_the_counters(mcp_server: McpServerFactory) -> None:
    url = mcp_server()
    async with Client(url, mode="2026-07-28") as client:
        await client.call_tool("search_recipes", {"query": "curry"})
        await client.call_tool("search_recipes", {"query": "curry", "page": 0})
        with pytest.raises(MCPError, match="Unknown tool"):
            await client.call_tool("no_such_tool_" + "x" * 40, {})
    samples = await scrape(url)
    assert value(samples, "pantry_mcp_tool_calls_total", tool="search_recipes", outcome="ok") == 1
    assert (
        value(samples, "pantry_mcp_tool_calls_total", tool="search_recipes", outcome="tool_error")
        == 1
    )
    assert value(samples, "pantry_mcp_tool_call_duration_seconds_count", tool="search_recipes") == 2
    assert (
        value(
            samples, "pantry_mcp_upstream_calls_total", method="GET", path="/recipes", status="200"
        )
        == 1
    )
    assert value(samples, "pantry_mcp_requests_total", method="tools/call", outcome="error") == 1
    assert not any("no_such_tool" in str(labels) for _, labels in samples)  # no minted series
    assert value(samples, "pantry_mcp_http_requests_total", route="/mcp", status="200") >= 3


async def test_refused_tokens_are_counted_by_reason(mcp_server: McpServerFactory) -> None:
    with running_issuer() as issuer:
        url = mcp_server(
            PANTRY_MCP_AUTH_ISSUER=issuer.url, PANTRY_MCP_RESOURCE_URL="http://127.0.0.1/mcp"
        )
        async with httpx2.AsyncClient() as http:
            await http.post(url, json={})
            await http.post(url, json={}, headers={"Authorization": "Bearer nonsense"})
        samples = await scrape(url)
    assert value(samples, "pantry_mcp_auth_failures_total", reason="missing_token") == 1
    assert value(samples, "pantry_mcp_auth_failures_total", reason="invalid_token") == 1


async def test_open_stateful_sessions_are_a_gauge(mcp_server: McpServerFactory) -> None:
    url = mcp_server(PANTRY_MCP_STATEFUL="true")
    assert value(await scrape(url), "pantry_mcp_sessions_open") == 0
    async with Client(url, mode="legacy") as staying:
        await staying.list_tools()
        async with Client(url, mode="legacy") as leaving:
            await leaving.list_tools()
            assert value(await scrape(url), "pantry_mcp_sessions_open") == 2
        # the client ended its session (DELETE); the SDK discards it as that request ends
        with anyio.fail_after(10):
            while True:  # bounded poll
                if value(await scrape(url), "pantry_mcp_sessions_open") == 1:
                    break
                await anyio.sleep(0.05)


async def test_the_stateless_default_has_no_session_gauge(mcp_server: McpServerFactory) -> None:
    samples = await scrape(mcp_server())
    assert not any(name == "pantry_mcp_sessions_open" for name, _ in samples)
