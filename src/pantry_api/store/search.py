"""Ranked full-text recipe search: SQLite FTS5 or PostgreSQL tsvector, same answers.

Free text is reduced to word tokens (no operators reach the engine), each matched as a
prefix. All tokens must match; when that finds nothing and there were several tokens,
the search falls back to any token, ranked, and says so.
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
    total: int
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


def _filters(query: models.RecipeSearchQuery, params: dict[str, Any], dialect: str) -> str:
    # On SQLite the unary + keeps the planner from the owner index: walking the title index
    # (or the facets index for counts) and filtering as it goes is far cheaper at scale.
    owner = "+r.owner_id" if dialect == "sqlite" else "r.owner_id"
    clauses = [f"({owner} IS NULL OR {owner} = :user)"]
    if query.max_minutes is not None:
        clauses.append("r.total_minutes <= :max_minutes")
        params["max_minutes"] = query.max_minutes
    if query.cuisine is not None:
        clauses.append("r.cuisine = :cuisine")
        params["cuisine"] = query.cuisine
    if query.course is not None:
        clauses.append("r.course = :course")
        params["course"] = query.course
    if query.dietary:
        clauses.append("(r.diet_mask & :diet) = :diet")
        params["diet"] = to_mask(query.dietary)
    return " AND ".join(clauses)


_COLUMNS = "r.id, r.title, r.summary, r.cuisine, r.course, r.total_minutes, r.owner_id, r.diet_mask"


async def search(conn: AsyncConnection, user: str, query: models.RecipeSearchQuery) -> SearchResult:
    words = tokens(query.q)
    if not words:
        return await _run(conn, user, query, None, None)
    found = await _run(conn, user, query, words, "all")
    if found.total == 0 and len(words) > 1:
        return await _run(conn, user, query, words, "any")
    return found


# How many of each recipe's measured ingredients (lines with a quantity) the user holds.
# It starts from the user's pantry, so it touches only recipes that use what they have.
_HELD = (
    "held AS (SELECT ri.recipe_id AS rid, count(*) AS n FROM pantry_items p"
    " JOIN recipe_ingredients ri ON ri.ingredient_id = p.ingredient_id"
    " WHERE p.user_id = :user AND ri.quantity IS NOT NULL GROUP BY ri.recipe_id)"
)
# With a seed, ties are broken by shuffle_key XOR seed (then id), not by title. XOR is
# spelled (a | b) - (a & b): SQLite has no XOR operator and PostgreSQL's is #.
_SHUFFLED = "((r.shuffle_key | :seed) - (r.shuffle_key & :seed)), r.id"
_COVERAGE = "CASE WHEN r.measured > 0 THEN coalesce(held.n, 0) * 1.0 / r.measured ELSE 0 END"


async def _run(
    conn: AsyncConnection,
    user: str,
    query: models.RecipeSearchQuery,
    words: list[str] | None,
    match: Match | None,
) -> SearchResult:
    """One page of matches, then the count of all of them (two cheap queries beat one
    that must materialise every match to count it)."""
    dialect = conn.dialect.name
    params: dict[str, Any] = {"user": user}
    where = _filters(query, params, dialect)
    source, count_source, rank, ctes = "recipes r", "recipes r", "", []
    if words is not None and match is not None:
        params["q"] = _engine_query(dialect, words, match)
        if dialect == "sqlite":
            # bm25() ranks inside a materialised CTE, where FTS5 allows it.
            ctes.append(
                "hits AS MATERIALIZED (SELECT rowid AS hit, "
                "bm25(recipes_fts, 0.0, 10.0, 2.0, 5.0) AS score "
                "FROM recipes_fts WHERE recipes_fts MATCH :q)"
            )
            source = "hits JOIN recipes r ON r.rowid = hits.hit"
            count_source = "recipes_fts JOIN recipes r ON r.rowid = recipes_fts.rowid"
            where_fts = f"recipes_fts MATCH :q AND {where}"
            rank = "hits.score, "
        else:
            source = count_source = "recipes r CROSS JOIN to_tsquery('english', :q) tsq"
            where = where_fts = f"r.search_vector @@ tsq AND {where}"
            rank = "ts_rank(r.search_vector, tsq) DESC, "
    else:
        where_fts = where
    page_params: dict[str, Any] = {
        "limit": query.page_size,
        "offset": (query.page - 1) * query.page_size,
    }
    tie_break = "r.title, r.id"  # and the whole order for sort=title, which a seed leaves be
    if query.seed is not None and query.sort != "title":
        tie_break = _SHUFFLED
        page_params["seed"] = query.seed
    order = (rank if query.sort == "relevance" else "") + tie_break
    if query.sort == "pantry":
        ctes.append(_HELD)
        source += " LEFT JOIN held ON held.rid = r.id"
        order = f"{_COVERAGE} DESC, {rank}{tie_break}"
    prefix = f"WITH {', '.join(ctes)} " if ctes else ""
    page = await conn.execute(
        text(
            f"{prefix}SELECT {_COLUMNS} FROM {source} WHERE {where} "  # noqa: S608
            f"ORDER BY {order} LIMIT :limit OFFSET :offset"
        ),
        {**params, **page_params},
    )
    rows = [SearchRow(*row) for row in page]
    counted = await conn.execute(
        text(f"SELECT count(*) FROM {count_source} WHERE {where_fts}"),  # noqa: S608
        {key: value for key, value in params.items()},
    )
    return SearchResult(rows=rows, total=int(counted.scalar_one()), match=match)
