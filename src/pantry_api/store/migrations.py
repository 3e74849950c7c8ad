"""Versioned schema migrations, applied in order at start-up.

Each migration is a list of statements per dialect; ``schema_migrations`` records the
versions applied, so starting the service twice (or two replicas at once, on PostgreSQL
where an advisory lock serialises them) never applies one twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from pantry_api.ids import shuffle_key

# Types that differ between the two engines; everything else is written once.
_TYPES = {
    "sqlite": {"ts": "TEXT", "date": "TEXT", "real": "REAL", "json": "TEXT"},
    "postgresql": {
        "ts": "TIMESTAMPTZ",
        "date": "DATE",
        "real": "DOUBLE PRECISION",
        "json": "JSONB",
    },
}

_INITIAL_TABLES = """
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    dietary {json} NOT NULL,
    disliked {json} NOT NULL,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL
);
CREATE TABLE ingredients (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    aisle TEXT NOT NULL,
    dietary {json} NOT NULL
);
CREATE TABLE ingredient_names (
    name TEXT PRIMARY KEY,
    ingredient_id TEXT NOT NULL REFERENCES ingredients(id)
);
CREATE INDEX ingredient_names_by_ingredient ON ingredient_names (ingredient_id);
CREATE TABLE ingredient_substitutes (
    ingredient_id TEXT NOT NULL REFERENCES ingredients(id),
    substitute_id TEXT NOT NULL REFERENCES ingredients(id),
    position INTEGER NOT NULL,
    ratio {real} NOT NULL,
    note TEXT NOT NULL,
    PRIMARY KEY (ingredient_id, substitute_id)
);
CREATE TABLE recipes (
    id TEXT PRIMARY KEY,
    owner_id TEXT REFERENCES users(id),
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    cuisine TEXT,
    servings INTEGER NOT NULL,
    total_minutes INTEGER NOT NULL,
    steps {json} NOT NULL,
    ingredient_names TEXT NOT NULL,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL
);
CREATE INDEX recipes_by_owner_title ON recipes (owner_id, title);
CREATE INDEX recipes_by_title ON recipes (title);
CREATE INDEX recipes_by_minutes ON recipes (total_minutes);
CREATE TABLE recipe_ingredients (
    recipe_id TEXT NOT NULL REFERENCES recipes(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    ingredient_id TEXT REFERENCES ingredients(id),
    name TEXT NOT NULL,
    quantity {real},
    unit TEXT,
    note TEXT,
    PRIMARY KEY (recipe_id, position)
);
CREATE TABLE recipe_tags (
    recipe_id TEXT NOT NULL REFERENCES recipes(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (recipe_id, tag)
);
CREATE INDEX recipe_tags_by_tag ON recipe_tags (tag, recipe_id);
CREATE TABLE recipe_ratings (
    recipe_id TEXT NOT NULL REFERENCES recipes(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id),
    stars INTEGER NOT NULL,
    updated_at {ts} NOT NULL,
    PRIMARY KEY (recipe_id, user_id)
);
CREATE TABLE pantry_items (
    user_id TEXT NOT NULL REFERENCES users(id),
    ingredient_id TEXT NOT NULL REFERENCES ingredients(id),
    quantity {real},
    unit TEXT,
    expires_on {date},
    updated_at {ts} NOT NULL,
    PRIMARY KEY (user_id, ingredient_id)
);
CREATE TABLE meal_plans (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    start_date {date} NOT NULL,
    days INTEGER NOT NULL,
    created_at {ts} NOT NULL
);
CREATE INDEX meal_plans_by_user ON meal_plans (user_id, start_date);
CREATE TABLE meal_plan_entries (
    id TEXT PRIMARY KEY,
    plan_id TEXT NOT NULL REFERENCES meal_plans(id) ON DELETE CASCADE,
    day INTEGER NOT NULL,
    slot TEXT NOT NULL,
    recipe_id TEXT NOT NULL REFERENCES recipes(id) ON DELETE CASCADE,
    servings INTEGER,
    created_at {ts} NOT NULL,
    UNIQUE (plan_id, day, slot, recipe_id)
);
CREATE INDEX meal_plan_entries_by_recipe ON meal_plan_entries (recipe_id);
CREATE TABLE shopping_checks (
    plan_id TEXT NOT NULL REFERENCES meal_plans(id) ON DELETE CASCADE,
    item_key TEXT NOT NULL,
    checked_at {ts} NOT NULL,
    PRIMARY KEY (plan_id, item_key)
);
CREATE TABLE idempotency_keys (
    user_id TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at {ts} NOT NULL,
    PRIMARY KEY (user_id, key)
);
"""

# Full-text search over title, summary and ingredient names: the one place the engines
# differ in kind, not just in type names.
_SEARCH_SQLITE = """
CREATE VIRTUAL TABLE recipes_fts USING fts5(
    recipe_id UNINDEXED, title, summary, ingredient_names,
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER recipes_fts_insert AFTER INSERT ON recipes BEGIN
    INSERT INTO recipes_fts (rowid, recipe_id, title, summary, ingredient_names)
    VALUES (new.rowid, new.id, new.title, new.summary, new.ingredient_names);
END;
CREATE TRIGGER recipes_fts_delete AFTER DELETE ON recipes BEGIN
    DELETE FROM recipes_fts WHERE rowid = old.rowid;
END;
CREATE TRIGGER recipes_fts_update AFTER UPDATE ON recipes BEGIN
    UPDATE recipes_fts SET title = new.title, summary = new.summary,
        ingredient_names = new.ingredient_names
    WHERE rowid = old.rowid;
END;
"""

_SEARCH_POSTGRESQL = """
ALTER TABLE recipes ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', title), 'A')
    || setweight(to_tsvector('english', ingredient_names), 'B')
    || setweight(to_tsvector('english', summary), 'C')
) STORED;
CREATE INDEX recipes_search ON recipes USING GIN (search_vector);
"""


DataStep = Callable[[AsyncConnection], Awaitable[None]]


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: dict[str, list[str]]
    data: DataStep | None = None  # runs after the statements, in the same transaction


def _split(sql: str) -> list[str]:
    """Split a script on ';' at line ends, keeping trigger bodies (``...; END;``) whole."""
    statements: list[str] = []
    current: list[str] = []
    for line in sql.strip().splitlines():
        current.append(line)
        stripped = line.strip()
        in_trigger = current[0].lstrip().upper().startswith("CREATE TRIGGER")
        if stripped.endswith(";") and (not in_trigger or stripped.upper() == "END;"):
            statements.append("\n".join(current).strip().rstrip(";"))
            current = []
    return statements


def _initial() -> Migration:
    return Migration(
        version=1,
        name="initial schema and recipe search",
        statements={
            dialect: _split(_INITIAL_TABLES.format(**types))
            + _split(_SEARCH_SQLITE if dialect == "sqlite" else _SEARCH_POSTGRESQL)
            for dialect, types in _TYPES.items()
        },
    )


# Dietary tags become bits of one integer (vegetarian 1, vegan 2, pescatarian 4,
# gluten-free 8, dairy-free 16, nut-free 32): filtering by diet is then a mask test on the
# recipe row instead of one sub-query per tag, which matters at 100,000 recipes.
_RECIPE_FACTS = """
ALTER TABLE recipes ADD COLUMN diet_mask INTEGER NOT NULL DEFAULT 0;
ALTER TABLE recipes ADD COLUMN measured INTEGER NOT NULL DEFAULT 0;
ALTER TABLE recipes ADD COLUMN course TEXT;
UPDATE recipes SET diet_mask = (
    SELECT coalesce(sum(CASE t.tag WHEN 'vegetarian' THEN 1 WHEN 'vegan' THEN 2
        WHEN 'pescatarian' THEN 4 WHEN 'gluten-free' THEN 8 WHEN 'dairy-free' THEN 16
        WHEN 'nut-free' THEN 32 ELSE 0 END), 0)
    FROM recipe_tags t WHERE t.recipe_id = recipes.id);
UPDATE recipes SET measured = (
    SELECT count(*) FROM recipe_ingredients ri
    WHERE ri.recipe_id = recipes.id AND ri.quantity IS NOT NULL);
DROP TABLE recipe_tags;
CREATE INDEX recipe_ingredients_by_ingredient ON recipe_ingredients (ingredient_id, recipe_id);
DROP INDEX recipes_by_minutes;
CREATE INDEX recipes_facets ON recipes (diet_mask, total_minutes, cuisine, course, owner_id);
"""


async def _backfill_catalog_courses(conn: AsyncConnection) -> None:
    """Catalog recipes seeded before courses existed get them from the shipped catalog."""
    from pantry_api.seed import load_catalog  # the seed module uses the store: import late

    catalog = load_catalog()
    courses = [{"i": r["id"], "c": r["course"]} for r in catalog.recipes if r.get("course")]
    if courses:
        await conn.execute(
            text("UPDATE recipes SET course = :c WHERE id = :i AND owner_id IS NULL"), courses
        )


def _recipe_facts() -> Migration:
    statements = _split(_RECIPE_FACTS)
    return Migration(
        version=2,
        name="diet mask, measured count and course on recipes",
        statements={"sqlite": statements, "postgresql": statements},
        data=_backfill_catalog_courses,
    )


# Accounts: a Pantry user who can sign in with an email and a password (the AuthKit Login
# URI). One row per user at most; the email is matched case-insensitively through
# email_key, which Python lower-cases (SQL lower() folds only ASCII on SQLite).
# login_failures holds failed sign-ins per keyed digest (never a raw email or address),
# so the limits hold across restarts and replicas.
_ACCOUNTS = """
CREATE TABLE accounts (
    user_id TEXT PRIMARY KEY REFERENCES users(id),
    email TEXT NOT NULL,
    email_key TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    first_name TEXT,
    last_name TEXT,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL
);
CREATE TABLE login_failures (
    key TEXT NOT NULL,
    failed_at {ts} NOT NULL
);
CREATE INDEX login_failures_by_key ON login_failures (key, failed_at);
CREATE INDEX login_failures_by_time ON login_failures (failed_at);
"""


def _accounts() -> Migration:
    return Migration(
        version=3,
        name="accounts (email and password) and failed sign-in records",
        statements={
            dialect: _split(_ACCOUNTS.format(**types)) for dialect, types in _TYPES.items()
        },
    )


# A weeknight time limit in the preferences; a per-recipe key that search orders ties by
# when the caller gives a seed (``pantry_api.ids.shuffle_key``); and each plan's last day,
# stored so listing plans by date is a plain comparison on both engines (SQLite keeps
# dates as text). SQLite cannot add a NOT NULL column without a default, so end_date gets
# a placeholder one there; PostgreSQL makes it NOT NULL after the backfill. Every insert
# sets both new recipe and plan columns.
_PREFERENCES_SHUFFLE_AND_PLAN_ENDS = {
    "sqlite": """
ALTER TABLE users ADD COLUMN max_weeknight_minutes INTEGER;
ALTER TABLE recipes ADD COLUMN shuffle_key INTEGER NOT NULL DEFAULT 0;
ALTER TABLE meal_plans ADD COLUMN end_date TEXT NOT NULL DEFAULT '0001-01-01';
UPDATE meal_plans SET end_date = date(start_date, '+' || (days - 1) || ' days');
CREATE INDEX meal_plans_by_user_end ON meal_plans (user_id, end_date);
""",
    "postgresql": """
ALTER TABLE users ADD COLUMN max_weeknight_minutes INTEGER;
ALTER TABLE recipes ADD COLUMN shuffle_key INTEGER NOT NULL DEFAULT 0;
ALTER TABLE meal_plans ADD COLUMN end_date DATE;
UPDATE meal_plans SET end_date = start_date + (days - 1);
ALTER TABLE meal_plans ALTER COLUMN end_date SET NOT NULL;
CREATE INDEX meal_plans_by_user_end ON meal_plans (user_id, end_date);
""",
}


async def _backfill_shuffle_keys(conn: AsyncConnection) -> None:
    ids = (await conn.execute(text("SELECT id FROM recipes"))).scalars().all()
    if ids:
        await conn.execute(
            text("UPDATE recipes SET shuffle_key = :k WHERE id = :i"),
            [{"i": recipe_id, "k": shuffle_key(recipe_id)} for recipe_id in ids],
        )


def _preferences_shuffle_and_plan_ends() -> Migration:
    return Migration(
        version=4,
        name="weeknight time limit, recipe shuffle keys and plan end dates",
        statements={
            dialect: _split(sql) for dialect, sql in _PREFERENCES_SHUFFLE_AND_PLAN_ENDS.items()
        },
        data=_backfill_shuffle_keys,
    )


# How many people a user cooks for (plan entries without their own servings take it), and
# when they last saved their preferences or declined to be asked for them: the MCP server
# is stateless, so Pantry remembers whether to ask. Null for everyone until they act.
_SERVINGS_AND_PREFERENCE_ASKS = """
ALTER TABLE users ADD COLUMN servings INTEGER;
ALTER TABLE users ADD COLUMN preferences_set_at {ts};
ALTER TABLE users ADD COLUMN preferences_declined_at {ts};
"""


def _servings_and_preference_asks() -> Migration:
    return Migration(
        version=5,
        name="servings preference, and when preferences were set or declined",
        statements={
            dialect: _split(_SERVINGS_AND_PREFERENCE_ASKS.format(**types))
            for dialect, types in _TYPES.items()
        },
    )


# What search filters, ranks and lists by, one narrow row per recipe apart from the wide
# recipe rows (steps, summary, ingredient names): at 100,000 recipes, checking a filter in
# a wide row costs a page read per match, and narrow rows share a page by the dozen.
# Triggers keep it in step with recipes. On SQLite it is keyed by the recipe's rowid, as
# recipes_fts is; on PostgreSQL it also takes over the search vector and its GIN index, so
# the rows a search visits are the narrow ones.
# On SQLite recipes_fts is rebuilt with prefix indexes: every query word is matched as a
# prefix, and without them FTS5 merges the lists of every word that starts so (garlic,
# garlicky) on each search, twice with bm25(); with them a word of 3 to 8 characters reads
# one list, as an exact word does. They make the text index about 3.7 times as large.
_SEARCH_ROWS_SQLITE = """
CREATE TABLE recipe_search (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    owner_id TEXT,
    title TEXT NOT NULL,
    cuisine TEXT,
    course TEXT,
    total_minutes INTEGER NOT NULL,
    diet_mask INTEGER NOT NULL,
    measured INTEGER NOT NULL,
    shuffle_key INTEGER NOT NULL
);
INSERT INTO recipe_search (rid, id, owner_id, title, cuisine, course, total_minutes,
    diet_mask, measured, shuffle_key)
SELECT rowid, id, owner_id, title, cuisine, course, total_minutes, diet_mask, measured,
    shuffle_key FROM recipes;
CREATE INDEX recipe_search_by_owner ON recipe_search (owner_id, title);
CREATE INDEX recipe_search_by_title ON recipe_search (title, id);
CREATE INDEX recipe_search_by_cuisine ON recipe_search (cuisine, total_minutes, owner_id);
CREATE INDEX recipe_search_by_minutes ON recipe_search (total_minutes, owner_id);
DROP TRIGGER recipes_fts_insert;
DROP TRIGGER recipes_fts_delete;
DROP TRIGGER recipes_fts_update;
DROP TABLE recipes_fts;
CREATE VIRTUAL TABLE recipes_fts USING fts5(
    recipe_id UNINDEXED, title, summary, ingredient_names,
    tokenize = 'porter unicode61 remove_diacritics 2',
    prefix = '3 4 5 6 7 8'
);
INSERT INTO recipes_fts (rowid, recipe_id, title, summary, ingredient_names)
SELECT rowid, id, title, summary, ingredient_names FROM recipes;
CREATE TRIGGER recipes_fts_insert AFTER INSERT ON recipes BEGIN
    INSERT INTO recipes_fts (rowid, recipe_id, title, summary, ingredient_names)
    VALUES (new.rowid, new.id, new.title, new.summary, new.ingredient_names);
END;
CREATE TRIGGER recipes_fts_delete AFTER DELETE ON recipes BEGIN
    DELETE FROM recipes_fts WHERE rowid = old.rowid;
END;
CREATE TRIGGER recipes_fts_update AFTER UPDATE ON recipes BEGIN
    UPDATE recipes_fts SET title = new.title, summary = new.summary,
        ingredient_names = new.ingredient_names
    WHERE rowid = old.rowid;
END;
CREATE TRIGGER recipe_search_insert AFTER INSERT ON recipes BEGIN
    INSERT INTO recipe_search (rid, id, owner_id, title, cuisine, course, total_minutes,
        diet_mask, measured, shuffle_key)
    VALUES (new.rowid, new.id, new.owner_id, new.title, new.cuisine, new.course,
        new.total_minutes, new.diet_mask, new.measured, new.shuffle_key);
END;
CREATE TRIGGER recipe_search_delete AFTER DELETE ON recipes BEGIN
    DELETE FROM recipe_search WHERE rid = old.rowid;
END;
CREATE TRIGGER recipe_search_update AFTER UPDATE ON recipes BEGIN
    UPDATE recipe_search SET id = new.id, owner_id = new.owner_id, title = new.title,
        cuisine = new.cuisine, course = new.course, total_minutes = new.total_minutes,
        diet_mask = new.diet_mask, measured = new.measured, shuffle_key = new.shuffle_key
    WHERE rid = old.rowid;
END;
"""

# Whole statements, not _split: the trigger function's body has semicolons at line ends.
# The vector is the one recipes.search_vector was generated as (migration 1).
_SEARCH_ROWS_POSTGRESQL = [
    """CREATE TABLE recipe_search (
    id TEXT PRIMARY KEY REFERENCES recipes(id) ON DELETE CASCADE ON UPDATE CASCADE,
    owner_id TEXT,
    title TEXT NOT NULL,
    cuisine TEXT,
    course TEXT,
    total_minutes INTEGER NOT NULL,
    diet_mask INTEGER NOT NULL,
    measured INTEGER NOT NULL,
    shuffle_key INTEGER NOT NULL,
    search_vector tsvector NOT NULL
)""",
    """CREATE FUNCTION recipe_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO recipe_search (id, owner_id, title, cuisine, course, total_minutes,
        diet_mask, measured, shuffle_key, search_vector)
    VALUES (NEW.id, NEW.owner_id, NEW.title, NEW.cuisine, NEW.course, NEW.total_minutes,
        NEW.diet_mask, NEW.measured, NEW.shuffle_key,
        setweight(to_tsvector('english', NEW.title), 'A')
        || setweight(to_tsvector('english', NEW.ingredient_names), 'B')
        || setweight(to_tsvector('english', NEW.summary), 'C'))
    ON CONFLICT (id) DO UPDATE SET owner_id = EXCLUDED.owner_id, title = EXCLUDED.title,
        cuisine = EXCLUDED.cuisine, course = EXCLUDED.course,
        total_minutes = EXCLUDED.total_minutes, diet_mask = EXCLUDED.diet_mask,
        measured = EXCLUDED.measured, shuffle_key = EXCLUDED.shuffle_key,
        search_vector = EXCLUDED.search_vector;
    RETURN NULL;
END
$$""",
    "CREATE TRIGGER recipe_search_sync AFTER INSERT OR UPDATE ON recipes"
    " FOR EACH ROW EXECUTE FUNCTION recipe_search_sync()",
    # In creation order, the order a free-text search takes its first catalog matches in
    # (SQLite walks recipes_fts in rowid order).
    "INSERT INTO recipe_search (id, owner_id, title, cuisine, course, total_minutes,"
    " diet_mask, measured, shuffle_key, search_vector)"
    " SELECT id, owner_id, title, cuisine, course, total_minutes, diet_mask, measured,"
    " shuffle_key, search_vector FROM recipes ORDER BY created_at, id",
    # The vector and its GIN index now live on recipe_search only.
    "ALTER TABLE recipes DROP COLUMN search_vector",
    "CREATE INDEX recipe_search_vector ON recipe_search USING GIN (search_vector)",
    "CREATE INDEX recipe_search_by_owner ON recipe_search (owner_id, title)",
    "CREATE INDEX recipe_search_by_title ON recipe_search (title, id)",
    "CREATE INDEX recipe_search_by_cuisine ON recipe_search (cuisine, total_minutes, owner_id)",
    "CREATE INDEX recipe_search_by_minutes ON recipe_search (total_minutes, owner_id)",
]


def _search_rows() -> Migration:
    return Migration(
        version=6,
        name="recipe_search rows for searching at scale, and FTS5 prefix indexes",
        statements={"sqlite": _split(_SEARCH_ROWS_SQLITE), "postgresql": _SEARCH_ROWS_POSTGRESQL},
    )


MIGRATIONS: tuple[Migration, ...] = (
    _initial(),
    _recipe_facts(),
    _accounts(),
    _preferences_shuffle_and_plan_ends(),
    _servings_and_preference_asks(),
    _search_rows(),
)

_ADVISORY_LOCK_ID = 0x70616E74  # "pant": serialises migrations across replicas on PostgreSQL


async def migrate(conn: AsyncConnection, *, target: int | None = None) -> list[int]:
    """Apply pending migrations (up to ``target``) in the caller's transaction.

    Returns the versions applied.
    """
    dialect = conn.dialect.name
    if dialect == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _ADVISORY_LOCK_ID})
    await conn.execute(
        text(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
    )
    done = set((await conn.execute(text("SELECT version FROM schema_migrations"))).scalars())
    applied: list[int] = []
    for migration in MIGRATIONS:
        if migration.version in done or (target is not None and migration.version > target):
            continue
        for statement in migration.statements[dialect]:
            await conn.exec_driver_sql(statement)
        if migration.data is not None:
            await migration.data(conn)
        await conn.execute(
            text("INSERT INTO schema_migrations (version, name, applied_at) VALUES (:v, :n, :t)"),
            {"v": migration.version, "n": migration.name, "t": datetime.now(UTC).isoformat()},
        )
        applied.append(migration.version)
    return applied


def latest_version() -> int:
    return MIGRATIONS[-1].version
