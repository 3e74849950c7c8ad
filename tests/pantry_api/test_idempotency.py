"""POSTs with an Idempotency-Key are safe to retry: the first answer is replayed."""

from __future__ import annotations

import anyio
import httpx2
import pytest

from tests.support import unique

pytestmark = pytest.mark.anyio

RECIPE = {
    "title": "Retry Soup",
    "total_minutes": 20,
    "ingredients": [{"name": "water", "quantity": 1, "unit": "l"}],
    "steps": ["Boil."],
}


async def test_retried_create_replays_the_first_answer(client: httpx2.AsyncClient) -> None:
    key = {"Idempotency-Key": unique("key")}
    first = await client.post("/recipes", json=RECIPE, headers=key)
    again = await client.post("/recipes", json=RECIPE, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert (await client.get("/users/me")).json()["saved_recipes"] == 1


async def test_without_a_key_each_post_creates(client: httpx2.AsyncClient) -> None:
    await client.post("/recipes", json=RECIPE)
    await client.post("/recipes", json=RECIPE)
    assert (await client.get("/users/me")).json()["saved_recipes"] == 2


async def test_same_key_with_another_body_is_refused(client: httpx2.AsyncClient) -> None:
    key = {"Idempotency-Key": unique("key")}
    assert (await client.post("/recipes", json=RECIPE, headers=key)).status_code == 201
    changed = await client.post("/recipes", json={**RECIPE, "title": "Other"}, headers=key)
    assert changed.status_code == 409
    assert changed.json()["error"]["details"][0]["field"] == "header.Idempotency-Key"
    assert (await client.get("/users/me")).json()["saved_recipes"] == 1


async def test_keys_belong_to_one_user(make_client) -> None:  # type: ignore[no-untyped-def]
    key = {"Idempotency-Key": "shared-key"}
    alice, bob = make_client(), make_client()
    mine = await alice.post("/recipes", json=RECIPE, headers=key)
    theirs = await bob.post("/recipes", json=RECIPE, headers=key)
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]


async def test_concurrent_retries_create_one_plan(client: httpx2.AsyncClient) -> None:
    key = {"Idempotency-Key": unique("key")}
    answers: list[httpx2.Response] = []

    async def post() -> None:
        answers.append(
            await client.post("/meal-plans", json={"start_date": "2026-12-07"}, headers=key)
        )

    async with anyio.create_task_group() as group:
        for _ in range(8):
            group.start_soon(post)
    assert {answer.status_code for answer in answers} == {201}
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert (await client.get("/meal-plans")).json()["total"] == 1


async def test_a_failed_request_is_not_remembered(client: httpx2.AsyncClient) -> None:
    key = {"Idempotency-Key": unique("key")}
    bad = await client.post(
        "/meal-plans", json={"start_date": "2026-12-07", "days": 99}, headers=key
    )
    assert bad.status_code == 422
    good = await client.post(
        "/meal-plans", json={"start_date": "2026-12-07", "days": 2}, headers=key
    )
    assert good.status_code == 201


async def test_malformed_key_is_400(client: httpx2.AsyncClient) -> None:
    response = await client.post(
        "/meal-plans", json={"start_date": "2026-12-07"}, headers={"Idempotency-Key": "k" * 300}
    )
    assert response.status_code == 400
