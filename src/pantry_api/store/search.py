"""Ranked full-text recipe search: SQLite FTS5 or PostgreSQL tsvector, same answers.

Free text is reduced to word tokens (no operators reach the engine), each matched as a
prefix. All tokens must match; when that finds nothing and there were several tokens,
the search falls back to any token, ranked, and says so.

Both engines rank a match with a score that needs that match's own text (bm25 in FTS5,
ts_rank over the tsvector), so ranking every match of a broad word ("chicken" in one
recipe of seven) grows with the catalog. A free-text search therefore ranks candidates:
every matching recipe of the user's own, and the first ``MAX_COUNTED`` matching catalog
recipes the engine finds (in the order they were added on SQLite; on PostgreSQL in table
order, which is that order until rows are updated, or a filter's index order), the same
ones on every request. Below that many matches (the whole seed catalog) this is exactly
the ranking of all matches. Counting stops there too: ``total`` is then a lower bound and
``total_exact`` says so. Filters and orders read the narrow ``recipe_search`` rows, never
the wide recipe rows (see migration 6).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from pantry_api import models
from pantry_api.diet import to_mask

MAX_TOKENS = 12
# Matches counted, and catalog matches ranked, per search: enough to rank a whole
# catalog of a few thousand recipes exactly, small enough to rank in a few milliseconds.
MAX_COUNTED = 1000
# Dropped before matching so both engines agree (PostgreSQL's parser drops these itself).
STOPWORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "how", "i", "in",
        "into", "is", "it", "me", "my", "of", "on", "or", "some", "the", "to", "what",
        "with", "without",
    }
)  # fmt: skip
Match = Literal["all", "any"]


@dataclass(frozen=True)
class SearchRow:
    id: str
    title: str
    summary: str
    cuisine: str | None
    course: str | None
    total_minutes: int
    owner_id: str | None
    diet_mask: int


@dataclass(frozen=True)
class SearchResult:
    rows: list[SearchRow]
    total: int  # a lower bound unless total_exact
    total_exact: bool
    has_more: bool
    match: Match | None


def tokens(free_text: str | None) -> list[str]:
    words = re.findall(r"[^\W_]+", (free_text or "").lower())
    return [word for word in words if word not in STOPWORDS][:MAX_TOKENS]


def _engine_query(dialect: str, words: list[str], match: Match) -> str:
    if dialect == "sqlite":
        joiner = " AND " if match == "all" else " OR "
        return joiner.join(f'"{word}"*' for word in words)
    joiner = " & " if match == "all" else " | "
    return joiner.join(f"{word}:*" for word in words)


def _filters(query: models.RecipeSearchQuery, params: dict[str, Any]) -> str:
    """The query's filters on the recipe_search row ``l``, each as `` AND ...``."""
    clauses = []
    if query.max_minutes is not None:
        clauses.append("l.total_minutes <= :max_minutes")
        params["max_minutes"] = query.max_minutes
    if query.cuisine is not None:
        clauses.append("l.cuisine = :cuisine")
        params["cuisine"] = query.cuisine
    if query.course is not None:
        clauses.append("l.course = :course")
        params["course"] = query.course
    if query.dietary:
        clauses.append("(l.diet_mask & :diet) = :diet")
        params["diet"] = to_mask(query.dietary)
    return "".join(f" AND {clause}" for clause in clauses)


# Settings for the search's transaction on PostgreSQL (set_config(..., true) is local to
# it). Custom plans: asyncpg prepares each statement, and after five runs PostgreSQL may
# switch to a generic plan, made without the parameters' values, which cannot tell
# "chicken" (walk the table, stop at the first thousand matches) from "salmon" (ask the
# GIN index), nor a time limit that keeps one recipe in ten from one that keeps nine; its
# guesses cost several times the search, planning costs a fraction of a millisecond. (The
# values stay parameters: statements are traced as sent, and must not hold search words.)
# And "the first matches" must be the same rows on every request, or page two would not
# follow page one: so no scan that starts where another left off (a synchronized scan,
# which PostgreSQL uses on tables over a quarter of shared_buffers), and no parallel
# workers, which return rows in whatever order they finish.
_POSTGRESQL_SETTINGS = (
    "SELECT set_config('plan_cache_mode', 'force_custom_plan', true),"
    " set_config('synchronize_seqscans', 'off', true),"
    " set_config('max_parallel_workers_per_gather', '0', true)"
)


async def search(conn: AsyncConnection, user: str, query: models.RecipeSearchQuery) -> SearchResult:
    if conn.dialect.name == "postgresql":
        await conn.execute(text(_POSTGRESQL_SETTINGS))
    words = tokens(query.q)
    if not words:
        return await _browse(conn, user, query)
    found = await _ranked(conn, user, query, words, "all")
    if found.total == 0 and len(words) > 1:
        return await _ranked(conn, user, query, words, "any")
    return found


# How many of each recipe's measured ingredients (lines with a quantity) the user holds.
# Browsing starts from the user's pantry, so it touches only recipes that use what they
# have (joined as held.n); a free-text search counts for each of its candidates alone.
_HELD = (
    "held AS (SELECT ri.recipe_id AS rid, count(*) AS n FROM pantry_items p"
    " JOIN recipe_ingredients ri ON ri.ingredient_id = p.ingredient_id"
    " WHERE p.user_id = :user AND ri.quantity IS NOT NULL GROUP BY ri.recipe_id)"
)
_HELD_BY_CANDIDATE = (
    "(SELECT count(*) FROM recipe_ingredients ri JOIN pantry_items p"
    " ON p.user_id = :user AND p.ingredient_id = ri.ingredient_id"
    " WHERE ri.recipe_id = l.id AND ri.quantity IS NOT NULL)"
)
# With a seed, ties are broken by shuffle_key XOR seed (then id), not by title. XOR is
# spelled (a | b) - (a & b): SQLite has no XOR operator and PostgreSQL's is #.
_SHUFFLED = "((l.shuffle_key | :seed) - (l.shuffle_key & :seed))"
_COVERAGE = "CASE WHEN l.measured > 0 THEN {held} * 1.0 / l.measured ELSE 0 END"
# What a candidate carries from its recipe_search row for the page's order.
_CARRIED = "l.id, l.title, l.shuffle_key, l.measured"
_COLUMNS = "r.id, r.title, r.summary, r.cuisine, r.course, r.total_minutes, r.owner_id, r.diet_mask"


def _order(
    query: models.RecipeSearchQuery, params: dict[str, Any], score: str | None, held: str
) -> list[tuple[str, str]]:
    """The sort keys, each (expression, direction); ``held`` counts the measured lines
    in the user's pantry, for sort=pantry."""
    # Title then id is the tie-break, and the whole order for sort=title (which a seed
    # leaves be).
    tie_break = [("l.title", "ASC"), ("l.id", "ASC")]
    if query.seed is not None and query.sort != "title":
        tie_break = [(_SHUFFLED, "ASC"), ("l.id", "ASC")]
        params["seed"] = query.seed
    rank = [(score, "DESC")] if score is not None and query.sort != "title" else []
    if query.sort == "pantry":
        return [(_COVERAGE.format(held=held), "DESC"), *rank, *tie_break]
    return rank + tie_break


def _order_by(keys: list[tuple[str, str]]) -> str:
    return ", ".join(f"{expression} {direction}" for expression, direction in keys)


def _page_params(query: models.RecipeSearchQuery, params: dict[str, Any]) -> None:
    params["limit"] = query.page_size
    params["offset"] = (query.page - 1) * query.page_size
    params["counted"] = MAX_COUNTED + 1  # one more than counted says whether there are more


def _page(dialect: str, source: str, keys: list[tuple[str, str]], limit: str) -> tuple[str, str]:
    """The page's CTE, sorting ``source`` (rows named l) by narrow columns only, and the
    FROM ... ORDER BY that joins the wide recipe rows to the page's rows alone."""
    key = "rid" if dialect == "sqlite" else "id"
    # The page names its sort keys (k0, k1, ...): each is computed once per row, and the
    # page keeps its order after the join.
    selected = ", ".join(f"{expression} AS k{n}" for n, (expression, _) in enumerate(keys))
    named = [(f"k{n}", direction) for n, (_, direction) in enumerate(keys)]
    cte = (
        f"page AS (SELECT l.{key} AS {key}, {selected} FROM {source}"  # noqa: S608
        f" ORDER BY {_order_by(named)} LIMIT {limit} OFFSET :offset)"
    )
    order = _order_by([(f"page.{name}", direction) for name, direction in named])
    record = "r.rowid" if dialect == "sqlite" else "r.id"
    return cte, f"FROM page JOIN recipes r ON {record} = page.{key} ORDER BY {order}"


async def _browse(
    conn: AsyncConnection, user: str, query: models.RecipeSearchQuery
) -> SearchResult:
    """No free text: filters in title (or shuffled, or pantry) order, walking an index."""
    dialect = conn.dialect.name
    params: dict[str, Any] = {"user": user}
    # On SQLite the unary + keeps the planner from the owner index: walking the title index
    # and filtering as it goes is far cheaper than collecting every catalog row to sort.
    owner = "+l.owner_id" if dialect == "sqlite" else "l.owner_id"
    where = f"({owner} IS NULL OR {owner} = :user){_filters(query, params)}"
    keys = _order(query, params, None, "coalesce(held.n, 0)")
    _page_params(query, params)
    ctes, join_held = [], ""
    if query.sort == "pantry":
        ctes, join_held = [_HELD], " LEFT JOIN held ON held.rid = l.id"
    # One row past the page says whether another page follows.
    page, tail = _page(dialect, f"recipe_search l{join_held} WHERE {where}", keys, ":limit + 1")
    prefix = f"WITH {', '.join([*ctes, page])} "
    counted = (
        f"(SELECT count(*) FROM (SELECT 1 FROM recipe_search l WHERE {where}"  # noqa: S608
        " LIMIT :counted) AS c)"
    )
    # The count rides along on the page's rows.
    found = (await conn.execute(text(f"{prefix}SELECT {_COLUMNS}, {counted} {tail}"), params)).all()
    if found:
        count = int(found[0][-1])
    else:  # past the end: the page had no row to carry the count
        count = int((await conn.execute(text(f"SELECT {counted}"), params)).scalar_one())
    rows = [SearchRow(*row[:-1]) for row in found[: query.page_size]]
    has_more = len(found) > query.page_size
    exact = count <= MAX_COUNTED
    seen = params["offset"] + len(rows) + (1 if has_more else 0)
    total = count if exact else max(MAX_COUNTED, seen)
    return SearchResult(rows=rows, total=total, total_exact=exact, has_more=has_more, match=None)


def _candidates(dialect: str, filters: str) -> tuple[str, str]:
    """CTEs for the user's own matches and the first catalog matches: what the page sorts
    by (a score, higher better, and the recipe_search columns ``_order`` reads) and the
    key to the recipe (on SQLite the rowid the text index keys it by)."""
    if dialect == "sqlite":
        # bm25() scores inside a query on the text index, where FTS5 allows it; negated,
        # so higher is better on both engines. CROSS JOIN keeps recipes_fts the outer loop,
        # walked in rowid order, so the LIMIT stops the walk.
        columns = f"l.rid, {_CARRIED}, -bm25(recipes_fts, 0.0, 10.0, 2.0, 5.0) AS score"
        catalog = (
            f"catalog AS MATERIALIZED (SELECT {columns}"  # noqa: S608
            " FROM recipes_fts CROSS JOIN recipe_search l ON l.rid = recipes_fts.rowid"
            f" WHERE recipes_fts MATCH :q AND l.owner_id IS NULL{filters}"
            " ORDER BY recipes_fts.rowid LIMIT :counted)"
        )
        # The user's own matches: the whole walk, testing each match against the user's
        # few recipes (a lookup in a small in-memory list) before reading its row; the
        # one-row "mine" skips even that for users who have saved nothing.
        own = (
            f"own AS MATERIALIZED (SELECT {columns}"  # noqa: S608
            " FROM (SELECT 1 FROM recipe_search WHERE owner_id = :user LIMIT 1) AS mine"
            " CROSS JOIN recipes_fts CROSS JOIN recipe_search l ON l.rid = recipes_fts.rowid"
            " WHERE recipes_fts MATCH :q AND +recipes_fts.rowid IN"
            " (SELECT rid FROM recipe_search WHERE owner_id = :user)"
            f" AND l.owner_id = :user{filters})"
        )
        return catalog, own
    # The first matches in the order the planner reads them: table order (the order
    # recipes were added, until rows are updated) whether it walks the table and stops or
    # asks the GIN index, which reads the rows it names in table order; a filter's btree
    # order if walking that is quicker. The same rows on every request either way (see
    # _POSTGRESQL_SETTINGS). An ORDER BY on an insertion counter would sort every match
    # of a word in one recipe in twenty, or walk that counter's index past the other
    # nineteen.
    columns = f"{_CARRIED}, ts_rank(l.search_vector, tsq) AS score"
    catalog = (
        f"catalog AS MATERIALIZED (SELECT {columns}"  # noqa: S608
        " FROM recipe_search l CROSS JOIN to_tsquery('english', :q) tsq"
        f" WHERE l.search_vector @@ tsq AND l.owner_id IS NULL{filters} LIMIT :counted)"
    )
    own = (
        f"own AS MATERIALIZED (SELECT {columns}"  # noqa: S608
        " FROM recipe_search l CROSS JOIN to_tsquery('english', :q) tsq"
        f" WHERE l.owner_id = :user AND l.search_vector @@ tsq{filters})"
    )
    return catalog, own


async def _ranked(
    conn: AsyncConnection,
    user: str,
    query: models.RecipeSearchQuery,
    words: list[str],
    match: Match,
) -> SearchResult:
    """One page of the ranked candidates, with how many there are, in one statement."""
    dialect = conn.dialect.name
    params: dict[str, Any] = {"user": user, "q": _engine_query(dialect, words, match)}
    catalog, own = _candidates(dialect, _filters(query, params))
    keys = _order(query, params, "l.score", _HELD_BY_CANDIDATE)
    _page_params(query, params)
    params["ranked"] = MAX_COUNTED
    ctes = [
        catalog,
        own,
        # The candidates are named l too: they carry the recipe_search columns _order reads.
        "ranked AS MATERIALIZED (SELECT * FROM own UNION ALL"
        " SELECT * FROM (SELECT * FROM catalog LIMIT :ranked) AS first)",
    ]
    page, tail = _page(dialect, "ranked l", keys, ":limit")
    prefix = f"WITH {', '.join([*ctes, page])} "
    counts = "(SELECT count(*) FROM ranked), (SELECT count(*) FROM catalog)"
    found = (await conn.execute(text(f"{prefix}SELECT {_COLUMNS}, {counts} {tail}"), params)).all()
    if found:
        ranked, catalog_count = int(found[0][-2]), int(found[0][-1])
    elif params["offset"] == 0:
        ranked = catalog_count = 0
    else:  # past the end: the page had no row to carry the counts
        both = (await conn.execute(text(f"{prefix}SELECT {counts}"), params)).one()
        ranked, catalog_count = int(both[0]), int(both[1])
    rows = [SearchRow(*row[:-2]) for row in found]
    return SearchResult(
        rows=rows,
        total=ranked,
        total_exact=catalog_count <= MAX_COUNTED,
        has_more=params["offset"] + len(rows) < ranked,
        match=match,
    )
