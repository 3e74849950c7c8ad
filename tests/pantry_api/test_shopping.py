"""Shopping lists: what a plan's recipes need, summed in compatible units, by aisle."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from tests.pantry_api.conftest import ClientFactory

pytestmark = pytest.mark.anyio

OMELETTE = {
    "title": "Test Omelette",
    "servings": 2,
    "total_minutes": 10,
    "ingredients": [
        {"name": "egg", "quantity": 4},
        {"name": "butter", "quantity": 1, "unit": "tbsp"},
        {"name": "milk", "quantity": 50, "unit": "ml"},
        {"name": "salt", "quantity": None},
        {"name": "Dragon Pepper", "quantity": 1, "unit": "pinch"},
    ],
    "steps": ["Beat.", "Cook."],
}
CREPES = {
    "title": "Test Crepes",
    "servings": 4,
    "total_minutes": 30,
    "ingredients": [
        {"name": "eggs", "quantity": 2},
        {"name": "milk", "quantity": 1, "unit": "cup"},
        {"name": "butter", "quantity": 30, "unit": "g"},
        {"name": "all-purpose flour", "quantity": 125, "unit": "g"},
    ],
    "steps": ["Whisk.", "Fry."],
}


async def plan_with(client: httpx2.AsyncClient, entries: list[dict[str, Any]]) -> str:
    plan = (await client.post("/meal-plans", json={"start_date": "2026-12-07", "days": 3})).json()
    for entry in entries:
        response = await client.post(f"/meal-plans/{plan['id']}/entries", json=entry)
        assert response.status_code == 201, response.text
    plan_id: str = plan["id"]
    return plan_id


def items_by_key(shopping: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["key"]: item for aisle in shopping["aisles"] for item in aisle["items"]}


async def test_sums_across_recipes_scaling_by_servings(client: httpx2.AsyncClient) -> None:
    omelette = (await client.post("/recipes", json=OMELETTE)).json()["id"]
    crepes = (await client.post("/recipes", json=CREPES)).json()["id"]
    plan_id = await plan_with(
        client,
        [
            {"recipe_id": omelette, "day": 1},  # as written: 2 servings
            {"recipe_id": omelette, "day": 2, "servings": 4},  # doubled
            {"recipe_id": crepes, "day": 3, "slot": "breakfast"},
        ],
    )
    await client.post("/pantry/items", json={"ingredient_id": "egg", "quantity": 5})
    shopping = (await client.get(f"/meal-plans/{plan_id}/shopping-list")).json()
    assert (shopping["start_date"], shopping["end_date"]) == ("2026-12-07", "2026-12-09")
    items = items_by_key(shopping)
    assert items["egg"]["amounts"] == [{"quantity": 14.0, "unit": "piece"}]  # 4 + 8 + 2
    assert items["egg"]["to_buy"] == [{"quantity": 9.0, "unit": "piece"}]
    assert items["butter"]["to_buy"] == items["butter"]["amounts"]  # none at home
    assert items["egg"]["in_pantry"] and items["egg"]["pantry_amounts"] == [
        {"quantity": 5.0, "unit": "piece"}
    ]
    # 3 tbsp of butter is volume, 30 g is mass: they stay apart
    assert items["butter"]["amounts"] == [
        {"quantity": 3.0, "unit": "tbsp"},
        {"quantity": 30.0, "unit": "g"},
    ]
    # 150 ml + 1 cup (236.6 ml)
    assert items["milk"]["amounts"] == [{"quantity": 386.6, "unit": "ml"}]
    assert items["salt"]["to_taste"] and items["salt"]["amounts"] == []
    assert items["other-dragon-pepper"]["ingredient_id"] is None
    assert sorted(items["egg"]["recipes"]) == sorted([omelette, crepes])
    assert shopping["item_count"] == len(items) == 6 and shopping["checked_count"] == 0


async def test_grouped_by_aisle_with_unknown_ingredients_last(client: httpx2.AsyncClient) -> None:
    omelette = (await client.post("/recipes", json=OMELETTE)).json()["id"]
    plan_id = await plan_with(client, [{"recipe_id": omelette, "day": 1}])
    shopping = (await client.get(f"/meal-plans/{plan_id}/shopping-list")).json()
    aisles = [aisle["aisle"] for aisle in shopping["aisles"]]
    assert aisles[-1] == "other" and aisles[:-1] == sorted(aisles[:-1])
    dairy = next(a for a in shopping["aisles"] if a["aisle"] == "dairy & eggs")
    assert {item["key"] for item in dairy["items"]} >= {"egg", "butter", "milk"}


async def test_check_off_and_back_on(client: httpx2.AsyncClient) -> None:
    omelette = (await client.post("/recipes", json=OMELETTE)).json()["id"]
    plan_id = await plan_with(client, [{"recipe_id": omelette, "day": 1}])
    path = f"/meal-plans/{plan_id}/shopping-list"
    checked = await client.put(f"{path}/items/egg", json={"checked": True})
    assert checked.status_code == 200 and checked.json()["checked"] is True
    assert (await client.put(f"{path}/items/egg", json={"checked": True})).status_code == 200
    shopping = (await client.get(path)).json()
    assert items_by_key(shopping)["egg"]["checked"] and shopping["checked_count"] == 1
    await client.put(f"{path}/items/egg", json={"checked": False})
    assert not items_by_key((await client.get(path)).json())["egg"]["checked"]
    missing = await client.put(f"{path}/items/caviar", json={"checked": True})
    assert missing.status_code == 404


async def test_empty_plan_has_an_empty_list(client: httpx2.AsyncClient) -> None:
    plan_id = await plan_with(client, [])
    shopping = (await client.get(f"/meal-plans/{plan_id}/shopping-list")).json()
    assert shopping == {
        "plan_id": plan_id,
        "start_date": "2026-12-07",
        "end_date": "2026-12-09",
        "aisles": [],
        "item_count": 0,
        "checked_count": 0,
    }


async def test_to_buy_subtracts_the_pantry_in_compatible_units(client: httpx2.AsyncClient) -> None:
    crepes = (await client.post("/recipes", json=CREPES)).json()["id"]
    plan_id = await plan_with(client, [{"recipe_id": crepes, "day": 1}])
    await client.post("/pantry/items", json={"ingredient_id": "milk", "quantity": 0.1, "unit": "l"})
    await client.post(
        "/pantry/items", json={"ingredient_id": "all-purpose-flour", "quantity": 1, "unit": "kg"}
    )
    await client.post("/pantry/items", json={"ingredient_id": "butter"})  # some, amount unknown
    await client.post("/pantry/items", json={"ingredient_id": "egg", "quantity": 100, "unit": "g"})
    items = items_by_key((await client.get(f"/meal-plans/{plan_id}/shopping-list")).json())
    # 1 cup (236.6 ml) less 100 ml, shown in the cup the recipe asked for
    assert items["milk"]["amounts"] == [{"quantity": 1.0, "unit": "cup"}]
    assert items["milk"]["to_buy"] == [{"quantity": 0.58, "unit": "cup"}]
    assert items["all-purpose-flour"]["to_buy"] == []
    assert items["butter"]["to_buy"] == []
    # eggs are counted, the pantry weighed them: nothing converts, so buy them all
    assert items["egg"]["to_buy"] == [{"quantity": 2.0, "unit": "piece"}]


async def test_kitchen_units_read_as_the_recipe_wrote_them(client: httpx2.AsyncClient) -> None:
    seasoned = {
        "title": "Test Seasoned Rice",
        "servings": 2,
        "total_minutes": 20,
        "ingredients": [
            {"name": "salt", "quantity": 1, "unit": "tsp"},
            {"name": "rice", "quantity": 200, "unit": "g"},
        ],
        "steps": ["Boil.", "Season."],
    }
    recipe = (await client.post("/recipes", json=seasoned)).json()["id"]
    plan_id = await plan_with(client, [{"recipe_id": recipe, "day": 1}])
    path = f"/meal-plans/{plan_id}/shopping-list"
    salt = items_by_key((await client.get(path)).json())["salt"]
    assert salt["amounts"] == [{"quantity": 1, "unit": "tsp"}]  # not 4.93 ml
    assert salt["to_buy"] == [{"quantity": 1, "unit": "tsp"}]

    # tripled, with a teaspoon at home: what is left stays in teaspoons
    await client.post(f"/meal-plans/{plan_id}/entries", json={"recipe_id": recipe, "day": 2})
    await client.post(f"/meal-plans/{plan_id}/entries", json={"recipe_id": recipe, "day": 3})
    await client.post("/pantry/items", json={"ingredient_id": "salt", "quantity": 1, "unit": "tsp"})
    salt = items_by_key((await client.get(path)).json())["salt"]
    assert salt["amounts"] == [{"quantity": 3, "unit": "tsp"}]
    assert salt["to_buy"] == [{"quantity": 2, "unit": "tsp"}]


async def test_entries_without_servings_are_made_for_the_saved_servings(
    make_client: ClientFactory,
) -> None:
    """A saved servings preference sizes new entries that name none, and the shopping list
    scales with them; an entry keeps the servings it was made for."""
    cook, other = make_client(), make_client()
    assert (await cook.put("/users/me/preferences", json={"servings": 6})).is_success
    omelette = (await cook.post("/recipes", json=OMELETTE)).json()["id"]  # 2 servings, 4 eggs
    created = await cook.post(
        "/meal-plans",
        json={
            "start_date": "2026-12-07",
            "days": 3,
            "entries": [
                {"recipe_id": omelette, "day": 1},  # for 6: 12 eggs
                {"recipe_id": omelette, "day": 1, "slot": "lunch", "servings": 1},  # 2 eggs
            ],
        },
    )
    assert created.status_code == 201, created.text
    plan = created.json()
    assert sorted(e["servings"] for e in plan["days"][0]["entries"]) == [1, 6]
    added = await cook.post(
        f"/meal-plans/{plan['id']}/entries", json={"recipe_id": omelette, "day": 2}
    )
    assert added.status_code == 201 and added.json()["servings"] == 6  # 12 eggs
    eggs = items_by_key((await cook.get(f"/meal-plans/{plan['id']}/shopping-list")).json())["egg"]
    assert eggs["amounts"] == [{"quantity": 26.0, "unit": "piece"}]

    # A later preference sizes later entries only: the planned ones keep their servings.
    assert (await cook.put("/users/me/preferences", json={"servings": 3})).is_success
    again = await cook.post(
        f"/meal-plans/{plan['id']}/entries", json={"recipe_id": omelette, "day": 2}
    )
    assert again.status_code == 200 and again.json() == added.json()
    later = await cook.post(
        f"/meal-plans/{plan['id']}/entries", json={"recipe_id": omelette, "day": 3}
    )
    assert later.json()["servings"] == 3  # 6 eggs
    read = (await cook.get(f"/meal-plans/{plan['id']}")).json()
    assert [sorted(e["servings"] for e in day["entries"]) for day in read["days"]] == [
        [1, 6],
        [6],
        [3],
    ]
    eggs = items_by_key((await cook.get(f"/meal-plans/{plan['id']}/shopping-list")).json())["egg"]
    assert eggs["amounts"] == [{"quantity": 32.0, "unit": "piece"}]

    # Another user's entries are not sized by this user's preference.
    other_plan = await plan_with(other, [{"recipe_id": "spanish-tortilla", "day": 1}])
    other_entries = (await other.get(f"/meal-plans/{other_plan}")).json()["days"][0]["entries"]
    tortilla = (await other.get("/recipes/spanish-tortilla")).json()
    assert [e["servings"] for e in other_entries] == [tortilla["servings"]] != [3]

    # Clearing the preference brings back the recipe's own servings.
    assert (await cook.put("/users/me/preferences", json={})).is_success
    own = await cook.post(
        f"/meal-plans/{plan['id']}/entries",
        json={"recipe_id": omelette, "day": 3, "slot": "breakfast"},
    )
    assert own.json()["servings"] == 2
