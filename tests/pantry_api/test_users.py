"""The acting user: created on first sight, with preferences they own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest

from tests.pantry_api.conftest import ClientFactory

pytestmark = pytest.mark.anyio
EMPTY_PREFERENCES: dict[str, object] = {
    "dietary": [],
    "disliked": [],
    "max_weeknight_minutes": None,
    "servings": None,
    "set_at": None,
    "declined_at": None,
}
SAVED = ("dietary", "disliked", "max_weeknight_minutes", "servings")


def chosen(preferences: dict[str, Any]) -> dict[str, Any]:
    """What the person saved, without the times the service keeps."""
    return {name: preferences[name] for name in SAVED}


def stamp(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None and moment.utcoffset() == timedelta(0), text
    return moment


def just_now(text: str) -> bool:
    return abs(datetime.now(UTC) - stamp(text)) < timedelta(minutes=1)


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
        "servings": None,
        "set_at": saved.json()["set_at"],
        "declined_at": None,
    }
    assert (await alice.get("/users/me/preferences")).json() == saved.json()
    assert (await bob.get("/users/me/preferences")).json() == EMPTY_PREFERENCES
    cleared = await alice.put("/users/me/preferences", json={})
    assert chosen(cleared.json()) == chosen(EMPTY_PREFERENCES)
    assert cleared.json()["set_at"] is not None  # an empty save is still a save


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
    assert chosen(replaced.json()) == {
        "dietary": ["vegan"],
        "disliked": [],
        "max_weeknight_minutes": None,
        "servings": None,
    }
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


async def test_a_new_user_has_never_set_nor_declined_preferences(
    client: httpx2.AsyncClient,
) -> None:
    preferences = (await client.get("/users/me/preferences")).json()
    assert preferences == EMPTY_PREFERENCES
    assert preferences["servings"] is None
    assert preferences["set_at"] is None and preferences["declined_at"] is None


async def test_saving_preferences_records_when_and_keeps_the_decline(
    client: httpx2.AsyncClient,
) -> None:
    declined = (await client.post("/users/me/preferences/declined")).json()
    first = await client.put("/users/me/preferences", json={"servings": 2})
    assert first.status_code == 200, first.text
    assert first.json()["servings"] == 2 and just_now(first.json()["set_at"])
    assert first.json()["declined_at"] == declined["declined_at"]  # saving keeps it
    assert (await client.get("/users/me/preferences")).json() == first.json()
    assert (await client.get("/users/me")).json()["preferences"] == first.json()
    second = (await client.put("/users/me/preferences", json={"servings": 3})).json()
    assert stamp(second["set_at"]) >= stamp(first.json()["set_at"])
    assert second["declined_at"] == declined["declined_at"]


async def test_declining_records_when_and_changes_nothing_else(
    client: httpx2.AsyncClient,
) -> None:
    body = {"dietary": ["vegetarian"], "disliked": ["okra"], "max_weeknight_minutes": 30}
    before = (await client.put("/users/me/preferences", json={**body, "servings": 4})).json()
    declined = await client.post("/users/me/preferences/declined")
    assert declined.status_code == 200, declined.text
    after = declined.json()
    assert just_now(after["declined_at"])
    assert {**after, "declined_at": None} == before  # set_at and every choice kept
    assert (await client.get("/users/me/preferences")).json() == after
    again = (await client.post("/users/me/preferences/declined")).json()  # safe to repeat
    assert stamp(again["declined_at"]) >= stamp(after["declined_at"])
    assert {**again, "declined_at": None} == before


async def test_declining_before_ever_saving_leaves_preferences_unset(
    client: httpx2.AsyncClient,
) -> None:
    declined = (await client.post("/users/me/preferences/declined")).json()
    assert {**declined, "declined_at": None} == EMPTY_PREFERENCES
    assert just_now(declined["declined_at"])


async def test_declining_ignores_a_body(client: httpx2.AsyncClient) -> None:
    """The operation takes no body: one sent anyway changes nothing but the time."""
    declined = await client.post("/users/me/preferences/declined", json={"servings": 9})
    assert declined.status_code == 200, declined.text
    assert declined.json()["servings"] is None and declined.json()["set_at"] is None


async def test_servings_is_kept_until_replaced(client: httpx2.AsyncClient) -> None:
    saved = await client.put("/users/me/preferences", json={"servings": 20})
    assert saved.status_code == 200, saved.text
    assert saved.json()["servings"] == 20
    whole = await client.put("/users/me/preferences", json={"servings": 3.0})
    assert whole.json()["servings"] == 3  # 3.0 is a whole number in JSON
    cleared = await client.put("/users/me/preferences", json={"dietary": ["vegan"]})
    assert cleared.json()["servings"] is None  # PUT replaces: left out is cleared
    assert (await client.put("/users/me/preferences", json={"servings": None})).is_success


@pytest.mark.parametrize("value", [0, 21, -2, 2.5, True, "4", [4], {"people": 4}])
async def test_a_bad_servings_is_refused_and_changes_nothing(
    client: httpx2.AsyncClient, value: object
) -> None:
    before = (await client.put("/users/me/preferences", json={"servings": 4})).json()
    response = await client.put("/users/me/preferences", json={"servings": value})
    assert response.status_code == 422, response.text
    fields = {d["field"] for d in response.json()["error"]["details"]}
    assert fields == {"body.servings"}
    assert (await client.get("/users/me/preferences")).json() == before


@pytest.mark.parametrize("name", ["set_at", "declined_at"])
async def test_the_times_are_not_the_callers_to_set(client: httpx2.AsyncClient, name: str) -> None:
    response = await client.put("/users/me/preferences", json={name: "2026-01-01T00:00:00Z"})
    assert response.status_code == 422, response.text
    assert {d["field"] for d in response.json()["error"]["details"]} == {f"body.{name}"}
    assert (await client.get("/users/me/preferences")).json() == EMPTY_PREFERENCES


async def test_set_and_declined_times_are_per_user(make_client: ClientFactory) -> None:
    alice, bob, carol = make_client(), make_client(), make_client()
    assert (await alice.put("/users/me/preferences", json={"servings": 2})).is_success
    assert (await bob.post("/users/me/preferences/declined")).is_success
    alice_now = (await alice.get("/users/me/preferences")).json()
    bob_now = (await bob.get("/users/me/preferences")).json()
    assert alice_now["servings"] == 2 and alice_now["declined_at"] is None
    assert alice_now["set_at"] is not None
    assert bob_now["servings"] is None and bob_now["set_at"] is None
    assert bob_now["declined_at"] is not None
    assert (await carol.get("/users/me/preferences")).json() == EMPTY_PREFERENCES
