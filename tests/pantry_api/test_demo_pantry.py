"""A first run shows the product: the demo user starts with a small, realistic pantry that
several catalog mains mostly use, some of it to be used up within days."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import httpx2
import pytest

from pantry_api.app import create_app
from pantry_api.seed import DEMO_PANTRY, DEMO_USER, load_catalog
from pantry_api.units import UNITS
from tests.pantry_api.conftest import SERVICE_TOKEN, ClientFactory, settings_for
from tests.support import serve_in_thread

pytestmark = pytest.mark.anyio
ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
HEADERS = {"Authorization": f"Bearer {SERVICE_TOKEN}", "X-Pantry-User": DEMO_USER}


def test_the_demo_pantry_is_made_of_catalog_ingredients() -> None:
    catalog = {item["id"] for item in load_catalog().ingredients}
    ids = [item.ingredient_id for item in DEMO_PANTRY]
    assert 10 <= len(ids) <= 20 and len(set(ids)) == len(ids)
    assert set(ids) <= catalog
    assert all(item.unit in UNITS and item.quantity > 0 for item in DEMO_PANTRY)


@pytest.mark.parametrize("engine", ENGINES)
async def test_a_fresh_database_stocks_the_demo_pantry_once(
    engine: str, database_factory: Callable[[str], str]
) -> None:
    database_url = database_factory(engine)
    seeded_from = date.today()
    with serve_in_thread(create_app(settings_for(database_url))) as server:
        seeded_by = date.today()  # the seed ran between the two (a midnight may fall between)
        async with httpx2.AsyncClient(base_url=server.base_url, headers=HEADERS) as client:
            pantry = (await client.get("/pantry")).json()
            assert 10 <= pantry["total"] <= 20
            items = pantry["items"]
            assert all(item["quantity"] and item["unit"] for item in items)
            expiring = [
                item
                for item in items
                if item["expires_on"] is not None
                and seeded_from <= date.fromisoformat(item["expires_on"])
                and date.fromisoformat(item["expires_on"]) <= seeded_by + timedelta(days=4)
            ]
            assert 3 <= len(expiring) <= 4, expiring
            later = [i for i in items if i["expires_on"] and i not in expiring]
            assert len(later) >= 2
            assert (await client.get("/users/me")).json()["pantry_items"] == pantry["total"]
            # the cook uses some of it up
            assert (await client.delete("/pantry/items/spinach")).status_code == 204
            await client.patch("/pantry/items/egg", json={"quantity": 2})

    with serve_in_thread(create_app(settings_for(database_url))) as server:
        async with httpx2.AsyncClient(base_url=server.base_url, headers=HEADERS) as client:
            again = (await client.get("/pantry")).json()
    # a restart neither re-adds nor resets anything
    assert again["total"] == pantry["total"] - 1
    assert "spinach" not in {item["ingredient_id"] for item in again["items"]}
    assert next(i for i in again["items"] if i["ingredient_id"] == "egg")["quantity"] == 2


async def test_pantry_sorted_mains_for_demo_are_well_covered(make_client: ClientFactory) -> None:
    demo = make_client(DEMO_USER)
    page = (
        await demo.get("/recipes", params={"sort": "pantry", "course": "main", "page_size": 5})
    ).json()
    coverages = [hit["pantry_coverage"] for hit in page["items"]]
    assert coverages[0] > 0.4, page["items"][0]
    assert coverages == sorted(coverages, reverse=True)
    assert all(coverage >= 0.5 for coverage in coverages), coverages
    assert any(line["in_pantry"] for line in page["items"][0]["ingredients"])
