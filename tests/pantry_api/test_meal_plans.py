"""Meal plans: days from a start date, entries in slots, safe repeats, calendar export."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from sqlalchemy import event

from pantry_api.store import plans as plan_store
from pantry_api.store.db import Database
from tests.pantry_api.conftest import Api, ClientFactory
from tests.support import unique

pytestmark = pytest.mark.anyio


async def catalog_ids(client: httpx2.AsyncClient, count: int) -> list[str]:
    page = (await client.get("/recipes", params={"page_size": count})).json()
    return [hit["id"] for hit in page["items"]]


async def new_plan(client: httpx2.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/meal-plans", json={"start_date": "2026-11-30", **body})
    assert response.status_code == 201, response.text
    plan: dict[str, Any] = response.json()
    return plan


async def test_create_gives_empty_days_from_the_start_date(client: httpx2.AsyncClient) -> None:
    plan = await new_plan(client, days=3, name="Advent week")
    assert plan["name"] == "Advent week"
    assert (plan["start_date"], plan["end_date"]) == ("2026-11-30", "2026-12-02")
    assert [(d["day"], d["date"], d["entries"]) for d in plan["days"]] == [
        (1, "2026-11-30", []),
        (2, "2026-12-01", []),
        (3, "2026-12-02", []),
    ]
    assert (await new_plan(client))["name"] == "7-day plan from 2026-11-30"


async def test_entries_fill_days_in_slot_order(client: httpx2.AsyncClient) -> None:
    plan = await new_plan(client, days=2)
    first, second = await catalog_ids(client, 2)
    dinner = await client.post(
        f"/meal-plans/{plan['id']}/entries", json={"recipe_id": first, "day": 2}
    )
    assert dinner.status_code == 201
    assert dinner.json()["slot"] == "dinner" and dinner.json()["date"] == "2026-12-01"
    await client.post(
        f"/meal-plans/{plan['id']}/entries",
        json={"recipe_id": second, "day": 2, "slot": "breakfast", "servings": 1},
    )
    read = (await client.get(f"/meal-plans/{plan['id']}")).json()
    day_two = read["days"][1]["entries"]
    assert [(e["slot"], e["recipe_id"]) for e in day_two] == [
        ("breakfast", second),
        ("dinner", first),
    ]
    assert day_two[0]["servings"] == 1
    assert read["days"][0]["entries"] == []


async def test_same_recipe_day_and_slot_twice_leaves_one_entry(client: httpx2.AsyncClient) -> None:
    plan = await new_plan(client, days=1)
    (recipe_id,) = await catalog_ids(client, 1)
    body = {"recipe_id": recipe_id, "day": 1, "slot": "lunch"}
    first = await client.post(f"/meal-plans/{plan['id']}/entries", json=body)
    again = await client.post(f"/meal-plans/{plan['id']}/entries", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    entries = (await client.get(f"/meal-plans/{plan['id']}")).json()["days"][0]["entries"]
    assert len(entries) == 1


async def test_bad_entries_are_refused_and_write_nothing(client: httpx2.AsyncClient) -> None:
    plan = await new_plan(client, days=2)
    (recipe_id,) = await catalog_ids(client, 1)
    path = f"/meal-plans/{plan['id']}/entries"
    beyond = await client.post(path, json={"recipe_id": recipe_id, "day": 3})
    assert beyond.status_code == 409
    unknown = await client.post(path, json={"recipe_id": "no-such-dish", "day": 1})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["details"][0]["field"] == "body.recipe_id"
    bad_slot = await client.post(path, json={"recipe_id": recipe_id, "day": 1, "slot": "brunch"})
    assert bad_slot.status_code == 422
    read = (await client.get(f"/meal-plans/{plan['id']}")).json()
    assert all(day["entries"] == [] for day in read["days"])


async def test_remove_entry_and_delete_plan(client: httpx2.AsyncClient) -> None:
    plan = await new_plan(client, days=1)
    (recipe_id,) = await catalog_ids(client, 1)
    entry = (
        await client.post(
            f"/meal-plans/{plan['id']}/entries", json={"recipe_id": recipe_id, "day": 1}
        )
    ).json()
    assert (
        await client.delete(f"/meal-plans/{plan['id']}/entries/{entry['id']}")
    ).status_code == 204
    assert (
        await client.delete(f"/meal-plans/{plan['id']}/entries/{entry['id']}")
    ).status_code == 404
    assert (await client.delete(f"/meal-plans/{plan['id']}")).status_code == 204
    assert (await client.get(f"/meal-plans/{plan['id']}")).status_code == 404


async def test_list_is_latest_first_with_entry_counts(client: httpx2.AsyncClient) -> None:
    early = await new_plan(client, start_date="2026-01-05", days=1)
    late = await new_plan(client, start_date="2026-03-02", days=1)
    (recipe_id,) = await catalog_ids(client, 1)
    await client.post(f"/meal-plans/{early['id']}/entries", json={"recipe_id": recipe_id, "day": 1})
    listing = (await client.get("/meal-plans")).json()
    assert [p["id"] for p in listing["items"]] == [late["id"], early["id"]]
    assert [p["entry_count"] for p in listing["items"]] == [0, 1]
    one = (await client.get("/meal-plans", params={"page_size": 1, "page": 2})).json()
    assert [p["id"] for p in one["items"]] == [early["id"]] and not one["has_more"]


async def test_plans_are_private(make_client: ClientFactory) -> None:
    alice, bob = make_client(), make_client()
    plan = await new_plan(alice, days=1)
    (recipe_id,) = await catalog_ids(alice, 1)
    for response in (
        await bob.get(f"/meal-plans/{plan['id']}"),
        await bob.delete(f"/meal-plans/{plan['id']}"),
        await bob.post(
            f"/meal-plans/{plan['id']}/entries", json={"recipe_id": recipe_id, "day": 1}
        ),
        await bob.get(f"/meal-plans/{plan['id']}/shopping-list"),
        await bob.get(f"/meal-plans/{plan['id']}/calendar.ics"),
    ):
        assert response.status_code == 404
    assert (await bob.get("/meal-plans")).json()["total"] == 0
    assert (await alice.get(f"/meal-plans/{plan['id']}")).json()["days"][0]["entries"] == []


async def test_an_entry_may_use_my_recipe_but_not_someone_elses(make_client: ClientFactory) -> None:
    alice, bob = make_client(), make_client()
    recipe = {
        "title": "Secret Stew",
        "total_minutes": 60,
        "ingredients": [{"name": "beef"}],
        "steps": ["Stew."],
    }
    mine = (await alice.post("/recipes", json=recipe)).json()
    alice_plan, bob_plan = await new_plan(alice, days=1), await new_plan(bob, days=1)
    ok = await alice.post(
        f"/meal-plans/{alice_plan['id']}/entries", json={"recipe_id": mine["id"], "day": 1}
    )
    assert ok.status_code == 201
    refused = await bob.post(
        f"/meal-plans/{bob_plan['id']}/entries", json={"recipe_id": mine["id"], "day": 1}
    )
    assert refused.status_code == 404


async def test_calendar_export(client: httpx2.AsyncClient) -> None:
    plan = await new_plan(client, days=2, name="Week, with; specials")
    (recipe_id,) = await catalog_ids(client, 1)
    await client.post(f"/meal-plans/{plan['id']}/entries", json={"recipe_id": recipe_id, "day": 2})
    response = await client.get(f"/meal-plans/{plan['id']}/calendar.ics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    text = response.text
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.endswith("END:VCALENDAR\r\n")
    assert "X-WR-CALNAME:Week\\, with\\; specials" in text
    assert "DTSTART;VALUE=DATE:20261201" in text
    assert text.count("BEGIN:VEVENT") == 1
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))


async def test_a_plan_can_be_created_with_its_entries_in_one_step(
    client: httpx2.AsyncClient,
) -> None:
    first, second = await catalog_ids(client, 2)
    entries = [
        {"recipe_id": first, "day": 1},
        {"recipe_id": second, "day": 2, "slot": "lunch"},
        {"recipe_id": first, "day": 1},  # a repeat is one entry
    ]
    plan = await new_plan(client, days=2, entries=entries)
    assert [[(e["recipe_id"], e["slot"]) for e in d["entries"]] for d in plan["days"]] == [
        [(first, "dinner")],
        [(second, "lunch")],
    ]


async def test_a_plan_with_one_bad_entry_is_not_created(client: httpx2.AsyncClient) -> None:
    (recipe_id,) = await catalog_ids(client, 1)
    beyond = await client.post(
        "/meal-plans",
        json={
            "start_date": "2026-11-30",
            "days": 2,
            "entries": [{"recipe_id": recipe_id, "day": 1}, {"recipe_id": recipe_id, "day": 3}],
        },
    )
    assert beyond.status_code == 409
    assert beyond.json()["error"]["details"][0]["field"] == "body.entries.1.day"
    unknown = await client.post(
        "/meal-plans",
        json={
            "start_date": "2026-11-30",
            "days": 2,
            "entries": [{"recipe_id": "no-such-dish", "day": 1}],
        },
    )
    assert unknown.status_code == 404
    assert (await client.get("/meal-plans")).json()["total"] == 0


async def test_a_plan_must_end_inside_the_calendar(client: httpx2.AsyncClient) -> None:
    response = await client.post("/meal-plans", json={"start_date": "9999-12-31", "days": 7})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "body.start_date"
    assert (
        await client.post("/meal-plans", json={"start_date": "9999-12-04", "days": 28})
    ).status_code == 201


async def plan_ids(client: httpx2.AsyncClient, **params: Any) -> list[str]:
    response = await client.get("/meal-plans", params=params)
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] == len(page["items"])  # every test here fits one page
    return [plan["id"] for plan in page["items"]]


async def test_list_by_dates_includes_plans_touching_the_boundaries(
    client: httpx2.AsyncClient,
) -> None:
    # Three weeks: ending 2026-11-29, spanning 2026-11-30 to 12-06, starting 2026-12-07.
    before = await new_plan(client, start_date="2026-11-23", days=7)
    during = await new_plan(client, start_date="2026-11-30", days=7)
    after = await new_plan(client, start_date="2026-12-07", days=7)
    one_day = await new_plan(client, start_date="2026-12-01", days=1)
    assert before["end_date"] == "2026-11-29"

    assert await plan_ids(client, ends_on_or_after="2026-11-29") == [
        after["id"], one_day["id"], during["id"], before["id"],
    ]  # fmt: skip
    assert await plan_ids(client, ends_on_or_after="2026-11-30") == [
        after["id"], one_day["id"], during["id"],
    ]  # fmt: skip
    assert await plan_ids(client, starts_on_or_before="2026-12-07") == [
        after["id"], one_day["id"], during["id"], before["id"],
    ]  # fmt: skip
    assert await plan_ids(client, starts_on_or_before="2026-12-06") == [
        one_day["id"], during["id"], before["id"],
    ]  # fmt: skip
    # both: the plans that overlap 2026-12-01 .. 2026-12-01
    on_the_first = {"ends_on_or_after": "2026-12-01", "starts_on_or_before": "2026-12-01"}
    assert await plan_ids(client, **on_the_first) == [one_day["id"], during["id"]]
    # a one-day plan ends on its start date
    on_the_second = {"ends_on_or_after": "2026-12-02", "starts_on_or_before": "2026-12-02"}
    assert await plan_ids(client, **on_the_second) == [during["id"]]
    assert await plan_ids(client, ends_on_or_after="2026-12-14") == []
    filtered = (
        await client.get(
            "/meal-plans", params={"ends_on_or_after": "2026-11-30", "page_size": 2, "page": 1}
        )
    ).json()
    assert filtered["total"] == 3 and filtered["has_more"] and len(filtered["items"]) == 2


async def test_list_earliest_first(client: httpx2.AsyncClient) -> None:
    late = await new_plan(client, start_date="2026-03-02", days=1)
    early = await new_plan(client, start_date="2026-01-05", days=1)
    early_again = await new_plan(client, start_date="2026-01-05", days=3)  # created later
    assert await plan_ids(client) == [late["id"], early_again["id"], early["id"]]
    assert await plan_ids(client, order="latest") == [late["id"], early_again["id"], early["id"]]
    # earliest start first; the same start date still shows the newest plan first
    assert await plan_ids(client, order="earliest") == [early_again["id"], early["id"], late["id"]]
    assert await plan_ids(client, order="earliest", ends_on_or_after="2026-01-06") == [
        early_again["id"],
        late["id"],
    ]


async def test_list_names_each_plans_recipes_in_day_and_slot_order(
    client: httpx2.AsyncClient,
) -> None:
    first, second, third = await catalog_ids(client, 3)
    entries = [
        {"recipe_id": first, "day": 2, "slot": "dinner"},
        {"recipe_id": second, "day": 2, "slot": "breakfast"},
        {"recipe_id": third, "day": 1, "slot": "snack"},
        {"recipe_id": second, "day": 3, "slot": "lunch"},  # a repeat is listed once
        {"recipe_id": first, "day": 1, "slot": "lunch"},
    ]
    busy = await new_plan(client, days=3, entries=entries)
    empty = await new_plan(client, start_date="2026-11-01", days=2)
    listing = (await client.get("/meal-plans")).json()["items"]
    assert [(p["id"], p["recipe_ids"], p["entry_count"]) for p in listing] == [
        (busy["id"], [first, third, second], 5),
        (empty["id"], [], 0),
    ]


# ---- pantry coverage ------------------------------------------------------------------


async def measured_ids(client: httpx2.AsyncClient, recipe_id: str) -> list[str]:
    """The recipe's distinct catalog ingredients that have a quantity, in recipe order."""
    recipe = (await client.get(f"/recipes/{recipe_id}")).json()
    lines = recipe["ingredients"]
    ids = [line["ingredient_id"] for line in lines if line["quantity"] and line["ingredient_id"]]
    return list(dict.fromkeys(ids))


async def two_recipes(client: httpx2.AsyncClient) -> tuple[str, str]:
    """Two catalog recipes with at least three measured catalog ingredients each."""
    chosen = [
        recipe_id
        for recipe_id in await catalog_ids(client, 20)
        if len(await measured_ids(client, recipe_id)) >= 3
    ]
    return chosen[0], chosen[1]


async def search_coverage(client: httpx2.AsyncClient, recipe_id: str) -> float:
    """What GET /recipes (sort=pantry) reports for the recipe, for this client's user."""
    title = (await client.get(f"/recipes/{recipe_id}")).json()["title"]
    page = await client.get("/recipes", params={"q": title, "sort": "pantry", "page_size": 50})
    (hit,) = [hit for hit in page.json()["items"] if hit["id"] == recipe_id]
    coverage: float = hit["pantry_coverage"]
    return coverage


def plan_coverage(plan: dict[str, Any]) -> dict[str, float]:
    return {
        entry["recipe_id"]: entry["pantry_coverage"]
        for day in plan["days"]
        for entry in day["entries"]
    }


async def stock(client: httpx2.AsyncClient, *ingredient_ids: str) -> None:
    for ingredient_id in ingredient_ids:
        response = await client.post("/pantry/items", json={"ingredient_id": ingredient_id})
        assert response.status_code in (200, 201), response.text


async def test_entries_carry_the_pantry_coverage_that_search_reports(
    make_client: ClientFactory,
) -> None:
    alice, bob = make_client(), make_client()
    first, second = await two_recipes(alice)
    await stock(bob, *await measured_ids(bob, first), *await measured_ids(bob, second))
    await stock(alice, (await measured_ids(alice, first))[0])
    expected = {
        first: await search_coverage(alice, first),
        second: await search_coverage(alice, second),
    }
    assert 0 < expected[first] < 1
    assert await search_coverage(bob, first) == await search_coverage(bob, second) == 1

    created = await new_plan(
        alice,
        days=2,
        entries=[{"recipe_id": first, "day": 1}, {"recipe_id": second, "day": 1, "slot": "lunch"}],
    )
    assert plan_coverage(created) == expected
    read = (await alice.get(f"/meal-plans/{created['id']}")).json()
    assert plan_coverage(read) == expected
    added = await alice.post(
        f"/meal-plans/{created['id']}/entries", json={"recipe_id": second, "day": 2}
    )
    assert added.status_code == 201
    assert added.json()["pantry_coverage"] == expected[second]

    # Bob's plan of the same recipes shows his pantry, not Alice's.
    bobs = await new_plan(bob, days=1, entries=[{"recipe_id": first, "day": 1}])
    assert plan_coverage(bobs) == {first: 1}


async def test_plan_coverage_reflects_the_pantry_at_read_time(client: httpx2.AsyncClient) -> None:
    first, second = await two_recipes(client)
    plan = await new_plan(
        client,
        days=1,
        entries=[{"recipe_id": first, "day": 1}, {"recipe_id": second, "day": 1, "slot": "lunch"}],
    )
    before = plan_coverage(plan)
    assert before == {first: 0, second: 0}
    await stock(client, (await measured_ids(client, second))[0])
    after = plan_coverage((await client.get(f"/meal-plans/{plan['id']}")).json())
    assert after[second] > before[second]
    assert after == {
        first: await search_coverage(client, first),
        second: await search_coverage(client, second),
    }


async def test_plan_coverage_takes_the_same_few_queries_however_many_entries(
    api: Api, make_client: ClientFactory
) -> None:
    user = unique("user")
    client = make_client(user)
    recipe_ids = await catalog_ids(client, 8)
    await stock(client, (await measured_ids(client, recipe_ids[0]))[0])
    small = await new_plan(client, days=1, entries=[{"recipe_id": recipe_ids[0], "day": 1}])
    big = await new_plan(
        client,
        days=4,
        entries=[
            {"recipe_id": recipe_id, "day": 1 + index % 4, "slot": slot}
            for index, recipe_id in enumerate(recipe_ids)
            for slot in ("lunch", "dinner")
        ],
    )
    database = Database(api.database_url)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(database.engine.sync_engine, "before_cursor_execute", count)
    try:
        counts = []
        for plan in (small, big):
            statements.clear()
            async with database.read() as conn:
                read = await plan_store.get(conn, user, plan["id"])
            counts.append(sum(sql.lstrip().upper().startswith("SELECT") for sql in statements))
            assert plan_coverage(read.model_dump(mode="json")) == plan_coverage(plan)
    finally:
        await database.close()
    # the plan, its entries, then every recipe's lines with the pantry in one query
    assert counts == [3, 3], statements
