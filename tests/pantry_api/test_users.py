"""The acting user: created on first sight, with preferences they own."""

from __future__ import annotations

import httpx2
import pytest

from tests.pantry_api.conftest import ClientFactory

pytestmark = pytest.mark.anyio
EMPTY_PREFERENCES: dict[str, object] = {
    "dietary": [],
    "disliked": [],
    "max_weeknight_minutes": None,
}


async def test_me_starts_empty(client: httpx2.AsyncClient) -> None:
    me = (await client.get("/users/me")).json()
    assert me["preferences"] == EMPTY_PREFERENCES
    assert (me["pantry_items"], me["meal_plans"], me["saved_recipes"]) == (0, 0, 0)


async def test_demo_user_exists_from_the_seed(make_client: ClientFactory) -> None:
    me = await make_client("demo").get("/users/me")
    assert me.status_code == 200 and me.json()["id"] == "demo"


async def test_preferences_are_replaced_normalised_and_private(make_client: ClientFactory) -> None:
    alice, bob = make_client(), make_client()
    body = {"dietary": ["vegan", "gluten-free", "vegan"], "disliked": [" Okra", "okra", "Cilantro"]}
    saved = await alice.put("/users/me/preferences", json=body)
    assert saved.status_code == 200
    assert saved.json() == {
        "dietary": ["vegan", "gluten-free"],
        "disliked": ["okra", "cilantro"],
        "max_weeknight_minutes": None,
    }
    assert (await alice.get("/users/me/preferences")).json() == saved.json()
    assert (await bob.get("/users/me/preferences")).json() == EMPTY_PREFERENCES
    cleared = await alice.put("/users/me/preferences", json={})
    assert cleared.json() == EMPTY_PREFERENCES


async def test_a_weeknight_time_limit_is_kept_until_replaced(client: httpx2.AsyncClient) -> None:
    saved = await client.put(
        "/users/me/preferences", json={"dietary": ["vegetarian"], "max_weeknight_minutes": 35}
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["max_weeknight_minutes"] == 35
    assert (await client.get("/users/me/preferences")).json() == saved.json()
    assert (await client.get("/users/me")).json()["preferences"] == saved.json()
    whole = await client.put("/users/me/preferences", json={"max_weeknight_minutes": 1440.0})
    assert whole.json()["max_weeknight_minutes"] == 1440  # 1440.0 is a whole number in JSON
    # PUT replaces: leaving the limit out clears it, as it clears the other fields
    replaced = await client.put("/users/me/preferences", json={"dietary": ["vegan"]})
    assert replaced.json() == {"dietary": ["vegan"], "disliked": [], "max_weeknight_minutes": None}
    assert (await client.get("/users/me")).json()["preferences"]["max_weeknight_minutes"] is None


@pytest.mark.parametrize("value", [0, 1441, -30, 1.5, True, "30", [30], {"minutes": 30}])
async def test_a_bad_weeknight_time_limit_is_refused_and_changes_nothing(
    client: httpx2.AsyncClient, value: object
) -> None:
    await client.put("/users/me/preferences", json={"max_weeknight_minutes": 45})
    response = await client.put("/users/me/preferences", json={"max_weeknight_minutes": value})
    assert response.status_code == 422, response.text
    fields = {d["field"] for d in response.json()["error"]["details"]}
    assert fields == {"body.max_weeknight_minutes"}
    assert (await client.get("/users/me/preferences")).json()["max_weeknight_minutes"] == 45


async def test_bad_preferences_name_the_field(client: httpx2.AsyncClient) -> None:
    response = await client.put(
        "/users/me/preferences", json={"dietary": ["keto"], "disliked": ["  "]}
    )
    assert response.status_code == 422
    fields = {d["field"] for d in response.json()["error"]["details"]}
    assert fields == {"body.dietary.0", "body.disliked.0"}
