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
    total_minutes: int
    owner_id: str | None


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


def _filters(query: models.RecipeSearchQuery, params: dict[str, Any]) -> str:
    clauses = ["(r.owner_id IS NULL OR r.owner_id = :user)"]
    if query.max_minutes is not None:
        clauses.append("r.total_minutes <= :max_minutes")
        params["max_minutes"] = query.max_minutes
    if query.cuisine is not None:
        clauses.append("r.cuisine = :cuisine")
        params["cuisine"] = query.cuisine
    for index, tag in enumerate(sorted(set(query.dietary))):
        clauses.append(
            "EXISTS (SELECT 1 FROM recipe_tags t"  # noqa: S608 - a bind parameter name only
            f" WHERE t.recipe_id = r.id AND t.tag = :tag{index})"
        )
        params[f"tag{index}"] = tag
    return " AND ".join(clauses)


_COLUMNS = "r.id, r.title, r.summary, r.cuisine, r.total_minutes, r.owner_id"


async def search(conn: AsyncConnection, user: str, query: models.RecipeSearchQuery) -> SearchResult:
    words = tokens(query.q)
    if not words:
        return await _run(conn, user, query, None, None)
    found = await _run(conn, user, query, words, "all")
    if found.total == 0 and len(words) > 1:
        return await _run(conn, user, query, words, "any")
    return found


# Share of a recipe's measured ingredients (to-taste lines left out) in the user's pantry.
_COVERAGE = (
    "cov AS (SELECT ri.recipe_id AS rid,"
    " avg(CASE WHEN p.ingredient_id IS NULL THEN 0.0 ELSE 1.0 END) AS coverage"
    " FROM recipe_ingredients ri LEFT JOIN pantry_items p"
    " ON p.user_id = :user AND p.ingredient_id = ri.ingredient_id"
    " WHERE ri.quantity IS NOT NULL GROUP BY ri.recipe_id)"
)


async def _run(
    conn: AsyncConnection,
    user: str,
    query: models.RecipeSearchQuery,
    words: list[str] | None,
    match: Match | None,
) -> SearchResult:
    dialect = conn.dialect.name
    params: dict[str, Any] = {
        "user": user,
        "limit": query.page_size,
        "offset": (query.page - 1) * query.page_size,
    }
    where = _filters(query, params)
    ctes: list[str] = []
    source, rank = "recipes r", ""
    if words is not None and match is not None:
        params["q"] = _engine_query(dialect, words, match)
        if dialect == "sqlite":
            # FTS5's bm25() may not sit beside a window function: rank in a materialised CTE.
            ctes.append(
                "hits AS MATERIALIZED (SELECT rowid AS hit, "
                "bm25(recipes_fts, 0.0, 10.0, 2.0, 5.0) AS score "
                "FROM recipes_fts WHERE recipes_fts MATCH :q)"
            )
            source = "hits JOIN recipes r ON r.rowid = hits.hit"
            rank = "hits.score, "
        else:
            source = "recipes r CROSS JOIN to_tsquery('english', :q) tsq"
            where = f"r.search_vector @@ tsq AND {where}"
            rank = "ts_rank(r.search_vector, tsq) DESC, "
    order = (rank if query.sort == "relevance" else "") + "r.title, r.id"
    if query.sort == "pantry":
        ctes.append(_COVERAGE)
        source += " LEFT JOIN cov ON cov.rid = r.id"
        order = f"COALESCE(cov.coverage, 0) DESC, {rank}r.title, r.id"
    prefix = f"WITH {', '.join(ctes)} " if ctes else ""
    page = await conn.execute(
        text(
            f"{prefix}SELECT {_COLUMNS}, count(*) OVER () AS total FROM {source} "  # noqa: S608
            f"WHERE {where} ORDER BY {order} LIMIT :limit OFFSET :offset"
        ),
        params,
    )
    rows = page.all()
    if rows:
        total = int(rows[0].total)
    else:
        count_params = {k: v for k, v in params.items() if k not in {"limit", "offset"}}
        counted = await conn.execute(
            text(f"{prefix}SELECT count(*) FROM {source} WHERE {where}"),  # noqa: S608
            count_params,
        )
        total = int(counted.scalar_one())
    return SearchResult(
        rows=[SearchRow(*row[:6]) for row in rows],
        total=total,
        match=match,
    )
