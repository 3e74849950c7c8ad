"""SQLite settings of the database handle: how long a write waits, and how durable it is."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import httpx2
import pytest

from pantry_api.app import create_app
from pantry_api.store.db import Database
from tests.pantry_api.conftest import SERVICE_TOKEN, settings_for
from tests.support import serve_in_thread, unique

pytestmark = pytest.mark.anyio
BUSY_TIMEOUT = 0.5
ADD = {"ingredient_id": "egg", "quantity": 2}


@contextmanager
def write_lock_held(database_url: str) -> Iterator[None]:
    """Another process's writer: holds SQLite's write lock until the block ends."""
    holder = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        yield
        holder.execute("ROLLBACK")
    finally:
        holder.close()


def headers(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {SERVICE_TOKEN}", "X-Pantry-User": user}


def assert_busy(response: httpx2.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    error = response.json()["error"]
    assert error["code"] == "unavailable" and "nothing was changed" in error["message"]


async def test_a_write_refused_while_locked_is_503_and_its_retry_applies_once(
    database_factory: Callable[[str], str],
) -> None:
    database_url = database_factory("sqlite")
    settings = settings_for(database_url, PANTRY_API_SQLITE_BUSY_TIMEOUT=str(BUSY_TIMEOUT))
    user, key = unique("busy"), {"Idempotency-Key": unique("key")}
    with serve_in_thread(create_app(settings)) as server:
        async with httpx2.AsyncClient(base_url=server.base_url, headers=headers(user)) as client:
            assert (await client.get("/pantry")).json()["total"] == 0  # the user exists
            with write_lock_held(database_url):
                started = time.monotonic()
                with anyio.fail_after(BUSY_TIMEOUT + 5):
                    refused = await client.post("/pantry/items", json=ADD, headers=key)
                waited = time.monotonic() - started
                assert_busy(refused)
                assert BUSY_TIMEOUT * 0.8 <= waited < BUSY_TIMEOUT + 3
                # Reads go on while a writer holds the lock (WAL), and see nothing written.
                assert (await client.get("/pantry")).json()["total"] == 0
            # The caller finds out by sending the same request again with the same key.
            applied = await client.post("/pantry/items", json=ADD, headers=key)
            replayed = await client.post("/pantry/items", json=ADD, headers=key)
            assert applied.status_code == replayed.status_code == 201
            assert replayed.headers["idempotent-replayed"] == "true"
            items = (await client.get("/pantry")).json()["items"]
            assert [(i["ingredient_id"], i["quantity"]) for i in items] == [("egg", 2.0)]


async def test_waiting_for_a_connection_counts_against_the_same_timeout(
    database_factory: Callable[[str], str],
) -> None:
    """More writers than pooled connections: every one gives up within the one budget (a
    late one does not wait for a connection and then the whole timeout again for the lock)."""
    database_url = database_factory("sqlite")
    budget = 1.0
    settings = settings_for(database_url, PANTRY_API_SQLITE_BUSY_TIMEOUT=str(budget))
    user = unique("busy")
    with serve_in_thread(create_app(settings)) as server:
        limits = httpx2.Limits(max_connections=40)
        async with httpx2.AsyncClient(
            base_url=server.base_url, headers=headers(user), limits=limits, timeout=30
        ) as client:
            await client.get("/pantry")
            answers: list[httpx2.Response] = []

            async def add() -> None:
                answers.append(await client.post("/pantry/items", json=ADD))

            with write_lock_held(database_url):
                started = time.monotonic()
                with anyio.fail_after(budget + 10):
                    async with anyio.create_task_group() as group:
                        for _ in range(40):  # the pool holds 15
                            group.start_soon(add)
                waited = time.monotonic() - started
                # A new user's first request (it creates the user) is refused the same way.
                newcomer = await client.get("/pantry", headers={"X-Pantry-User": unique("new")})
            for answer in [*answers, newcomer]:
                assert_busy(answer)
            # About 1.0 s; twice the budget if the wait for a connection were not counted.
            assert waited < budget * 1.6
            assert (await client.get("/pantry")).json()["total"] == 0


@pytest.mark.parametrize(("value", "expected"), [("full", 2), ("normal", 1), (None, 2)])
async def test_synchronous_is_applied_on_every_connection(
    database_factory: Callable[[str], str], value: str | None, expected: int
) -> None:
    overrides = {} if value is None else {"PANTRY_API_SQLITE_SYNCHRONOUS": value}
    app = create_app(settings_for(database_factory("sqlite"), **overrides))
    db: Database = app.state.db
    try:
        async with db.read() as first, db.write() as second:  # two pooled connections
            for conn in (first, second):
                level = (await conn.exec_driver_sql("PRAGMA synchronous")).scalar_one()
                assert level == expected  # 2 is FULL, 1 is NORMAL
                wal = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar_one()
                assert wal == "wal"
    finally:
        await db.close()


@pytest.mark.parametrize(
    ("name", "value"),
    [("PANTRY_API_SQLITE_SYNCHRONOUS", "off"), ("PANTRY_API_SQLITE_BUSY_TIMEOUT", "forever")],
)
def test_a_bad_sqlite_setting_stops_start_up_with_one_line(
    tmp_path: Path, name: str, value: str
) -> None:
    env = {
        "PATH": "",
        "PANTRY_API_DATA_DIR": str(tmp_path),
        "PANTRY_API_SERVICE_TOKEN": SERVICE_TOKEN,
        name: value,
    }
    result = subprocess.run(
        [sys.executable, "-m", "pantry_api", "serve", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and name in lines[0] and repr(value) in lines[0], result.stderr
