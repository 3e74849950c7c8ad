"""Versioned migrations: applied once, in order, leaving exactly the schema queries expect."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from pantry_api.store.db import Database
from pantry_api.store.migrations import latest_version
from pantry_api.store.tables import metadata

pytestmark = pytest.mark.anyio

ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _columns(sync_conn: Connection) -> dict[str, set[str]]:
    inspector = inspect(sync_conn)
    return {
        table: {column["name"] for column in inspector.get_columns(table)}
        for table in inspector.get_table_names()
    }


@pytest.mark.parametrize("engine", ENGINES)
async def test_migrated_schema_matches_the_query_tables(
    engine: str, database_factory: Callable[[str], str]
) -> None:
    db = Database(database_factory(engine))
    try:
        assert await db.migrate() == list(range(1, latest_version() + 1))
        assert await db.migrate() == []
        async with db.read() as conn:
            columns = await conn.run_sync(_columns)
            versions = (await conn.execute(text("SELECT version FROM schema_migrations"))).scalars()
            assert list(versions) == list(range(1, latest_version() + 1))
    finally:
        await db.close()
    for table in metadata.sorted_tables:
        expected = {column.name for column in table.columns}
        actual = columns[table.name] - {"search_vector"}  # PostgreSQL's generated search column
        assert actual == expected, table.name


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(
    database_factory: Callable[[str], str],
) -> None:
    db = Database(database_factory("sqlite"))
    try:
        await db.migrate()
        async with db.read() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    finally:
        await db.close()
