"""The pantry: add (quantities add up), set, remove, filter; one user's own."""

from __future__ import annotations

import anyio
import httpx2
import pytest

from tests.pantry_api.conftest import ClientFactory

pytestmark = pytest.mark.anyio


async def test_add_then_add_again_sums_quantities(client: httpx2.AsyncClient) -> None:
    first = await client.post("/pantry/items", json={"ingredient_id": "egg", "quantity": 6})
    assert first.status_code == 201
    assert first.json()["unit"] == "piece" and first.json()["name"] == "egg"
    again = await client.post("/pantry/items", json={"ingredient_id": "egg", "quantity": 4})
    assert again.status_code == 200
    assert again.json()["quantity"] == 10


async def test_compatible_units_convert_into_the_held_unit(client: httpx2.AsyncClient) -> None:
    await client.post(
        "/pantry/items", json={"ingredient_id": "all-purpose-flour", "quantity": 1, "unit": "kg"}
    )
    added = await client.post(
        "/pantry/items", json={"ingredient_id": "all-purpose-flour", "quantity": 500, "unit": "g"}
    )
    assert (added.json()["quantity"], added.json()["unit"]) == (1.5, "kg")


async def test_incompatible_units_conflict_and_change_nothing(client: httpx2.AsyncClient) -> None:
    await client.post("/pantry/items", json={"ingredient_id": "milk", "quantity": 1, "unit": "l"})
    clash = await client.post(
        "/pantry/items", json={"ingredient_id": "milk", "quantity": 200, "unit": "g"}
    )
    assert clash.status_code == 409
    assert clash.json()["error"]["details"]["have"] == {"quantity": 1.0, "unit": "l"}
    item = (await client.get("/pantry", params={"q": "milk"})).json()["items"]
    assert [(i["ingredient_id"], i["quantity"], i["unit"]) for i in item] == [("milk", 1.0, "l")]


async def test_presence_without_quantity_and_expiry(client: httpx2.AsyncClient) -> None:
    added = await client.post(
        "/pantry/items", json={"ingredient_id": "salt", "expires_on": "2030-01-01"}
    )
    assert added.json()["quantity"] is None and added.json()["unit"] is None
    assert added.json()["expires_on"] == "2030-01-01"


async def test_patch_sets_and_clears_fields(client: httpx2.AsyncClient) -> None:
    await client.post(
        "/pantry/items", json={"ingredient_id": "butter", "quantity": 250, "unit": "g"}
    )
    patched = await client.patch("/pantry/items/butter", json={"quantity": 100})
    assert (patched.json()["quantity"], patched.json()["unit"]) == (100, "g")
    dated = await client.patch("/pantry/items/butter", json={"expires_on": "2026-12-24"})
    assert dated.json()["expires_on"] == "2026-12-24" and dated.json()["quantity"] == 100
    cleared = await client.patch(
        "/pantry/items/butter", json={"quantity": None, "expires_on": None}
    )
    assert cleared.json()["quantity"] is None and cleared.json()["unit"] is None
    assert cleared.json()["expires_on"] is None


async def test_remove_and_not_there(client: httpx2.AsyncClient) -> None:
    await client.post(
        "/pantry/items", json={"ingredient_id": "garlic", "quantity": 3, "unit": "clove"}
    )
    assert (await client.delete("/pantry/items/garlic")).status_code == 204
    assert (await client.delete("/pantry/items/garlic")).status_code == 404
    assert (await client.patch("/pantry/items/garlic", json={"quantity": 1})).status_code == 404


async def test_unknown_ingredient_is_404_naming_the_field(client: httpx2.AsyncClient) -> None:
    response = await client.post("/pantry/items", json={"ingredient_id": "unobtainium"})
    assert response.status_code == 404
    assert response.json()["error"]["details"][0]["field"] == "body.ingredient_id"
    assert (await client.get("/pantry")).json()["total"] == 0


async def test_list_is_by_aisle_and_filters_by_name(client: httpx2.AsyncClient) -> None:
    for ingredient in ("lemon", "egg", "basmati-rice", "red-onion", "onion"):
        await client.post("/pantry/items", json={"ingredient_id": ingredient})
    listing = (await client.get("/pantry")).json()
    aisles = [item["aisle"] for item in listing["items"]]
    assert aisles == sorted(aisles) and listing["total"] == 5
    onions = (await client.get("/pantry", params={"q": "ONION"})).json()
    assert {item["ingredient_id"] for item in onions["items"]} == {"onion", "red-onion"}


async def test_pantries_are_private(make_client: ClientFactory) -> None:
    alice, bob = make_client(), make_client()
    await alice.post("/pantry/items", json={"ingredient_id": "egg", "quantity": 12})
    assert (await bob.get("/pantry")).json()["total"] == 0
    assert (await bob.patch("/pantry/items/egg", json={"quantity": 1})).status_code == 404
    assert (await bob.delete("/pantry/items/egg")).status_code == 404
    assert (await alice.get("/pantry")).json()["items"][0]["quantity"] == 12


async def test_concurrent_adds_to_one_item_lose_no_update(client: httpx2.AsyncClient) -> None:
    await client.post("/pantry/items", json={"ingredient_id": "rice", "quantity": 100, "unit": "g"})

    async def add() -> None:
        response = await client.post(
            "/pantry/items", json={"ingredient_id": "rice", "quantity": 10, "unit": "g"}
        )
        assert response.status_code == 200

    async with anyio.create_task_group() as group:
        for _ in range(10):
            group.start_soon(add)
    item = (await client.get("/pantry", params={"q": "rice"})).json()["items"]
    assert [(i["ingredient_id"], i["quantity"]) for i in item] == [("rice", 200.0)]


async def test_concurrent_first_adds_merge_like_sequential_ones(
    make_client: ClientFactory,
) -> None:
    """Many first adds of one ingredient at once: one creates it, the rest add to it, no 409."""
    client = make_client()
    await client.get("/users/me")  # the user exists before the race starts
    foods, writers, keyed = ("chickpea", "pea", "peanut-butter"), 16, 4

    async def add(food: str, n: int) -> httpx2.Response:
        # Some carry an Idempotency-Key: keyed adds must merge the same way.
        headers = {"Idempotency-Key": f"first-add-{food}-{n}"} if n < keyed else {}
        return await client.post(
            "/pantry/items",
            json={"ingredient_id": food, "quantity": 1, "unit": "g"},
            headers=headers,
        )

    answers: dict[str, list[int]] = {food: [] for food in foods}

    async def run(food: str, n: int) -> None:
        response = await add(food, n)
        assert response.status_code in (200, 201), response.text
        answers[food].append(response.status_code)

    with anyio.fail_after(60):
        async with anyio.create_task_group() as group:
            for n in range(writers):
                for food in foods:
                    group.start_soon(run, food, n)
    for food in foods:
        assert sorted(answers[food]) == [200] * (writers - 1) + [201]
    items = (await client.get("/pantry")).json()["items"]
    assert sorted((i["ingredient_id"], i["quantity"], i["unit"]) for i in items) == [
        (food, float(writers), "g") for food in sorted(foods)
    ]
    # A keyed add sent again replays its first answer and adds nothing more.
    replay = await add("pea", 0)
    assert replay.headers["idempotent-replayed"] == "true"
    again = (await client.get("/pantry", params={"q": "pea"})).json()["items"]
    assert {i["ingredient_id"]: i["quantity"] for i in again}["pea"] == float(writers)
