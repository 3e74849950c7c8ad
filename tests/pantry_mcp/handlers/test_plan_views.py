"""The view-only tools against a real Pantry: a plan as it is now, ticking shopping items."""

from __future__ import annotations

import pytest

from pantry_mcp.client import PantryClient
from pantry_mcp.errors import ToolError
from pantry_mcp.handlers.meal_plans import add_recipe_to_plan, get_shopping_list, plan_week_meals
from pantry_mcp.handlers.plan_views import check_shopping_item, get_meal_plan
from tests.support import unique

pytestmark = pytest.mark.anyio


async def test_get_meal_plan_shows_the_plan_as_it_is_now(
    pantry_client: PantryClient, user: str
) -> None:
    made = await plan_week_meals(pantry_client, user, {"start_date": "2026-11-30", "days": 3})
    await add_recipe_to_plan(
        pantry_client, user, {"recipe_id": "shakshuka", "date": "2026-12-01", "replace": True}
    )
    plan = await get_meal_plan(pantry_client, user, {"plan_id": made["plan_id"]})
    assert (plan["start_date"], plan["end_date"]) == ("2026-11-30", "2026-12-02")
    assert [d["weekday"] for d in plan["days"]] == ["Monday", "Tuesday", "Wednesday"]
    titles = [[m["title"] for m in d["meals"]] for d in plan["days"]]
    assert titles[0] == [made["days"][0]["title"]] and titles[2] == [made["days"][2]["title"]]
    assert [m["recipe_id"] for m in plan["days"][1]["meals"]] == ["shakshuka"]
    first = plan["days"][0]["meals"][0]
    assert first["pantry_coverage"] == made["days"][0]["pantry_coverage"]
    assert first["total_minutes"] == made["days"][0]["total_minutes"]
    assert plan["summary"].startswith(f"Plan {made['plan_id']} (Mon 2026-11-30 to Wed 2026-12-02)")


async def test_get_meal_plan_of_another_user_is_unknown(
    pantry_client: PantryClient, user: str
) -> None:
    made = await plan_week_meals(pantry_client, user, {"start_date": "2026-11-30", "days": 1})
    with pytest.raises(ToolError, match=f"No meal plan has id '{made['plan_id']}'"):
        await get_meal_plan(pantry_client, unique("stranger"), {"plan_id": made["plan_id"]})


async def test_ticks_persist_and_are_counted_like_the_list(
    pantry_client: PantryClient, user: str
) -> None:
    made = await plan_week_meals(pantry_client, user, {"start_date": "2026-11-30", "days": 2})
    listed = await get_shopping_list(pantry_client, user, {"plan_id": made["plan_id"]})
    items = [item for aisle in listed["aisles"] for item in aisle["items"]]
    assert listed["checked_count"] == 0 and not any(item["checked"] for item in items)
    first, second = items[0], items[1]
    ticked = await check_shopping_item(
        pantry_client,
        user,
        {"plan_id": made["plan_id"], "item_key": first["key"], "checked": True},
    )
    assert (ticked["key"], ticked["name"], ticked["checked"]) == (first["key"], first["name"], True)
    assert (ticked["checked_count"], ticked["item_count"]) == (1, listed["item_count"])
    assert ticked["summary"].startswith(f"Ticked off {first['name']}; 1 of ")
    await check_shopping_item(
        pantry_client,
        user,
        {"plan_id": made["plan_id"], "item_key": second["key"], "checked": True},
    )
    again = await get_shopping_list(pantry_client, user, {"plan_id": made["plan_id"]})
    checked = {i["key"] for a in again["aisles"] for i in a["items"] if i["checked"]}
    assert checked == {first["key"], second["key"]}
    assert again["checked_count"] == 2
    assert "2 of them ticked off already." in again["summary"]
    back = await check_shopping_item(
        pantry_client,
        user,
        {"plan_id": made["plan_id"], "item_key": first["key"], "checked": False},
    )
    assert back["checked_count"] == 1
    assert back["summary"].startswith(f"Back on the list: {first['name']}")


async def test_ticking_an_unknown_item_or_another_users_list_changes_nothing(
    pantry_client: PantryClient, user: str
) -> None:
    made = await plan_week_meals(pantry_client, user, {"start_date": "2026-11-30", "days": 1})
    listed = await get_shopping_list(pantry_client, user, {"plan_id": made["plan_id"]})
    key = listed["aisles"][0]["items"][0]["key"]
    with pytest.raises(ToolError, match="has no shopping-list item 'no-such-item'") as unknown:
        await check_shopping_item(
            pantry_client,
            user,
            {"plan_id": made["plan_id"], "item_key": "no-such-item", "checked": True},
        )
    assert "get_shopping_list" in unknown.value.hint
    with pytest.raises(ToolError, match=f"Plan '{made['plan_id']}' has no shopping-list item"):
        await check_shopping_item(
            pantry_client,
            unique("stranger"),
            {"plan_id": made["plan_id"], "item_key": key, "checked": True},
        )
    after = await get_shopping_list(pantry_client, user, {"plan_id": made["plan_id"]})
    assert after["checked_count"] == 0
