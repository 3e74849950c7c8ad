"""Meal-plan handlers against a real Pantry: plan a week, add a recipe, shopping list."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

import anyio
import httpx2
import pytest

from pantry_mcp.client import PantryClient, PantryUnavailable
from pantry_mcp.errors import ToolError
from pantry_mcp.handlers.meal_plans import add_recipe_to_plan, get_shopping_list, plan_week_meals
from pantry_mcp.handlers.pantry import update_pantry
from tests.support import SERVICE_TOKEN, RunningServer, unique

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


async def test_add_recipe_by_date_is_idempotent_and_checks_the_date(
    pantry_client: PantryClient, user: str
) -> None:
    plan = await plan_week_meals(pantry_client, user, {"start_date": "2026-11-30", "days": 2})
    args = {"recipe_id": "shakshuka", "date": "2026-12-01", "meal_slot": "breakfast"}
    first = await add_recipe_to_plan(pantry_client, user, args)  # no plan_id: found by date
    again = await add_recipe_to_plan(pantry_client, user, {**args, "plan_id": plan["plan_id"]})
    assert first["plan_id"] == again["plan_id"] == plan["plan_id"]
    assert (first["already_planned"], again["already_planned"]) == (False, True)
    assert first["entry_id"] == again["entry_id"]
    assert first["date"] == "2026-12-01"
    assert "breakfast on Tue 2026-12-01" in first["summary"]
    stored = await pantry_client.get_plan(user, plan["plan_id"])
    assert [e["recipe_id"] for e in stored["days"][1]["entries"]].count("shakshuka") == 1
    assert "also has" not in first["summary"]  # nothing else at breakfast that day
    dinner = await add_recipe_to_plan(pantry_client, user, {**args, "meal_slot": "dinner"})
    assert f"That dinner also has {plan['days'][1]['title']}." in dinner["summary"]

    with pytest.raises(ToolError, match="Wed 2026-12-02 is outside plan") as outside:
        await add_recipe_to_plan(
            pantry_client, user, {**args, "date": "2026-12-02", "plan_id": plan["plan_id"]}
        )
    assert "leave plan_id out" in outside.value.hint
    with pytest.raises(ToolError, match="None of your meal plans covers Wed 2026-12-02") as none:
        await add_recipe_to_plan(pantry_client, user, {**args, "date": "2026-12-02"})
    assert f"{plan['plan_id']} (Mon 2026-11-30 to Tue 2026-12-01)" in none.value.hint
    assert "plan_week_meals" in none.value.hint
    assert none.value.details["plans"] == [
        {"plan_id": plan["plan_id"], "start_date": "2026-11-30", "end_date": "2026-12-01"}
    ]
    with pytest.raises(ToolError, match="No recipe has id 'no-such-dish'") as unknown:
        await add_recipe_to_plan(pantry_client, user, {**args, "recipe_id": "no-such-dish"})
    assert "search_recipes" in unknown.value.hint
    with pytest.raises(ToolError, match="No meal plan has id 'plan-nothing'") as no_plan:
        await add_recipe_to_plan(pantry_client, user, {**args, "plan_id": "plan-nothing"})
    assert "plan_week_meals" in no_plan.value.hint


async def test_add_recipe_without_any_plan_says_to_plan_first(
    pantry_client: PantryClient, user: str
) -> None:
    with pytest.raises(ToolError, match="You have no meal plans yet") as none:
        await add_recipe_to_plan(
            pantry_client, user, {"recipe_id": "shakshuka", "date": "2026-12-02"}
        )
    assert "plan_week_meals" in none.value.hint


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
    assert (full["plan_id"], full["start_date"], full["end_date"]) == (
        plan["id"],
        "2026-11-30",
        "2026-11-30",
    )
    names = {item["name"] for aisle in full["aisles"] for item in aisle["items"]}
    chickpea = next(i for a in full["aisles"] for i in a["items"] if i["name"] == "chickpea")
    need = chickpea["amounts"][0]  # whatever unit the recipe uses, hold twice as much
    double = {"quantity": need["quantity"] * 2, "unit": need["unit"]}
    await update_pantry(
        pantry_client, user, {"changes": [{"action": "add", "ingredient": "chickpea", **double}]}
    )
    trimmed = await get_shopping_list(pantry_client, user, {"date": "2026-11-30"})
    assert trimmed["plan_id"] == plan["id"]
    left = {item["name"] for aisle in trimmed["aisles"] for item in aisle["items"]}
    assert left == names - {"chickpea"}
    assert trimmed["covered_by_pantry"] == ["chickpea"]
    assert chickpea["amounts"]
    assert "Left off because your pantry has them: chickpea" in trimmed["summary"]
    assert f"plan {plan['id']} (Mon 2026-11-30 to Mon 2026-11-30)" in trimmed["summary"]
    with pytest.raises(ToolError, match="No meal plan has id 'plan-nothing'"):
        await get_shopping_list(pantry_client, user, {"plan_id": "plan-nothing"})
    with pytest.raises(ToolError, match="is outside plan"):
        await get_shopping_list(pantry_client, user, {"plan_id": plan["id"], "date": "2026-12-01"})
    with pytest.raises(ToolError, match="None of your meal plans covers Tue 2026-12-01"):
        await get_shopping_list(pantry_client, user, {"date": "2026-12-01"})


async def _plan_from(client: PantryClient, user: str, start: date, days: int) -> str:
    plan = await client.create_plan(
        user, {"start_date": start.isoformat(), "days": days}, idempotency_key=unique("k")
    )
    await client.add_plan_entry(
        user, plan["id"], {"recipe_id": "chana-masala", "day": 1}, idempotency_key=unique("k")
    )
    plan_id: str = plan["id"]
    return plan_id


async def test_shopping_list_without_an_id_takes_todays_plan_else_the_next_else_the_latest(
    pantry_client: PantryClient, user: str
) -> None:
    with pytest.raises(ToolError, match="You have no meal plans yet") as none:
        await get_shopping_list(pantry_client, user, {})
    assert "plan_week_meals" in none.value.hint
    today = date.today()
    old = await _plan_from(pantry_client, user, today - timedelta(days=30), 7)
    older = await _plan_from(pantry_client, user, today - timedelta(days=60), 7)
    assert (await get_shopping_list(pantry_client, user, {}))["plan_id"] == old
    later = await _plan_from(pantry_client, user, today + timedelta(days=20), 7)
    sooner = await _plan_from(pantry_client, user, today + timedelta(days=6), 7)
    assert (await get_shopping_list(pantry_client, user, {}))["plan_id"] == sooner
    current = await _plan_from(pantry_client, user, today - timedelta(days=3), 7)
    chosen = await get_shopping_list(pantry_client, user, {})
    assert chosen["plan_id"] == current
    assert chosen["start_date"] == (today - timedelta(days=3)).isoformat()
    assert f"plan {current} (" in chosen["summary"]
    assert {older, later}.isdisjoint({chosen["plan_id"]})


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
    # preferences, 2 searches and last weeks' plans | the plan with its 7 entries
    assert (waves, len(spans)) == (2, 5)


def longest_alphabetical_run(titles: list[str]) -> int:
    longest = run = 1
    for before, after in itertools.pairwise(titles):
        run = run + 1 if before.casefold() < after.casefold() else 1
        longest = max(longest, run)
    return longest


@pytest.mark.parametrize("newcomer", ["newcomer-ann", "newcomer-bob", "newcomer-cat"])
async def test_a_new_users_week_is_varied_and_the_next_week_is_new(
    pantry_client: PantryClient, newcomer: str
) -> None:
    """An empty pantry ties every candidate: the week must still look chosen, not sorted.
    Fixed names: the menu is deterministic for a user and a week, so this never flakes."""
    user = newcomer
    week = await plan_week_meals(pantry_client, user, {"start_date": "2027-01-04"})
    recipes = {
        d["recipe_id"]: await pantry_client.get_recipe(user, d["recipe_id"]) for d in week["days"]
    }
    titles = [d["title"] for d in week["days"]]
    cuisines = [recipes[d["recipe_id"]]["cuisine"] for d in week["days"]]
    assert len(set(cuisines)) >= 4, cuisines
    assert all(a != b for a, b in itertools.pairwise(cuisines)), cuisines
    assert longest_alphabetical_run(titles) <= 3, titles
    assert [d["weekday"] for d in week["days"]][:2] == ["Monday", "Tuesday"]

    again = await plan_week_meals(pantry_client, user, {"start_date": "2027-01-04"})
    assert again["days"] == week["days"]  # deterministic: a retry is the same plan

    following = await plan_week_meals(pantry_client, user, {"start_date": "2027-01-11"})
    repeats = {d["recipe_id"] for d in following["days"]} & set(recipes)
    assert len(repeats) <= 2, repeats
    assert [d["title"] for d in following["days"]] != titles


async def test_the_next_week_repeats_only_when_the_diet_leaves_too_few(
    pantry_client: PantryClient, user: str
) -> None:
    dietary = ["vegan", "gluten-free", "nut-free"]
    available = (
        await pantry_client.search_recipes(user, dietary=dietary, course="main", page_size=50)
    )["total"]
    assert 7 <= available < 14  # the catalog leaves fewer than two weeks of these
    first = await plan_week_meals(
        pantry_client, user, {"start_date": "2027-02-01", "dietary": dietary}
    )
    second = await plan_week_meals(
        pantry_client, user, {"start_date": "2027-02-08", "dietary": dietary}
    )
    repeats = {d["recipe_id"] for d in first["days"]} & {d["recipe_id"] for d in second["days"]}
    assert len(repeats) == 14 - available  # only as many as it must


async def _set_preferences(server: RunningServer, user: str, **preferences: Any) -> None:
    """Preferences are the person's to set (in Pantry's app): no tool writes them."""
    async with httpx2.AsyncClient(base_url=server.base_url) as http:
        response = await http.put(
            "/users/me/preferences",
            json={"dietary": [], "disliked": [], **preferences},
            headers={"Authorization": f"Bearer {SERVICE_TOKEN}", "X-Pantry-User": user},
        )
        assert response.status_code == 200, response.text


async def test_weeknight_dinners_keep_the_saved_time_limit(
    pantry_server: RunningServer, pantry_client: PantryClient, user: str
) -> None:
    await _set_preferences(pantry_server, user, max_weeknight_minutes=30)
    week = await plan_week_meals(pantry_client, user, {"start_date": "2027-03-01"})  # a Monday
    weekdays = [d["total_minutes"] for d in week["days"][:5]]
    assert all(minutes <= 30 for minutes in weekdays), week["days"]
    assert "weeknight dinners take at most 30 minutes" in week["summary"]


async def test_replace_swaps_the_meal_and_a_retry_changes_nothing(
    pantry_client: PantryClient, user: str
) -> None:
    plan = await plan_week_meals(pantry_client, user, {"start_date": "2026-11-30", "days": 2})
    before = plan["days"][1]
    args = {"recipe_id": "shakshuka", "date": "2026-12-01", "replace": True}
    assert before["recipe_id"] != "shakshuka"
    swapped = await add_recipe_to_plan(pantry_client, user, args)
    assert swapped["replaced"] == [before["title"]]
    assert f"It replaces {before['title']}." in swapped["summary"]
    stored = await pantry_client.get_plan(user, plan["plan_id"])
    assert [e["recipe_id"] for e in stored["days"][1]["entries"]] == ["shakshuka"]
    assert stored["days"][0]["entries"][0]["recipe_id"] == plan["days"][0]["recipe_id"]
    again = await add_recipe_to_plan(pantry_client, user, args)
    assert (again["already_planned"], again["replaced"]) == (True, [])
    assert again["entry_id"] == swapped["entry_id"]
    # Other meals of the day stay: replace is about the one slot.
    await add_recipe_to_plan(
        pantry_client, user, {**args, "meal_slot": "lunch", "recipe_id": "chana-masala"}
    )
    await add_recipe_to_plan(
        pantry_client, user, {**args, "recipe_id": plan["days"][0]["recipe_id"]}
    )
    slots = {
        (e["slot"], e["recipe_id"])
        for e in (await pantry_client.get_plan(user, plan["plan_id"]))["days"][1]["entries"]
    }
    assert slots == {("lunch", "chana-masala"), ("dinner", plan["days"][0]["recipe_id"])}


async def test_replace_with_an_unknown_recipe_keeps_the_meal(
    pantry_client: PantryClient, user: str
) -> None:
    plan = await plan_week_meals(pantry_client, user, {"start_date": "2026-11-30", "days": 1})
    with pytest.raises(ToolError, match="No recipe has id 'no-such-dish'"):
        await add_recipe_to_plan(
            pantry_client,
            user,
            {"recipe_id": "no-such-dish", "date": "2026-11-30", "replace": True},
        )
    stored = await pantry_client.get_plan(user, plan["plan_id"])
    assert [e["recipe_id"] for e in stored["days"][0]["entries"]] == [plan["days"][0]["recipe_id"]]
