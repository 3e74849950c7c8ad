"""Ingredients: the shared catalog, name resolution, and substitutes."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, case, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from pantry_api import models
from pantry_api.errors import NotFound
from pantry_api.store.common import LIKE_ESCAPE, contains_pattern, page_offset
from pantry_api.store.tables import ingredient_names, ingredient_substitutes, ingredients


@dataclass(frozen=True)
class Resolved:
    id: str
    name: str
    aisle: str


def normalize_name(name: str) -> str:
    return re.sub(r"\s+", " ", models.trim(name).lower())


def name_candidates(name: str) -> list[str]:
    """The name as typed, then plausible singular forms ("tomatoes" -> "tomato")."""
    base = normalize_name(name)
    candidates = [base]
    for suffix, replacement in (
        ("ies", "y"),
        ("oes", "o"),
        ("ches", "ch"),
        ("shes", "sh"),
        ("s", ""),
    ):
        if base.endswith(suffix) and len(base) > len(suffix) + 2:
            candidates.append(base[: -len(suffix)] + replacement)
    return candidates


async def resolve(conn: AsyncConnection, names: Iterable[str]) -> dict[str, Resolved]:
    """Map each name that matches a catalog name or alias (exactly, or by plural) to it."""
    wanted = {name: name_candidates(name) for name in set(names)}
    every = sorted({candidate for candidates in wanted.values() for candidate in candidates})
    if not every:
        return {}
    rows = await conn.execute(
        select(ingredient_names.c.name, ingredients.c.id, ingredients.c.name, ingredients.c.aisle)
        .join(ingredients, ingredients.c.id == ingredient_names.c.ingredient_id)
        .where(ingredient_names.c.name.in_(bindparam("names", expanding=True))),
        {"names": every},
    )
    found = {row[0]: Resolved(row[1], row[2], row[3]) for row in rows}
    resolved: dict[str, Resolved] = {}
    for name, candidates in wanted.items():
        for candidate in candidates:
            if candidate in found:
                resolved[name] = found[candidate]
                break
    return resolved


async def search(
    conn: AsyncConnection, query: models.IngredientSearchQuery
) -> models.IngredientPage:
    """Ingredients whose name or alias contains the text (or its singular), best first.

    Best means: a name equal to the text (or its singular) first, then names that start
    with it, then shorter names. ``exact`` on a hit says it was named exactly.
    """
    conditions: list[ColumnElement[bool]] = []
    typed = normalize_name(query.q) if query.q else ""
    forms = name_candidates(typed) if typed else []
    if forms:
        conditions.append(
            or_(
                *(
                    ingredient_names.c.name.like(contains_pattern(form), escape=LIKE_ESCAPE)
                    for form in forms
                )
            )
        )
    if query.aisle:
        conditions.append(ingredients.c.aisle == query.aisle.strip().lower())
    named_exactly = ingredient_names.c.name.in_(forms) if forms else false()
    quality = func.min(
        case((named_exactly, 0), else_=1000)
        + case((func.substr(ingredient_names.c.name, 1, len(typed)) == typed, 0), else_=100)
        + func.length(ingredient_names.c.name)
    )
    base = (
        select(ingredients.c.id, quality.label("quality"))
        .join(ingredient_names, ingredient_names.c.ingredient_id == ingredients.c.id)
        .where(*conditions)
        .group_by(ingredients.c.id)
    ).subquery()
    total = (await conn.execute(select(func.count()).select_from(base))).scalar_one()
    ranked = await conn.execute(
        select(base.c.id, base.c.quality)
        .order_by(base.c.quality, base.c.id)
        .limit(query.page_size)
        .offset(page_offset(query.page, query.page_size))
    )
    order = [(row.id, row.quality < 1000) for row in ranked]
    ids = [ingredient_id for ingredient_id, _ in order]
    details = await _rows_by_id(conn, ids)
    matched = await _matched_names(conn, ids, forms) if forms else {}
    items = [
        details[ingredient_id].model_copy(
            update={"matched": matched.get(ingredient_id), "exact": exact}
        )
        for ingredient_id, exact in order
    ]
    return models.IngredientPage(
        items=items,
        page=query.page,
        page_size=query.page_size,
        total=total,
        has_more=page_offset(query.page, query.page_size) + len(items) < total,
    )


async def _rows_by_id(conn: AsyncConnection, ids: list[str]) -> dict[str, models.IngredientHit]:
    if not ids:
        return {}
    rows = await conn.execute(select(ingredients).where(ingredients.c.id.in_(ids)))
    return {
        row.id: models.IngredientHit(
            id=row.id,
            name=row.name,
            aisle=row.aisle,
            dietary=row.dietary,
            matched=None,
            exact=False,
        )
        for row in rows
    }


async def _matched_names(conn: AsyncConnection, ids: list[str], forms: list[str]) -> dict[str, str]:
    rows = await conn.execute(
        select(ingredient_names.c.ingredient_id, ingredient_names.c.name).where(
            ingredient_names.c.ingredient_id.in_(ids)
        )
    )
    best: dict[str, str] = {}
    for ingredient_id, name in rows:
        if not any(form in name for form in forms):
            continue
        current = best.get(ingredient_id)
        if current is None or _closeness(name, forms) < _closeness(current, forms):
            best[ingredient_id] = name
    return best


def _closeness(name: str, forms: list[str]) -> tuple[bool, bool, int]:
    return (name not in forms, not name.startswith(forms[0]), len(name))


async def get(conn: AsyncConnection, ingredient_id: str) -> models.Ingredient:
    row = (await conn.execute(select(ingredients).where(ingredients.c.id == ingredient_id))).first()
    if row is None:
        raise NotFound(f"No ingredient has id {ingredient_id!r}; search GET /ingredients?q=...")
    aliases = await conn.execute(
        select(ingredient_names.c.name)
        .where(
            ingredient_names.c.ingredient_id == ingredient_id, ingredient_names.c.name != row.name
        )
        .order_by(ingredient_names.c.name)
    )
    subs = await conn.execute(
        select(
            ingredient_substitutes.c.substitute_id,
            ingredient_substitutes.c.ratio,
            ingredient_substitutes.c.note,
            ingredients.c.name,
            ingredients.c.dietary,
        )
        .join(ingredients, ingredients.c.id == ingredient_substitutes.c.substitute_id)
        .where(ingredient_substitutes.c.ingredient_id == ingredient_id)
        .order_by(ingredient_substitutes.c.position)
    )
    return models.Ingredient(
        id=row.id,
        name=row.name,
        aisle=row.aisle,
        dietary=row.dietary,
        aliases=list(aliases.scalars()),
        substitutes=[
            models.Substitute(
                ingredient_id=sub.substitute_id,
                name=sub.name,
                ratio=sub.ratio,
                note=sub.note,
                dietary=sub.dietary,
            )
            for sub in subs
        ],
    )
