"""Recipe handlers against a real Pantry: search, save, dinner ideas, substitutes."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from pantry_mcp.client import PantryClient
from pantry_mcp.errors import ToolError
from pantry_mcp.handlers.pantry import update_pantry
from pantry_mcp.handlers.recipes import (
    save_recipe,
    search_recipes,
    suggest_substitutes,
    whats_for_dinner,
)

pytestmark = pytest.mark.anyio

TOMATO_EGGS = {
    "title": "Tomato Eggs",
    "ingredients": [
        {"name": "eggs", "quantity": 4, "unit": "piece"},
        {"name": "tomatoes", "quantity": 300, "unit": "g"},
        {"name": "moon dust", "quantity": None, "unit": None},
    ],
    "steps": ["Scramble.", "Add tomatoes."],
    "total_minutes": 15,
    "cuisine": "Chinese",
}


async def test_search_returns_at_most_ten_lean_hits(pantry_client: PantryClient, user: str) -> None:
    result = await search_recipes(pantry_client, user, {"query": "chicken"})
    assert 0 < len(result["results"]) <= 10
    assert set(result["results"][0]) == {"id", "title", "total_minutes", "summary"}
    assert result["summary"].startswith(f"{result['total']} recipes match 'chicken'")
    assert "recipe://" in result["summary"]


async def test_a_count_past_pantrys_bound_is_said_as_a_lower_bound(
    pantry_client: PantryClient, user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pantry_api.store import search as search_store

    monkeypatch.setattr(search_store, "MAX_COUNTED", 4)  # Pantry counts up to 1,000
    result = await search_recipes(pantry_client, user, {"query": "chicken"})
    assert result["total"] == 4
    assert result["summary"].startswith("4+ recipes match 'chicken'; showing 1-")
    assert "narrow them down" in result["summary"]


async def test_search_with_nothing_found_says_so(pantry_client: PantryClient, user: str) -> None:
    result = await search_recipes(
        pantry_client, user, {"query": "qwxzy", "max_minutes": 10, "dietary": ["vegan"]}
    )
    assert result["results"] == []
    assert result["summary"].startswith("No recipes match 'qwxzy' (at most 10 minutes; vegan)")


async def test_search_cuisine_accepts_a_display_name(
    pantry_client: PantryClient, user: str
) -> None:
    result = await search_recipes(
        pantry_client, user, {"query": "lamb", "cuisine": "Middle Eastern"}
    )
    assert result["total"] >= 1


async def test_save_twice_gives_one_recipe(pantry_client: PantryClient, user: str) -> None:
    first = await save_recipe(pantry_client, user, TOMATO_EGGS)
    again = await save_recipe(pantry_client, user, TOMATO_EGGS)
    assert first == again
    assert first["uri"] == f"recipe://{first['recipe_id']}"
    assert first["unmatched_ingredients"] == ["moon dust"]
    me = await pantry_client.search_recipes(user, q="tomato eggs", page_size=50)
    assert sum(hit["owner"] == "me" for hit in me["items"]) == 1
    changed = await save_recipe(pantry_client, user, {**TOMATO_EGGS, "total_minutes": 20})
    assert changed["recipe_id"] != first["recipe_id"]


async def test_dinner_ranks_by_what_the_pantry_covers(
    pantry_client: PantryClient, user: str
) -> None:
    target = await pantry_client.get_recipe(user, "chana-masala")
    changes = [
        {"action": "add", "ingredient": line["name"], "quantity": 1, "unit": "piece"}
        for line in target["ingredients"]
        if line["quantity"] is not None
    ]
    await update_pantry(pantry_client, user, {"changes": changes})
    result = await whats_for_dinner(pantry_client, user, {"count": 3})
    assert result["suggestions"][0]["recipe_id"] == "chana-masala"
    assert result["suggestions"][0]["pantry_coverage"] == 1
    assert result["summary"].startswith("Best match: Chana Masala")
    coverages = [s["pantry_coverage"] for s in result["suggestions"]]
    assert coverages[0] == max(coverages)
    # variety may put a new cuisine before a better-covered repeat, never a worse-covered
    # dish before a better one of its own cuisine (coverage counted in fifths)
    by_cuisine: dict[str, list[int]] = {}
    for suggestion in result["suggestions"]:
        recipe = await pantry_client.get_recipe(user, suggestion["recipe_id"])
        by_cuisine.setdefault(recipe["cuisine"], []).append(int(suggestion["pantry_coverage"] * 5))
    assert all(bands == sorted(bands, reverse=True) for bands in by_cuisine.values()), by_cuisine
    assert all(s["missing"] for s in result["suggestions"][1:])


async def test_dinner_uses_up_what_expires_first(pantry_client: PantryClient, user: str) -> None:
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    bought = {"action": "add", "ingredient": "spinach", "quantity": 200, "unit": "g"}
    await update_pantry(pantry_client, user, {"changes": [{**bought, "expires_on": tomorrow}]})
    result = await whats_for_dinner(pantry_client, user, {"count": 3})
    best = await pantry_client.get_recipe(user, result["suggestions"][0]["recipe_id"])
    assert any(line["name"] == "spinach" for line in best["ingredients"]), best["title"]
    assert f"uses up your spinach (use by {tomorrow})" in result["summary"]


async def test_dinner_is_a_main_course_and_honours_preferences(
    pantry_client: PantryClient, user: str
) -> None:
    await pantry_client._request(  # preferences are set by people in the app; tests do it here
        "PUT", "/users/me/preferences", user, body={"dietary": ["vegan"], "disliked": ["tofu"]}
    )
    result = await whats_for_dinner(pantry_client, user, {"count": 10, "max_minutes": 60})
    assert result["suggestions"]
    for suggestion in result["suggestions"]:
        recipe = await pantry_client.get_recipe(user, suggestion["recipe_id"])
        assert recipe["course"] == "main"
        assert "vegan" in recipe["dietary"]
        assert recipe["total_minutes"] <= 60
        assert not any("tofu" in line["name"] for line in recipe["ingredients"])


async def test_empty_pantry_says_what_would_help(pantry_client: PantryClient, user: str) -> None:
    result = await whats_for_dinner(pantry_client, user, {})
    assert len(result["suggestions"]) == 5
    assert "update_pantry" in result["summary"]


async def test_substitutes_pantry_first(pantry_client: PantryClient, user: str) -> None:
    plain = await suggest_substitutes(pantry_client, user, {"ingredient": "Butter"})
    assert plain["ingredient"] == {"id": "butter", "name": "butter"}
    last = plain["substitutes"][-1]
    await update_pantry(
        pantry_client,
        user,
        {
            "changes": [
                {"action": "add", "ingredient": last["name"], "quantity": 1, "unit": "piece"}
            ]
        },
    )
    mine = await suggest_substitutes(pantry_client, user, {"ingredient": "butter"})
    assert mine["substitutes"][0]["ingredient_id"] == last["ingredient_id"]
    assert mine["substitutes"][0]["in_pantry"] is True
    assert "(you have it)" in mine["summary"]


async def test_substitutes_respect_the_recipes_diet(pantry_client: PantryClient, user: str) -> None:
    vegan = await pantry_client.search_recipes(user, dietary=["vegan"], page_size=1)
    recipe_id = vegan["items"][0]["id"]
    result = await suggest_substitutes(
        pantry_client, user, {"ingredient": "olive oil", "recipe_id": recipe_id}
    )
    ingredient_diets = {
        sub["ingredient_id"]: (await pantry_client.get_ingredient(user, sub["ingredient_id"]))[
            "dietary"
        ]
        for sub in result["substitutes"]
    }
    assert all("vegan" in diets for diets in ingredient_diets.values())
    assert "butter" in result["left_out_for_diet"]


async def test_unknown_ingredient_or_recipe_is_a_tool_error(
    pantry_client: PantryClient, user: str
) -> None:
    with pytest.raises(ToolError, match="No ingredient called 'unobtainium'"):
        await suggest_substitutes(pantry_client, user, {"ingredient": "unobtainium"})
    with pytest.raises(ToolError, match="No recipe has id 'nope'") as error:
        await suggest_substitutes(
            pantry_client, user, {"ingredient": "butter", "recipe_id": "nope"}
        )
    assert "search_recipes" in error.value.hint
