"""Each acting user has a request budget; going over it is a 429 with Retry-After."""

from __future__ import annotations

import httpx2
import pytest

from pantry_api.app import create_app
from tests.pantry_api.conftest import SERVICE_TOKEN, settings_for
from tests.support import serve_in_thread

pytestmark = pytest.mark.anyio


async def test_budget_is_per_user_and_429_says_when_to_retry(tmp_path: object) -> None:
    settings = settings_for(f"sqlite:///{tmp_path}/limited.db", PANTRY_API_RATE_LIMIT="3")
    with serve_in_thread(create_app(settings)) as server:
        auth = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
        async with httpx2.AsyncClient(base_url=server.base_url, headers=auth) as client:
            alice = {"X-Pantry-User": "alice"}
            statuses = [
                (await client.get("/users/me", headers=alice)).status_code for _ in range(4)
            ]
            assert statuses == [200, 200, 200, 429]
            limited = await client.get("/users/me", headers=alice)
            assert limited.status_code == 429
            assert int(limited.headers["retry-after"]) >= 1
            assert limited.json()["error"]["code"] == "rate_limited"
            other = await client.get("/users/me", headers={"X-Pantry-User": "bob"})
            assert other.status_code == 200
