"""How far a search counts and ranks: up to MAX_COUNTED matches, then a lower bound.

The seed catalog is far below the real limit, so these tests lower it; the service runs
in this process, so it reads the lowered value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest
from sqlalchemy import text

from pantry_api import models
from pantry_api.seed import load_catalog
from pantry_api.store import search as search_store
from pantry_api.store.db import Database
from pantry_api.store.migrations import migrate
from tests.pantry_api.conftest import ClientFactory

pytestmark = pytest.mark.anyio

ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
LIMIT = 4
MY_CHICKEN: dict[str, Any] = {
    "title": "Zanzibar Chicken Stew",
    "summary": "Slow-cooked chicken with coconut and spices.",
    "total_minutes": 60,
    "ingredients": [{"name": "chicken thigh", "quantity": 500, "unit": "g"}],
    "steps": ["Cook it slowly."],
}


@pytest.fixture
def low_limit(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(search_store, "MAX_COUNTED", LIMIT)
    return LIMIT


async def pages(client: httpx2.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    """Every page of a search, in order, up to the first that says no more follow."""
    found = []
    for number in range(1, 20):
        response = await client.get("/recipes", params={**params, "page": number})
        assert response.status_code == 200, response.text
        found.append(response.json())
        if not found[-1]["has_more"]:
            return found
    raise AssertionError("the pages never ended")


def first_catalog_matches(word: str, count: int) -> list[str]:
    """The first catalog recipes, in the order the seed adds them, with a word starting
    with ``word`` in the title, summary or an ingredient's name."""
    catalog = load_catalog()
    names = {item["id"]: item["name"] for item in catalog.ingredients}
    matching = []
    for recipe in catalog.recipes:
        lines = " ".join(names[line["ingredient"]] for line in recipe["ingredients"])
        words = re.findall(r"[^\W_]+", f"{recipe['title']} {recipe['summary']} {lines}".lower())
        if any(found.startswith(word) for found in words):
            matching.append(recipe["id"])
    return matching[:count]


async def test_a_broad_search_ranks_the_first_matches_and_says_the_total_is_a_bound(
    make_client: ClientFactory, low_limit: int
) -> None:
    found = await pages(make_client(), q="chicken", page_size=3)
    assert [len(page["items"]) for page in found] == [3, 1]
    assert all(page["total"] == low_limit and not page["total_exact"] for page in found)
    ids = [hit["id"] for page in found for hit in page["items"]]
    assert sorted(ids) == sorted(first_catalog_matches("chicken", low_limit))
    past = (await make_client().get("/recipes", params={"q": "chicken", "page": 9})).json()
    assert past["items"] == [] and not past["has_more"]
    assert past["total"] == low_limit and not past["total_exact"]


async def test_my_own_matching_recipes_are_always_ranked(
    make_client: ClientFactory, low_limit: int
) -> None:
    cook = make_client()
    mine = (await cook.post("/recipes", json=MY_CHICKEN)).json()
    found = await pages(cook, q="chicken", page_size=10)
    ids = [hit["id"] for page in found for hit in page["items"]]
    assert mine["id"] in ids and len(ids) == low_limit + 1
    assert found[0]["total"] == low_limit + 1 and not found[0]["total_exact"]
    # someone else's recipe is neither ranked nor counted
    theirs = await pages(make_client(), q="zanzibar chicken")
    assert theirs[0]["match"] == "any" and theirs[0]["total"] == low_limit
    assert mine["id"] not in [hit["id"] for page in theirs for hit in page["items"]]


async def test_a_narrow_search_is_counted_exactly(
    make_client: ClientFactory, low_limit: int
) -> None:
    found = await pages(make_client(), q="salmon")
    assert found[0]["total"] == 2 <= low_limit and found[0]["total_exact"]


async def test_browsing_pages_on_past_the_count(make_client: ClientFactory, low_limit: int) -> None:
    client = make_client()
    first = (await client.get("/recipes", params={"page_size": 3})).json()
    assert first["has_more"] and not first["total_exact"] and first["total"] >= low_limit
    third = (await client.get("/recipes", params={"page_size": 3, "page": 3})).json()
    assert len(third["items"]) == 3 and third["has_more"]
    assert third["total"] >= 3 * 3 + 1 and not third["total_exact"]
    titles = [hit["title"] for hit in first["items"] + third["items"]]
    assert titles == sorted(titles)
    beyond = (await client.get("/recipes", params={"page_size": 50, "page": 1000})).json()
    assert beyond["items"] == [] and not beyond["has_more"]
    assert beyond["total"] >= low_limit and not beyond["total_exact"]


@pytest.mark.parametrize("engine", ENGINES)
async def test_upgrading_a_version_5_database_keeps_its_recipes_searchable(
    engine: str, database_factory: Callable[[str], str]
) -> None:
    """Version 6 moves what search reads into recipe_search; existing recipes move too."""
    db = Database(database_factory(engine))
    try:
        async with db.write() as conn:
            assert await migrate(conn, target=5) == [1, 2, 3, 4, 5]
            await conn.execute(
                text(
                    "INSERT INTO recipes (id, owner_id, title, summary, cuisine, course,"
                    " servings, total_minutes, steps, ingredient_names, diet_mask, measured,"
                    " shuffle_key, created_at, updated_at) VALUES ('old-soup', NULL,"
                    " 'Old Leek Soup', 'Thick and green.', NULL, 'soup', 2, 10, :steps,"
                    " 'leek', 2, 0, 7, :t, :t)"
                ),
                {"steps": '["Boil."]', "t": datetime(2026, 1, 1, tzinfo=UTC)},
            )
        assert await db.migrate() == [6]
        async with db.read() as conn:
            found = await search_store.search(
                conn, "someone", models.RecipeSearchQuery(q="leek", dietary=["vegan"])
            )
        assert [row.id for row in found.rows] == ["old-soup"]
        assert found.total == 1 and found.total_exact and not found.has_more
    finally:
        await db.close()
