"""Data written through the API survives a restart of the service, on both engines."""

from __future__ import annotations

from collections.abc import Callable

import httpx2
import pytest

from pantry_api.app import create_app
from tests.pantry_api.conftest import SERVICE_TOKEN, settings_for
from tests.support import serve_in_thread

pytestmark = pytest.mark.anyio
ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
HEADERS = {"Authorization": f"Bearer {SERVICE_TOKEN}", "X-Pantry-User": "restart-user"}


@pytest.mark.parametrize("engine", ENGINES)
async def test_writes_survive_a_restart(
    engine: str, database_factory: Callable[[str], str]
) -> None:
    database_url = database_factory(engine)
    with serve_in_thread(create_app(settings_for(database_url))) as server:
        async with httpx2.AsyncClient(base_url=server.base_url, headers=HEADERS) as client:
            plan = (
                await client.post("/meal-plans", json={"start_date": "2026-12-01", "days": 3})
            ).json()
            prefs = {
                "dietary": ["vegan"],
                "disliked": ["okra"],
                "max_weeknight_minutes": 40,
                "servings": 2,
            }
            assert (await client.put("/users/me/preferences", json=prefs)).status_code == 200
            declined = await client.post("/users/me/preferences/declined")
            assert declined.status_code == 200
            saved = declined.json()  # with when they were set and declined
            assert saved["set_at"] is not None and saved["declined_at"] is not None
            catalog_before = (await client.get("/recipes")).json()["total"]

    with serve_in_thread(create_app(settings_for(database_url))) as server:
        async with httpx2.AsyncClient(base_url=server.base_url, headers=HEADERS) as client:
            again = await client.get(f"/meal-plans/{plan['id']}")
            assert again.status_code == 200
            assert again.json()["name"] == plan["name"]
            assert (await client.get("/users/me/preferences")).json() == saved
            # the catalog is seeded once, not again on every start
            assert (await client.get("/recipes")).json()["total"] == catalog_before
