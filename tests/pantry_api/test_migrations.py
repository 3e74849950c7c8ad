"""Versioned migrations: applied once, in order, leaving exactly the schema queries expect."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection

from pantry_api.diet import from_mask
from pantry_api.ids import shuffle_key
from pantry_api.store import accounts, plans, users
from pantry_api.store.db import Database
from pantry_api.store.migrations import latest_version, migrate
from pantry_api.store.tables import meal_plans, metadata, recipes

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


@pytest.mark.parametrize("engine", ENGINES)
async def test_upgrading_a_version_1_database_keeps_its_recipes(
    engine: str, database_factory: Callable[[str], str]
) -> None:
    """Version 2 folds the recipe_tags table into a bit mask; existing tags must survive."""
    db = Database(database_factory(engine))
    try:
        async with db.write() as conn:
            assert await migrate(conn, target=1) == [1]
            await conn.execute(
                text(
                    "INSERT INTO recipes (id, owner_id, title, summary, cuisine, servings,"
                    " total_minutes, steps, ingredient_names, created_at, updated_at) VALUES"
                    " ('old-soup', NULL, 'Old Soup', 's', NULL, 2, 10, :steps, 'leek', :t, :t)"
                ),
                {"steps": '["Boil."]', "t": datetime(2026, 1, 1, tzinfo=UTC)},
            )
            await conn.execute(
                text(
                    "INSERT INTO recipe_tags (recipe_id, tag) VALUES"
                    " ('old-soup', 'vegan'), ('old-soup', 'nut-free')"
                )
            )
        assert await db.migrate() == list(range(2, latest_version() + 1))
        async with db.read() as conn:
            row = (await conn.execute(text("SELECT diet_mask, measured FROM recipes"))).one()
        assert from_mask(row.diet_mask) == ["vegan", "nut-free"]
        assert row.measured == 0
    finally:
        await db.close()


@pytest.mark.parametrize("engine", ENGINES)
async def test_upgrading_a_version_2_database_lets_its_users_get_accounts(
    engine: str, database_factory: Callable[[str], str]
) -> None:
    """Version 3 adds accounts beside the users: existing users and their data stay as
    they were, and can be given an account afterwards."""
    db = Database(database_factory(engine))
    try:
        async with db.write() as conn:
            assert await migrate(conn, target=2) == [1, 2]
            stamp = datetime(2026, 1, 1, tzinfo=UTC)
            await conn.execute(
                text(
                    "INSERT INTO users (id, dietary, disliked, created_at, updated_at)"
                    " VALUES ('old-cook', :dietary, '[]', :t, :t)"
                ),
                {"dietary": '["vegan"]', "t": stamp},
            )
            await conn.execute(
                text(
                    "INSERT INTO meal_plans (id, user_id, name, start_date, days, created_at)"
                    " VALUES ('plan-old', 'old-cook', 'Old week', :d, 7, :t)"
                ),
                {"d": date(2026, 1, 5), "t": stamp},
            )
        assert await db.migrate() == list(range(3, latest_version() + 1))
        async with db.write() as conn:
            account = await accounts.create(
                conn,
                email="Old.Cook@pantry.example",
                password="old cook's password",
                user_id="old-cook",
            )
        async with db.read() as conn:
            verified = await accounts.verify(conn, "old.cook@pantry.example", "old cook's password")
            plan_owner = (
                await conn.execute(text("SELECT user_id FROM meal_plans WHERE id = 'plan-old'"))
            ).scalar()
            me = await users.me(conn, "old-cook")
    finally:
        await db.close()
    assert verified is not None and verified.account == account
    assert plan_owner == "old-cook"
    assert me.preferences.dietary == ["vegan"] and me.meal_plans == 1


@pytest.mark.parametrize("engine", ENGINES)
async def test_upgrading_a_version_3_database_backfills_shuffle_keys_and_plan_ends(
    engine: str, database_factory: Callable[[str], str]
) -> None:
    """Version 4 adds a weeknight limit (empty for existing users), each recipe's shuffle
    key and each plan's end date: existing rows get theirs from what they already hold."""
    db = Database(database_factory(engine))
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        async with db.write() as conn:
            assert await migrate(conn, target=3) == [1, 2, 3]
            await conn.execute(
                text(
                    "INSERT INTO users (id, dietary, disliked, created_at, updated_at)"
                    " VALUES ('old-cook', '[]', '[]', :t, :t)"
                ),
                {"t": stamp},
            )
            for recipe_id in ("old-soup", "old-stew"):
                await conn.execute(
                    text(
                        "INSERT INTO recipes (id, owner_id, title, summary, cuisine, servings,"
                        " total_minutes, steps, ingredient_names, created_at, updated_at) VALUES"
                        " (:id, NULL, 'Old', 's', NULL, 2, 10, '[\"Boil.\"]', 'leek', :t, :t)"
                    ),
                    {"id": recipe_id, "t": stamp},
                )
            for plan_id, start, days in (
                ("plan-a", date(2026, 12, 28), 7),
                ("plan-b", date(2026, 2, 3), 1),
            ):
                await conn.execute(
                    text(
                        "INSERT INTO meal_plans (id, user_id, name, start_date, days, created_at)"
                        " VALUES (:id, 'old-cook', 'Old week', :d, :n, :t)"
                    ),
                    {"id": plan_id, "d": start, "n": days, "t": stamp},
                )
        assert await db.migrate() == list(range(4, latest_version() + 1))
        async with db.read() as conn:
            keys = dict((await conn.execute(select(recipes.c.id, recipes.c.shuffle_key))).all())
            ends = dict((await conn.execute(select(meal_plans.c.id, meal_plans.c.end_date))).all())
            prefs = await users.preferences(conn, "old-cook")
    finally:
        await db.close()
    assert keys == {"old-soup": shuffle_key("old-soup"), "old-stew": shuffle_key("old-stew")}
    assert ends == {"plan-a": date(2027, 1, 3), "plan-b": date(2026, 2, 3)}
    assert prefs.max_weeknight_minutes is None


@pytest.mark.parametrize("engine", ENGINES)
async def test_upgrading_a_version_4_database_leaves_preferences_unset_and_plans_as_they_were(
    engine: str, database_factory: Callable[[str], str]
) -> None:
    """Version 5 adds servings and the times preferences were set or declined: null for
    existing users (never asked), and existing entries keep their recipe's servings."""
    db = Database(database_factory(engine))
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        async with db.write() as conn:
            assert await migrate(conn, target=4) == [1, 2, 3, 4]
            await conn.execute(
                text(
                    "INSERT INTO users (id, dietary, disliked, max_weeknight_minutes,"
                    " created_at, updated_at) VALUES ('old-cook', '[\"vegan\"]', '[]', 30, :t, :t)"
                ),
                {"t": stamp},
            )
            await conn.execute(
                text(
                    "INSERT INTO recipes (id, owner_id, title, summary, cuisine, servings,"
                    " total_minutes, steps, ingredient_names, created_at, updated_at) VALUES"
                    " ('old-soup', NULL, 'Old', 's', NULL, 2, 10, '[\"Boil.\"]', 'leek', :t, :t)"
                ),
                {"t": stamp},
            )
            await conn.execute(
                text(
                    "INSERT INTO meal_plans (id, user_id, name, start_date, days, end_date,"
                    " created_at) VALUES ('plan-old', 'old-cook', 'Old week', :d, 1, :d, :t)"
                ),
                {"d": date(2026, 2, 3), "t": stamp},
            )
            await conn.execute(
                text(
                    "INSERT INTO meal_plan_entries (id, plan_id, day, slot, recipe_id, servings,"
                    " created_at) VALUES ('entry-old', 'plan-old', 1, 'dinner', 'old-soup',"
                    " NULL, :t)"
                ),
                {"t": stamp},
            )
        assert await db.migrate() == list(range(5, latest_version() + 1))
        async with db.read() as conn:
            prefs = await users.preferences(conn, "old-cook")
            plan = await plans.get(conn, "old-cook", "plan-old")
    finally:
        await db.close()
    assert prefs.dietary == ["vegan"] and prefs.max_weeknight_minutes == 30
    assert (prefs.servings, prefs.set_at, prefs.declined_at) == (None, None, None)
    assert [entry.servings for entry in plan.days[0].entries] == [2]


def test_shuffle_keys_are_31_bit_and_spread() -> None:
    keys = [shuffle_key(f"recipe-{n}") for n in range(1000)]
    assert all(0 <= key < 2**31 for key in keys)
    assert len(set(keys)) == 1000
    assert (
        shuffle_key("spanish-tortilla")
        == int.from_bytes(hashlib.sha256(b"spanish-tortilla").digest()[:4], "big") & 0x7FFFFFFF
    )
