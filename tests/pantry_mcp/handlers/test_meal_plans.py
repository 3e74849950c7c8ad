"""Meal-plan handlers against a real Pantry: plan a week, add a recipe, shopping list."""

from __future__ import annotations

from typing import Any

import anyio
import httpx2
import pytest

from pantry_mcp.client import PantryClient, PantryUnavailable
from pantry_mcp.errors import ToolError
from pantry_mcp.handlers.meal_plans import add_recipe_to_plan, get_shopping_list, plan_week_meals
from pantry_mcp.handlers.pantry import update_pantry
from tests.support import SERVICE_TOKEN, RunningServer

pytestmark = pytest.mark.anyio


async def test_plan_a_week_of_distinct_main_courses(pantry_client: PantryClient, user: str) -> None:
    result = await plan_week_meals(pantry_client, user, {"start_date": "2026-11-30"})
    assert len(result["days"]) == 7
    assert [d["date"] for d in result["days"]][::6] == ["2026-11-30", "2026-12-06"]
    ids = [d["recipe_id"] for d in result["days"]]
    assert len(set(ids)) == 7
    plan = await pantry_client.get_plan(user, result["plan_id"])
    assert [[e["recipe_id"] for e in day["entries"]] for day in plan["days"]] == [[i] for i in ids]
    for recipe_id in ids:
        assert (await pantry_client.get_recipe(user, recipe_id))["course"] == "main"
    assert result["uri"] == f"meal-plan://{result['plan_id']}"


async def test_plan_prefers_what_the_pantry_covers(pantry_client: PantryClient, user: str) -> None:
    recipe = await pantry_client.get_recipe(user, "chana-masala")
    changes = [
        {"action": "add", "ingredient": line["name"], "quantity": 1, "unit": "piece"}
        for line in recipe["ingredients"]
        if line["quantity"] is not None
    ]
    await update_pantry(pantry_client, user, {"changes": changes})
    result = await plan_week_meals(pantry_client, user, {"start_date": "2026-12-07", "days": 3})
    assert result["days"][0]["recipe_id"] == "chana-masala"
    assert result["days"][0]["pantry_coverage"] == 1
    assert result["pantry_coverage"] > 0


async def test_plan_with_too_few_recipes_creates_nothing(
    pantry_client: PantryClient, user: str
) -> None:
    dietary = ["vegan", "pescatarian", "gluten-free", "dairy-free", "nut-free", "vegetarian"]
    available = (
        await pantry_client.search_recipes(user, dietary=dietary, course="main", page_size=50)
    )["total"]
    with pytest.raises(ToolError, match="not enough for 14 days"):
        await plan_week_meals(
            pantry_client, user, {"start_date": "2026-12-07", "days": 14, "dietary": dietary}
        )
    assert available < 14
    assert (await pantry_client.list_plans(user))["items"] == []


async def test_a_plan_pantry_could_not_create_leaves_nothing(
    pantry_server: RunningServer, user: str
) -> None:
    """Pantry creates the plan and its entries in one transaction: it fails whole."""
    upstream = httpx2.AsyncClient(base_url=pantry_server.base_url)

    async def refuse_plans(request: httpx2.Request) -> httpx2.Response:
        if request.method == "POST" and request.url.path == "/meal-plans":
            return httpx2.Response(
                500, json={"error": {"code": "boom", "message": "x", "details": {}}}
            )
        response = await upstream.send(request)
        await response.aread()
        return response

    client = PantryClient(pantry_server.base_url, SERVICE_TOKEN, transport=_AsyncMock(refuse_plans))
    with pytest.raises(PantryUnavailable):
        await plan_week_meals(client, user, {"start_date": "2026-12-14", "days": 5})
    assert (await client.list_plans(user))["items"] == []
    await client.aclose()
    await upstream.aclose()


async def test_asking_again_after_a_lost_answer_gives_the_same_plan(
    pantry_client: PantryClient, user: str
) -> None:
    first = await plan_week_meals(pantry_client, user, {"start_date": "2026-12-21", "days": 3})
    again = await plan_week_meals(pantry_client, user, {"start_date": "2026-12-21", "days": 3})
    assert again["plan_id"] == first["plan_id"]
    assert (await pantry_client.list_plans(user))["total"] == 1


class _AsyncMock(httpx2.AsyncBaseTransport):
    def __init__(self, handler: Any) -> None:
        self.handler = handler

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response: httpx2.Response = await self.handler(request)
        return response


async def test_add_recipe_is_idempotent_and_checks_the_day(
    pantry_client: PantryClient, user: str
) -> None:
    plan = await plan_week_meals(pantry_client, user, {"start_date": "2026-11-30", "days": 2})
    args = {
        "plan_id": plan["plan_id"],
        "recipe_id": "shakshuka",
        "day": 2,
        "meal_slot": "breakfast",
    }
    first = await add_recipe_to_plan(pantry_client, user, args)
    again = await add_recipe_to_plan(pantry_client, user, args)
    assert first["already_planned"] is False
    assert again["already_planned"] is True
    assert first["entry_id"] == again["entry_id"]
    assert first["date"] == "2026-12-01"
    with pytest.raises(ToolError, match="Day 3 is outside plan") as outside:
        await add_recipe_to_plan(pantry_client, user, {**args, "day": 3})
    assert outside.value.hint == "Use a day from 1 to 2 (day 1 is 2026-11-30)."
    with pytest.raises(ToolError, match="No recipe has id 'no-such-dish'"):
        await add_recipe_to_plan(pantry_client, user, {**args, "recipe_id": "no-such-dish"})
    with pytest.raises(ToolError, match="No meal plan has id 'plan-nothing'"):
        await add_recipe_to_plan(pantry_client, user, {**args, "plan_id": "plan-nothing"})


async def test_shopping_list_subtracts_the_pantry(pantry_client: PantryClient, user: str) -> None:
    plan = await pantry_client.create_plan(
        user, {"start_date": "2026-11-30", "days": 1}, idempotency_key="k1"
    )
    await pantry_client.add_plan_entry(
        user, plan["id"], {"recipe_id": "chana-masala", "day": 1}, idempotency_key="k2"
    )
    full = await get_shopping_list(
        pantry_client, user, {"plan_id": plan["id"], "exclude_pantry": False}
    )
    names = {item["name"] for aisle in full["aisles"] for item in aisle["items"]}
    chickpea = next(i for a in full["aisles"] for i in a["items"] if i["name"] == "chickpea")
    need = chickpea["amounts"][0]  # whatever unit the recipe uses, hold twice as much
    double = {"quantity": need["quantity"] * 2, "unit": need["unit"]}
    await update_pantry(
        pantry_client, user, {"changes": [{"action": "add", "ingredient": "chickpea", **double}]}
    )
    trimmed = await get_shopping_list(pantry_client, user, {"plan_id": plan["id"]})
    left = {item["name"] for aisle in trimmed["aisles"] for item in aisle["items"]}
    assert left == names - {"chickpea"}
    assert trimmed["covered_by_pantry"] == ["chickpea"]
    assert chickpea["amounts"]
    assert "Left off because your pantry has them: chickpea" in trimmed["summary"]
    with pytest.raises(ToolError, match="No meal plan"):
        await get_shopping_list(pantry_client, user, {"plan_id": "plan-nothing"})


async def test_plan_week_meals_takes_two_sequential_round_trips(
    pantry_server: RunningServer, user: str
) -> None:
    """Independent calls overlap: intervals that overlap in time are one round trip."""
    upstream = httpx2.AsyncClient(base_url=pantry_server.base_url)
    spans: list[tuple[float, float]] = []

    async def slow(request: httpx2.Request) -> httpx2.Response:
        started = anyio.current_time()
        await anyio.sleep(0.05)  # an upstream hop slow enough that overlaps are certain
        response = await upstream.send(request)
        await response.aread()
        spans.append((started, anyio.current_time()))
        return response

    client = PantryClient(pantry_server.base_url, SERVICE_TOKEN, transport=_AsyncMock(slow))
    await plan_week_meals(client, user, {"start_date": "2026-11-30", "days": 7})
    await client.aclose()
    await upstream.aclose()
    waves, end = 0, -1.0
    for start, stop in sorted(spans):
        if start >= end:
            waves += 1
        end = max(end, stop)
    assert (waves, len(spans)) == (2, 4)  # preferences + 2 searches | the plan with 7 entries
