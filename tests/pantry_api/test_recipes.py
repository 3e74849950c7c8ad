"""Recipes: ranked search with filters, reading, and each user's own saved recipes."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from pantry_api.ids import shuffle_key
from tests.pantry_api.conftest import ClientFactory

pytestmark = pytest.mark.anyio

MY_RECIPE: dict[str, Any] = {
    "title": "  Grandma's Tomato Eggs ",
    "summary": "Soft scrambled eggs in a sweet tomato sauce.",
    "cuisine": "chinese",
    "servings": 2,
    "total_minutes": 15,
    "dietary": ["vegetarian", "gluten-free"],
    "ingredients": [
        {"name": "Eggs", "quantity": 4, "unit": "piece"},
        {"name": "tomatoes", "quantity": 300, "unit": "g", "note": "in wedges"},
        {"name": "moon dust", "quantity": None},
        {"name": "sugar", "quantity": 1, "unit": "tsp"},
    ],
    "steps": ["Scramble the eggs.", "Cook the tomatoes.", "  Combine.  "],
}


def hit_text(hit: dict[str, Any]) -> str:
    names = [line["name"] for line in hit["ingredients"]]
    return " ".join([hit["title"], hit["summary"], *names]).lower()


async def search(client: httpx2.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/recipes", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def test_free_text_ranks_title_matches_first(client: httpx2.AsyncClient) -> None:
    page = await search(client, q="curry", page_size=20)
    assert page["total"] >= 3
    assert page["match"] == "all"
    titles = [hit["title"].lower() for hit in page["items"]]
    in_title = [("curry" in title) for title in titles]
    # every hit with curry in its title ranks above every hit without it
    assert in_title == sorted(in_title, reverse=True)
    assert in_title[0]


async def test_search_matches_ingredient_names_and_plurals(client: httpx2.AsyncClient) -> None:
    page = await search(client, q="chickpeas", page_size=50)
    assert page["total"] >= 2
    for hit in page["items"]:
        text = hit_text(hit)
        assert "chickpea" in text or "garbanzo" in text


async def test_every_word_must_match_else_any_word_is_said(client: httpx2.AsyncClient) -> None:
    both = await search(client, q="garlic lemon", page_size=50)
    assert both["match"] == "all"
    for hit in both["items"]:
        text = hit_text(hit)
        assert "garlic" in text and "lemon" in text
    loose = await search(client, q="garlic zzyzxnonsense")
    assert loose["match"] == "any"
    assert loose["total"] >= 1


async def test_filters_combine_with_and(client: httpx2.AsyncClient) -> None:
    page = await search(client, max_minutes=30, dietary=["vegan", "gluten-free"], page_size=50)
    assert page["total"] >= 1
    for hit in page["items"]:
        assert hit["total_minutes"] <= 30
        assert {"vegan", "gluten-free"} <= set(hit["dietary"])
    cuisine = await search(client, cuisine="italian", page_size=50)
    assert cuisine["total"] >= 5
    assert {hit["cuisine"] for hit in cuisine["items"]} == {"italian"}


async def test_pages_do_not_overlap_and_say_when_more_remain(client: httpx2.AsyncClient) -> None:
    first = await search(client, page_size=7, page=1)
    second = await search(client, page_size=7, page=2)
    assert first["has_more"] and first["total"] >= 150
    assert not {h["id"] for h in first["items"]} & {h["id"] for h in second["items"]}
    beyond = await search(client, page_size=50, page=1000)
    assert beyond["items"] == [] and beyond["total"] == first["total"] and not beyond["has_more"]


async def test_nothing_found_is_an_empty_page(client: httpx2.AsyncClient) -> None:
    page = await search(client, q="qwxzy")
    assert page == {
        "items": [],
        "page": 1,
        "page_size": 10,
        "total": 0,
        "total_exact": True,
        "has_more": False,
        "match": "all",
    }


async def test_operator_characters_are_just_text(client: httpx2.AsyncClient) -> None:
    for q in [
        '"',
        "AND OR NOT",
        "tomato*",
        "a:b",
        "(",
        "-",
        "!!!",
        "NEAR(x y)",
        "'; DROP TABLE recipes; --",
    ]:
        assert (await client.get("/recipes", params={"q": q})).status_code == 200


async def test_read_a_catalog_recipe(client: httpx2.AsyncClient) -> None:
    hit = (await search(client, q="soup"))["items"][0]
    recipe = (await client.get(f"/recipes/{hit['id']}")).json()
    assert recipe["id"] == hit["id"] and recipe["owner"] == "catalog"
    assert recipe["steps"] and recipe["ingredients"]
    assert all(line["ingredient_id"] and line["aisle"] for line in recipe["ingredients"])
    assert recipe["rating"] == {"average": None, "count": 0, "mine": None}


async def test_save_resolves_ingredient_names_and_trims_text(client: httpx2.AsyncClient) -> None:
    response = await client.post("/recipes", json=MY_RECIPE)
    assert response.status_code == 201, response.text
    recipe = response.json()
    assert recipe["id"].startswith("grandma-s-tomato-eggs-")
    assert recipe["title"] == "Grandma's Tomato Eggs"
    assert recipe["owner"] == "me"
    assert recipe["steps"][-1] == "Combine."
    lines = {line["name"]: line for line in recipe["ingredients"]}
    assert lines["Eggs"]["ingredient_id"] == "egg"
    assert lines["tomatoes"]["ingredient_id"] == "tomato"
    assert lines["moon dust"]["ingredient_id"] is None and lines["moon dust"]["unit"] is None
    assert recipe["dietary"] == ["vegetarian", "gluten-free"]
    found = await search(client, q="grandma tomato eggs")
    assert found["items"][0]["id"] == recipe["id"]
    assert found["items"][0]["owner"] == "me"


async def test_update_and_delete_own_recipe(client: httpx2.AsyncClient) -> None:
    recipe = (await client.post("/recipes", json=MY_RECIPE)).json()
    changed = {**MY_RECIPE, "title": "Tomato Eggs Deluxe", "total_minutes": 20}
    updated = await client.put(f"/recipes/{recipe['id']}", json=changed)
    assert updated.status_code == 200
    assert updated.json()["title"] == "Tomato Eggs Deluxe"
    assert updated.json()["id"] == recipe["id"]
    assert (await search(client, q="deluxe"))["items"][0]["id"] == recipe["id"]
    assert (await client.delete(f"/recipes/{recipe['id']}")).status_code == 204
    assert (await client.get(f"/recipes/{recipe['id']}")).status_code == 404
    assert (await search(client, q="deluxe"))["total"] == 0


async def test_catalog_recipes_are_read_only(client: httpx2.AsyncClient) -> None:
    hit = (await search(client))["items"][0]
    put = await client.put(f"/recipes/{hit['id']}", json=MY_RECIPE)
    assert put.status_code == 403
    assert (await client.delete(f"/recipes/{hit['id']}")).status_code == 403
    assert (await client.get(f"/recipes/{hit['id']}")).json()["title"] == hit["title"]


async def test_another_users_recipe_does_not_exist_for_me(make_client: ClientFactory) -> None:
    alice, bob = make_client(), make_client()
    recipe = (await alice.post("/recipes", json=MY_RECIPE)).json()
    assert (await bob.get(f"/recipes/{recipe['id']}")).status_code == 404
    assert (await bob.put(f"/recipes/{recipe['id']}", json=MY_RECIPE)).status_code == 404
    assert (await bob.delete(f"/recipes/{recipe['id']}")).status_code == 404
    assert (await bob.put(f"/recipes/{recipe['id']}/rating", json={"stars": 1})).status_code == 404
    assert (await search(bob, q="grandma tomato eggs"))["match"] != "all"
    assert (await alice.get(f"/recipes/{recipe['id']}")).status_code == 200


async def test_ratings_average_across_users_and_remember_mine(make_client: ClientFactory) -> None:
    alice, bob = make_client(), make_client()
    hit = (await search(alice, q="chicken"))["items"][0]
    assert (await alice.put(f"/recipes/{hit['id']}/rating", json={"stars": 5})).status_code == 200
    await bob.put(f"/recipes/{hit['id']}/rating", json={"stars": 2})
    again = await bob.put(f"/recipes/{hit['id']}/rating", json={"stars": 4})
    assert again.json()["mine"] == 4
    rating = (await alice.get(f"/recipes/{hit['id']}")).json()["rating"]
    assert rating["mine"] == 5 and rating["count"] >= 2
    assert (await alice.put(f"/recipes/{hit['id']}/rating", json={"stars": 6})).status_code == 422


async def test_hits_say_what_my_pantry_covers(client: httpx2.AsyncClient) -> None:
    hit = (await search(client, q="soup"))["items"][0]
    assert hit["pantry_coverage"] == 0
    assert not any(line["in_pantry"] for line in hit["ingredients"])
    held = [line["ingredient_id"] for line in hit["ingredients"]][:2]
    for ingredient_id in held:
        await client.post("/pantry/items", json={"ingredient_id": ingredient_id})
    again = next(h for h in (await search(client, q="soup"))["items"] if h["id"] == hit["id"])
    assert [line["ingredient_id"] for line in again["ingredients"] if line["in_pantry"]] == held
    assert 0 < again["pantry_coverage"] <= 1


async def test_pantry_sort_puts_the_best_covered_recipes_first(client: httpx2.AsyncClient) -> None:
    target = (await search(client, q="curry"))["items"][0]
    recipe = (await client.get(f"/recipes/{target['id']}")).json()
    for line in recipe["ingredients"]:
        await client.post("/pantry/items", json={"ingredient_id": line["ingredient_id"]})
    ranked = await search(client, sort="pantry", page_size=20)
    assert ranked["items"][0]["id"] == target["id"]
    assert ranked["items"][0]["pantry_coverage"] == 1
    coverages = [hit["pantry_coverage"] for hit in ranked["items"]]
    assert coverages == sorted(coverages, reverse=True)
    filtered = await search(client, sort="pantry", q="curry", page_size=50)
    assert filtered["items"][0]["id"] == target["id"]


async def test_course_filter(client: httpx2.AsyncClient) -> None:
    mains = await search(client, course="main", page_size=50)
    assert mains["total"] >= 90
    assert {hit["course"] for hit in mains["items"]} == {"main"}
    desserts = await search(client, q="chocolate", course="dessert")
    assert desserts["total"] >= 1
    assert all(hit["course"] == "dessert" for hit in desserts["items"])


async def test_hits_name_each_ingredients_aisle(client: httpx2.AsyncClient) -> None:
    page = await search(client, q="chicken", page_size=20)
    lines = [line for hit in page["items"] for line in hit["ingredients"]]
    assert lines and all(line["aisle"] for line in lines)
    aisles = {line["ingredient_id"]: line["aisle"] for line in lines}
    assert aisles.get("chicken-thigh", "meat") == "meat"
    assert aisles.get("garlic", "produce") == "produce"
    assert "meat" in aisles.values()
    mine = (await client.post("/recipes", json=MY_RECIPE)).json()
    found = await search(client, q="grandma tomato eggs")
    hit = next(h for h in found["items"] if h["id"] == mine["id"])
    by_name = {line["name"]: line for line in hit["ingredients"]}
    assert by_name["Eggs"]["aisle"] == "dairy & eggs"
    assert by_name["moon dust"] == {
        "ingredient_id": None,
        "name": "moon dust",
        "in_pantry": False,
        "aisle": None,
    }


def shuffled(ids: list[str], seed: int) -> list[str]:
    """The order a seed gives ties: shuffle_key XOR seed, then id (as Pantry sorts them)."""
    return sorted(ids, key=lambda recipe_id: (shuffle_key(recipe_id) ^ seed, recipe_id))


async def all_pages(client: httpx2.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    hits: list[dict[str, Any]] = []
    page = 1
    while True:
        found = await search(client, page=page, page_size=50, **params)
        hits += found["items"]
        if not found["has_more"]:
            return hits
        page += 1


async def test_a_seed_orders_ties_the_same_way_every_time(client: httpx2.AsyncClient) -> None:
    """Without q every main ties on relevance: a seed orders them by its own shuffle, the
    same one each time, and the same on SQLite and PostgreSQL (both equal the reference)."""
    by_title = [hit["id"] for hit in await all_pages(client, course="main")]
    first = [hit["id"] for hit in await all_pages(client, course="main", seed=20261125)]
    again = [hit["id"] for hit in await all_pages(client, course="main", seed=20261125)]
    other = [hit["id"] for hit in await all_pages(client, course="main", seed=7)]
    assert len(first) >= 90 and sorted(first) == sorted(by_title)
    assert first == again
    assert first != other
    assert first != by_title and other != by_title
    assert first == shuffled(by_title, 20261125)
    assert other == shuffled(by_title, 7)
    for seed in (0, 2_147_483_647):
        ends = [hit["id"] for hit in await all_pages(client, course="main", seed=seed)]
        assert ends == shuffled(by_title, seed)
    # pages of a seeded order do not overlap
    pages = [await search(client, course="main", seed=7, page=n, page_size=7) for n in (1, 2)]
    assert [h["id"] for p in pages for h in p["items"]] == other[:14]


async def test_a_seed_breaks_pantry_coverage_ties_not_coverage(client: httpx2.AsyncClient) -> None:
    for ingredient_id in ("onion", "garlic", "tomato"):
        await client.post("/pantry/items", json={"ingredient_id": ingredient_id})
    plain = await all_pages(client, sort="pantry", course="main")
    seeded = await all_pages(client, sort="pantry", course="main", seed=99)
    coverages = [hit["pantry_coverage"] for hit in seeded]
    assert coverages == sorted(coverages, reverse=True)
    assert coverages == [hit["pantry_coverage"] for hit in plain]
    assert [h["id"] for h in seeded] != [h["id"] for h in plain]
    for coverage in set(coverages):
        tied = [hit["id"] for hit in seeded if hit["pantry_coverage"] == coverage]
        assert tied == shuffled(tied, 99)


async def test_a_seed_keeps_relevance_first_and_leaves_title_order_alone(
    client: httpx2.AsyncClient,
) -> None:
    plain = [hit["id"] for hit in await all_pages(client, q="curry")]
    seeded = [hit["id"] for hit in await all_pages(client, q="curry", seed=5)]
    assert sorted(seeded) == sorted(plain)
    in_title = [
        ("curry" in hit["title"].lower()) for hit in await all_pages(client, q="curry", seed=5)
    ]
    assert in_title == sorted(in_title, reverse=True)
    by_title = await all_pages(client, sort="title", course="soup")
    assert await all_pages(client, sort="title", course="soup", seed=5) == by_title
