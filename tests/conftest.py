from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pantry_api.app import create_app as create_pantry_app
from pantry_api.config import Settings as PantrySettings
from tests.issuer import Issuer, running_issuer
from tests.support import SERVICE_TOKEN, RunningServer, serve_in_thread


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    """A real token issuer on 127.0.0.1 (RSA and EC keys, JWKS, metadata) for one test."""
    with running_issuer() as running:
        yield running


@pytest.fixture(scope="session")
def pantry_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One seeded Pantry (SQLite) behind real HTTP for the MCP tests; they keep apart by
    acting user."""
    folder: Path = tmp_path_factory.mktemp("pantry-for-mcp")
    settings = PantrySettings.from_env(
        {
            "PANTRY_API_DATABASE_URL": f"sqlite:///{folder / 'pantry.db'}",
            "PANTRY_API_SERVICE_TOKEN": SERVICE_TOKEN,
            "PANTRY_API_RATE_LIMIT": "0",
        }
    )
    with serve_in_thread(create_pantry_app(settings)) as server:
        yield server
