"""The official MCP client, over real HTTP, against pantry-mcp in front of a real Pantry.

Each user request from the product brief is walked in every client mode: the 2025-11-25
initialize handshake (``legacy``), the stateless 2026-07-28 revision, and ``auto``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import PromptReference, ResourceTemplateReference

from pantry_mcp.views import VIEWS
from tests.e2e.conftest import McpServerFactory
from tests.support import LISTED_TOOL_NAMES, text_of

pytestmark = pytest.mark.anyio
MODES = ["legacy", "2026-07-28", "auto"]


def error_of(result: Any) -> dict[str, Any]:
    assert result.is_error, result
    assert result.structured_content is None
    body: dict[str, Any] = json.loads(text_of(result.content[0]))
    return body


@pytest.mark.parametrize("mode", MODES)
async def test_a_week_with_pantry(mcp_server: McpServerFactory, mode: str) -> None:
    async with Client(mcp_server(), mode=mode) as client:
        assert client.protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
        tools = await client.list_tools()
        assert [t.name for t in tools.tools] == list(LISTED_TOOL_NAMES)
        # "I bought milk and eggs and chickpeas"
        bought = await client.call_tool(
            "update_pantry",
            {
                "changes": [
                    {"action": "add", "ingredient": "milk", "quantity": 1, "unit": "l"},
                    {"action": "add", "ingredient": "eggs", "quantity": 12, "unit": "piece"},
                    {"action": "add", "ingredient": "chickpeas", "quantity": 2, "unit": "can"},
                ]
            },
        )
        assert not bought.is_error
        assert bought.structured_content["applied"] == 3
        assert text_of(bought.content[0]) == bought.structured_content["summary"]
        # "what can I make tonight"
        dinner = await client.call_tool("whats_for_dinner", {"count": 3})
        assert len(dinner.structured_content["suggestions"]) == 3
        # "plan me a week of dinners"
        plan = await client.call_tool("plan_week_meals", {"start_date": "2026-11-30"})
        plan_id = plan.structured_content["plan_id"]
        assert len(plan.structured_content["days"]) == 7
        # swap a day, then the list of what to buy
        swap = await client.call_tool(
            "add_recipe_to_plan", {"recipe_id": "chana-masala", "date": "2026-12-02"}
        )
        assert swap.structured_content["date"] == "2026-12-02"
        assert swap.structured_content["plan_id"] == plan_id
        shopping = await client.call_tool("get_shopping_list", {"plan_id": plan_id})
        assert shopping.structured_content["item_count"] > 0
        # the plan as a resource
        text = text_of((await client.read_resource(f"meal-plan://{plan_id}")).contents[0])
        assert "Chana Masala" in text


@pytest.mark.parametrize("mode", MODES)
async def test_save_a_recipe_a_friend_sent(mcp_server: McpServerFactory, mode: str) -> None:
    recipe = {
        "title": "Nonna's Lentil Soup",
        "ingredients": [
            {"name": "green lentils", "quantity": 250, "unit": "g"},
            {"name": "carrot", "quantity": 2, "unit": "piece"},
            {"name": "salt", "quantity": None, "unit": None},
        ],
        "steps": ["Simmer the lentils.", "Add the carrots."],
        "total_minutes": 45,
    }
    async with Client(mcp_server(), mode=mode) as client:
        saved = await client.call_tool("save_recipe", recipe)
        again = await client.call_tool("save_recipe", recipe)
        recipe_id = saved.structured_content["recipe_id"]
        assert again.structured_content["recipe_id"] == recipe_id
        found = await client.call_tool("search_recipes", {"query": "nonna lentil"})
        assert found.structured_content["results"][0]["id"] == recipe_id
        text = text_of((await client.read_resource(f"recipe://{recipe_id}")).contents[0])
        assert text.startswith("# Nonna's Lentil Soup")


@pytest.mark.parametrize("mode", MODES)
async def test_errors_help_the_agent_recover(mcp_server: McpServerFactory, mode: str) -> None:
    async with Client(mcp_server(), mode=mode) as client:
        bad = error_of(
            await client.call_tool("search_recipes", {"query": "soup", "max_minutes": 0})
        )
        assert bad["problems"] == [
            {"field": "max_minutes", "problem": "must be at least 1 (got 0)"}
        ]
        missing = error_of(
            await client.call_tool(
                "add_recipe_to_plan",
                {"plan_id": "plan-nope", "recipe_id": "x", "date": "2026-11-30"},
            )
        )
        assert "plan_week_meals" in missing["hint"]
        plan = await client.call_tool("plan_week_meals", {"start_date": "2026-11-30", "days": 2})
        outside = error_of(
            await client.call_tool(
                "add_recipe_to_plan",
                {
                    "plan_id": plan.structured_content["plan_id"],
                    "recipe_id": "shakshuka",
                    "date": "2026-12-04",
                },
            )
        )
        assert outside["error"].startswith("Fri 2026-12-04 is outside plan")
        assert outside["hint"].startswith("Use a date inside the plan")
        with pytest.raises(MCPError, match="Unknown tool"):
            await client.call_tool("delete_everything", {})
        with pytest.raises(MCPError) as unknown:
            await client.read_resource("recipe://no-such-dish")
        assert "search_recipes" in unknown.value.error.message
        with pytest.raises(MCPError):
            await client.read_resource("file:///etc/passwd")


@pytest.mark.parametrize("mode", MODES)
async def test_resources_prompts_and_completion(mcp_server: McpServerFactory, mode: str) -> None:
    async with Client(mcp_server(), mode=mode) as client:
        plan = await client.call_tool("plan_week_meals", {"start_date": "2026-11-30", "days": 1})
        plan_id = plan.structured_content["plan_id"]
        listed = [str(r.uri) for r in (await client.list_resources()).resources]
        assert listed == ["pantry://current", *VIEWS, f"meal-plan://{plan_id}"]
        templates = [
            t.uri_template for t in (await client.list_resource_templates()).resource_templates
        ]
        assert templates == ["recipe://{recipe_id}", "meal-plan://{plan_id}"]
        pantry = (await client.read_resource("pantry://current")).contents[0]
        assert pantry.mime_type == "text/markdown"
        assert "empty" in text_of(pantry)
        names = [p.name for p in (await client.list_prompts()).prompts]
        assert names == ["weekly_meal_planning", "recipe_from_text"]
        weekly = await client.get_prompt("weekly_meal_planning", {"start_date": "2026-12-07"})
        assert "start_date 2026-12-07" in text_of(weekly.messages[0].content)
        with pytest.raises(MCPError, match="start_date must be a date"):
            await client.get_prompt("weekly_meal_planning", {"start_date": "soon"})
        ids = await client.complete(
            ResourceTemplateReference(uri="recipe://{recipe_id}"),
            {"name": "recipe_id", "value": "chana"},
        )
        assert ids.completion.values[0] == "chana-masala"
        plans = await client.complete(
            ResourceTemplateReference(uri="meal-plan://{plan_id}"),
            {"name": "plan_id", "value": "plan-"},
        )
        assert plans.completion.values == [plan_id]
        dates = await client.complete(
            PromptReference(name="weekly_meal_planning"), {"name": "start_date", "value": "20"}
        )
        assert len(dates.completion.values) == 4


async def test_stateful_legacy_sessions_work_too(mcp_server: McpServerFactory) -> None:
    async with Client(mcp_server(PANTRY_MCP_STATEFUL="true"), mode="legacy") as client:
        result = await client.call_tool("search_recipes", {"query": "curry"})
        assert result.structured_content["total"] >= 3
        again = await client.call_tool("search_recipes", {"query": "curry", "page": 2})
        assert again.structured_content["page"] == 2


async def test_pantry_down_is_a_clear_failure(mcp_server: McpServerFactory) -> None:
    url = mcp_server(PANTRY_MCP_PANTRY_URL="http://127.0.0.1:9", PANTRY_MCP_PANTRY_TIMEOUT="1")
    async with Client(url, mode="2026-07-28") as client:
        with pytest.raises(MCPError) as failure:
            await client.call_tool("search_recipes", {"query": "soup"})
    message = failure.value.error.message
    assert message.startswith("Pantry is unavailable (Pantry could not be reached)")
    assert "Traceback" not in message and "httpx" not in message


async def test_tool_calls_are_rate_limited_per_user(mcp_server: McpServerFactory) -> None:
    async with Client(mcp_server(PANTRY_MCP_RATE_LIMIT="2"), mode="2026-07-28") as client:
        for _ in range(2):
            assert not (await client.call_tool("search_recipes", {"query": "soup"})).is_error
        limited = await client.call_tool("search_recipes", {"query": "soup"})
        body = error_of(limited)
        assert body["hint"].startswith("Wait ")
        assert body["retry_after_seconds"] >= 1


async def test_answers_are_one_json_body_and_streams_tell_nginx_not_to_buffer(
    mcp_server: McpServerFactory,
) -> None:
    """Stateless (the default), every POST is answered with one JSON body. A stateful
    session answers on SSE streams (the channel for the server's own requests, such as
    the preferences question), and every stream must pass nginx unbuffered."""
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    headers = {"Accept": "application/json, text/event-stream", "X-Request-ID": "req-from-nginx-1"}
    async with httpx2.AsyncClient(timeout=30) as http:
        plain = await http.post(mcp_server(), json=body, headers=headers)
        assert plain.headers["content-type"] == "application/json"
        assert plain.json()["result"]["protocolVersion"] == "2025-11-25"
        assert plain.headers["x-request-id"] == "req-from-nginx-1"

        url = mcp_server(PANTRY_MCP_STATEFUL="1")
        response = await http.post(url, json=body, headers=headers)
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-accel-buffering"] == "no"
        data = [line for line in response.text.splitlines() if line.startswith("data:")]
        assert json.loads(data[-1][5:])["result"]["protocolVersion"] == "2025-11-25"
        assert response.headers["x-request-id"] == "req-from-nginx-1"
        session = {
            "Mcp-Session-Id": response.headers["mcp-session-id"],
            "MCP-Protocol-Version": "2025-11-25",
        }
        done = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert (await http.post(url, json=done, headers={**headers, **session})).status_code == 202
        stream_headers = {"Accept": "text/event-stream", **session}
        async with http.stream("GET", url, headers=stream_headers) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            assert stream.headers["x-accel-buffering"] == "no"
