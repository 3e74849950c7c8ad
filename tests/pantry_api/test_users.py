"""The acting user: created on first sight, with preferences they own."""

from __future__ import annotations

import httpx2
import pytest

from tests.pantry_api.conftest import ClientFactory

pytestmark = pytest.mark.anyio


async def test_me_starts_empty(client: httpx2.AsyncClient) -> None:
    me = (await client.get("/users/me")).json()
    assert me["preferences"] == {"dietary": [], "disliked": []}
    assert (me["pantry_items"], me["meal_plans"], me["saved_recipes"]) == (0, 0, 0)


async def test_demo_user_exists_from_the_seed(make_client: ClientFactory) -> None:
    me = await make_client("demo").get("/users/me")
    assert me.status_code == 200 and me.json()["id"] == "demo"


async def test_preferences_are_replaced_normalised_and_private(make_client: ClientFactory) -> None:
    alice, bob = make_client(), make_client()
    body = {"dietary": ["vegan", "gluten-free", "vegan"], "disliked": [" Okra", "okra", "Cilantro"]}
    saved = await alice.put("/users/me/preferences", json=body)
    assert saved.status_code == 200
    assert saved.json() == {"dietary": ["vegan", "gluten-free"], "disliked": ["okra", "cilantro"]}
    assert (await alice.get("/users/me/preferences")).json() == saved.json()
    assert (await bob.get("/users/me/preferences")).json() == {"dietary": [], "disliked": []}
    cleared = await alice.put("/users/me/preferences", json={})
    assert cleared.json() == {"dietary": [], "disliked": []}


async def test_bad_preferences_name_the_field(client: httpx2.AsyncClient) -> None:
    response = await client.put(
        "/users/me/preferences", json={"dietary": ["keto"], "disliked": ["  "]}
    )
    assert response.status_code == 422
    fields = {d["field"] for d in response.json()["error"]["details"]}
    assert fields == {"body.dietary.0", "body.disliked.0"}
