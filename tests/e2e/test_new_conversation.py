"""A new conversation never dead-ends: every request a person makes is done from their
words alone.

The official MCP client plays a model that starts with nothing but the user's words (and
today's date, which hosts tell models): each step uses only what earlier answers in the same
session returned, never an id from outside. A new user, an empty pantry, both protocol eras.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from tests.e2e.conftest import McpServerFactory
from tests.support import text_of, unique

pytestmark = pytest.mark.anyio
MODES = ["legacy", "2026-07-28"]


def next_monday(today: date) -> date:
    return today + timedelta(days=7 - today.weekday())


async def ask(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """One tool call as a model makes it: it reads the summary and the structured answer."""
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, text_of(result.content[0])
    content: dict[str, Any] = result.structured_content or {}
    assert text_of(result.content[0]) == content["summary"]
    return content


@pytest.mark.parametrize("mode", MODES)
async def test_every_request_from_words_alone(mcp_server: McpServerFactory, mode: str) -> None:
    async with Client(mcp_server(user=unique("newcomer")), mode=mode) as client:
        # "Plan me a week of dinners" (the model knows today's date, nothing else)
        monday = next_monday(date.today())
        week = await ask(client, "plan_week_meals", {"start_date": monday.isoformat()})
        assert [d["weekday"] for d in week["days"]] == [
            "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
        ]  # fmt: skip
        assert "Mon " in week["summary"]

        # "What can I make tonight?"
        tonight = await ask(client, "whats_for_dinner", {})
        assert tonight["suggestions"]
        assert "update_pantry" in tonight["summary"]  # an empty pantry: say how to fix it

        # "I bought milk and eggs"
        bought = await ask(
            client,
            "update_pantry",
            {
                "changes": [
                    {"action": "add", "ingredient": "milk", "quantity": 1, "unit": "l"},
                    {"action": "add", "ingredient": "eggs", "quantity": 12, "unit": "piece"},
                ]
            },
        )
        assert bought["applied"] == 2

        # "What do I need to buy this week?": no plan id in the user's words
        shopping = await ask(client, "get_shopping_list", {})
        assert shopping["plan_id"] == week["plan_id"]
        assert shopping["start_date"] == monday.isoformat()
        assert shopping["item_count"] > 0
        assert week["plan_id"] in shopping["summary"]

        # "Put the mushroom risotto on Wednesday": the id from search, the date from the plan
        found = await ask(client, "search_recipes", {"query": "mushroom risotto"})
        risotto = found["results"][0]
        assert risotto["title"] == "Mushroom Risotto"
        wednesday = next(d["date"] for d in week["days"] if d["weekday"] == "Wednesday")
        added = await ask(
            client, "add_recipe_to_plan", {"recipe_id": risotto["id"], "date": wednesday}
        )
        assert (added["plan_id"], added["date"]) == (week["plan_id"], wednesday)
        assert "Wed " in added["summary"]
        plan_text = text_of((await client.read_resource(week["uri"])).contents[0])
        assert "Mushroom Risotto" in plan_text

        # "What can I use instead of buttermilk?"
        swaps = await ask(client, "suggest_substitutes", {"ingredient": "buttermilk"})
        assert swaps["substitutes"]

        # "Save this recipe: ..."
        saved = await ask(
            client,
            "save_recipe",
            {
                "title": "Grandma's Onion Tart",
                "ingredients": [
                    {"name": "onion", "quantity": 4, "unit": "piece"},
                    {"name": "butter", "quantity": 30, "unit": "g"},
                    {"name": "salt", "quantity": None, "unit": None},
                ],
                "steps": ["Soften the onions in the butter.", "Bake in the pastry case."],
                "total_minutes": 70,
            },
        )
        mine = await ask(client, "search_recipes", {"query": "grandma onion tart"})
        assert mine["results"][0]["id"] == saved["recipe_id"]


@pytest.mark.parametrize("mode", MODES)
async def test_a_day_no_plan_covers_names_the_plans_there_are(
    mcp_server: McpServerFactory, mode: str
) -> None:
    async with Client(mcp_server(user=unique("newcomer")), mode=mode) as client:
        nothing = await client.call_tool("get_shopping_list", {})
        assert nothing.is_error
        assert "plan_week_meals" in json.loads(text_of(nothing.content[0]))["hint"]
        week = await ask(client, "plan_week_meals", {"start_date": "2027-03-01"})
        outside = await client.call_tool(
            "add_recipe_to_plan", {"recipe_id": week["days"][0]["recipe_id"], "date": "2027-04-01"}
        )
        assert outside.is_error
        error = json.loads(text_of(outside.content[0]))
        assert f"{week['plan_id']} (Mon 2027-03-01 to Sun 2027-03-07)" in error["hint"]


UNKNOWN_IDS: list[tuple[str, dict[str, Any], str]] = [
    ("add_recipe_to_plan", {"recipe_id": "no-such-dish", "date": "2027-03-02"}, "search_recipes"),
    (
        "add_recipe_to_plan",
        {"recipe_id": "shakshuka", "date": "2027-03-02", "plan_id": "plan-nothing"},
        "get_shopping_list",
    ),
    ("get_shopping_list", {"plan_id": "plan-nothing"}, "get_shopping_list"),
    ("suggest_substitutes", {"ingredient": "butter", "recipe_id": "no-such"}, "search_recipes"),
]


@pytest.mark.parametrize("mode", MODES)
async def test_every_hint_about_an_id_names_the_tool_that_finds_it(
    mcp_server: McpServerFactory, mode: str
) -> None:
    async with Client(mcp_server(user=unique("newcomer")), mode=mode) as client:
        await ask(client, "plan_week_meals", {"start_date": "2027-03-01", "days": 3})
        for tool, arguments, finder in UNKNOWN_IDS:
            result = await client.call_tool(tool, arguments)
            assert result.is_error, (tool, arguments)
            hint = json.loads(text_of(result.content[0]))["hint"]
            assert finder in hint, (tool, hint)
        for uri, finder in [
            ("recipe://no-such-dish", "search_recipes"),
            ("meal-plan://plan-nothing", "get_shopping_list"),
        ]:
            with pytest.raises(MCPError) as unknown:
                await client.read_resource(uri)
            assert finder in unknown.value.error.message, uri
