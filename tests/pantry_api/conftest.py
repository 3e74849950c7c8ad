"""Pantry API fixtures: a real server over real HTTP, on SQLite and on PostgreSQL."""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from pantry_api.app import create_app
from pantry_api.config import Settings
from tests.support import (
    create_postgres_database,
    drop_postgres_database,
    postgres_reachable,
    run_blocking,
    serve_in_thread,
    unique,
)

SERVICE_TOKEN = "test-service-token-0123456789"
ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@dataclass(frozen=True)
class Api:
    base_url: str
    database_url: str
    engine: str
    token: str = SERVICE_TOKEN

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "X-Pantry-User": user}


def settings_for(database_url: str, **overrides: str) -> Settings:
    env = {
        "PANTRY_API_DATABASE_URL": database_url,
        "PANTRY_API_SERVICE_TOKEN": SERVICE_TOKEN,
        "PANTRY_API_RATE_LIMIT": "0",
        **overrides,
    }
    return Settings.from_env(env)


@pytest.fixture(scope="session")
def database_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], str]]:
    """Makes an empty database of either engine; PostgreSQL ones are dropped at the end."""
    created: list[str] = []

    def make(engine: str) -> str:
        if engine == "sqlite":
            folder: Path = tmp_path_factory.mktemp("pantry-db")
            return f"sqlite:///{folder / 'pantry.db'}"
        reason = run_blocking(postgres_reachable)
        if reason is not None:
            if os.environ.get("PANTRY_TEST_REQUIRE_POSTGRES") == "1":
                pytest.fail(f"PANTRY_TEST_REQUIRE_POSTGRES is set but {reason}")
            pytest.skip(reason)
        url = run_blocking(create_postgres_database)
        created.append(url)
        return url

    yield make
    for url in created:
        run_blocking(functools.partial(drop_postgres_database, url))


@pytest.fixture(scope="session", params=ENGINES)
def api(request: pytest.FixtureRequest, database_factory: Callable[[str], str]) -> Iterator[Api]:
    """One seeded Pantry per engine for the whole session; tests isolate by user id."""
    engine: str = request.param
    database_url = database_factory(engine)
    with serve_in_thread(create_app(settings_for(database_url))) as server:
        yield Api(base_url=server.base_url, database_url=database_url, engine=engine)


ClientFactory = Callable[..., httpx2.AsyncClient]


@pytest.fixture
async def make_client(api: Api) -> AsyncIterator[ClientFactory]:
    """Clients acting as a given (by default a fresh, unique) user."""
    clients: list[httpx2.AsyncClient] = []

    def make(user: str | None = None, **headers: str) -> httpx2.AsyncClient:
        client = httpx2.AsyncClient(
            base_url=api.base_url,
            headers={**api.headers(user or unique("user")), **headers},
            timeout=30,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def client(make_client: ClientFactory) -> httpx2.AsyncClient:
    return make_client()
