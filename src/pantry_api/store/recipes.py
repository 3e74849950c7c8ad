"""Recipes: the shared catalog (no owner) and each user's own saved recipes.

A user sees the catalog and their own recipes; anybody else's recipe does not exist for
them (404, never 403). Catalog recipes are read-only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import and_, case, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from pantry_api import models
from pantry_api.diet import from_mask, to_mask
from pantry_api.errors import Forbidden, NotFound
from pantry_api.ids import random_suffix, shuffle_key, slugify
from pantry_api.store import ingredients as ingredient_store
from pantry_api.store import search as search_store
from pantry_api.store.common import now, utc
from pantry_api.store.tables import (
    ingredients,
    pantry_items,
    recipe_ingredients,
    recipe_ratings,
    recipes,
)
from pantry_api.store.upsert import upsert

NAME_SEPARATOR = "\n"


def visible_to(user: str) -> ColumnElement[bool]:
    return or_(recipes.c.owner_id.is_(None), recipes.c.owner_id == user)


async def search(
    conn: AsyncConnection, user: str, query: models.RecipeSearchQuery
) -> models.RecipePage:
    found = await search_store.search(conn, user, query)
    ids = [row.id for row in found.rows]
    lines = await _hit_lines(conn, user, ids)
    items = [
        models.RecipeHit(
            id=row.id,
            title=row.title,
            summary=row.summary,
            cuisine=row.cuisine,
            course=row.course,
            total_minutes=row.total_minutes,
            dietary=from_mask(row.diet_mask),
            ingredients=[line for line, _ in lines.get(row.id, [])],
            pantry_coverage=_coverage(lines.get(row.id, [])),
            owner="catalog" if row.owner_id is None else "me",
        )
        for row in found.rows
    ]
    return models.RecipePage(
        items=items,
        page=query.page,
        page_size=query.page_size,
        total=found.total,
        total_exact=found.total_exact,
        has_more=found.has_more,
        match=found.match,
    )


_HitLine = tuple[models.HitIngredient, bool]  # (line, measured: has a quantity)


async def _hit_lines(conn: AsyncConnection, user: str, ids: list[str]) -> dict[str, list[_HitLine]]:
    if not ids:
        return {}
    held = pantry_items.c.ingredient_id.is_not(None)
    rows = await conn.execute(
        select(
            recipe_ingredients.c.recipe_id,
            recipe_ingredients.c.ingredient_id,
            recipe_ingredients.c.name,
            recipe_ingredients.c.quantity,
            ingredients.c.aisle,
            held.label("in_pantry"),
        )
        .select_from(
            recipe_ingredients.outerjoin(
                ingredients, ingredients.c.id == recipe_ingredients.c.ingredient_id
            ).outerjoin(
                pantry_items,
                and_(
                    pantry_items.c.user_id == user,
                    pantry_items.c.ingredient_id == recipe_ingredients.c.ingredient_id,
                ),
            )
        )
        .where(recipe_ingredients.c.recipe_id.in_(ids))
        .order_by(recipe_ingredients.c.recipe_id, recipe_ingredients.c.position)
    )
    by_recipe: dict[str, list[_HitLine]] = defaultdict(list)
    for row in rows:
        line = models.HitIngredient(
            ingredient_id=row.ingredient_id,
            name=row.name,
            in_pantry=bool(row.in_pantry),
            aisle=row.aisle,
        )
        by_recipe[row.recipe_id].append((line, row.quantity is not None))
    return by_recipe


def _coverage(lines: list[_HitLine]) -> float:
    """Same rule as the search's pantry sort: measured lines only."""
    measured = [line for line, has_quantity in lines if has_quantity]
    if not measured:
        return 0.0
    return round(sum(line.in_pantry for line in measured) / len(measured), 3)


async def coverages(conn: AsyncConnection, user: str, ids: list[str]) -> dict[str, float]:
    """Each recipe's pantry_coverage for this user, exactly as search hits report it: one
    query for all the recipes' lines and the user's pantry."""
    lines = await _hit_lines(conn, user, list(dict.fromkeys(ids)))
    return {recipe_id: _coverage(lines.get(recipe_id, [])) for recipe_id in ids}


async def get(conn: AsyncConnection, user: str, recipe_id: str) -> models.Recipe:
    row = (
        await conn.execute(select(recipes).where(recipes.c.id == recipe_id, visible_to(user)))
    ).first()
    if row is None:
        raise NotFound(f"No recipe has id {recipe_id!r}; search GET /recipes?q=... for ids.")
    lines = await conn.execute(
        select(recipe_ingredients)
        .where(recipe_ingredients.c.recipe_id == recipe_id)
        .order_by(recipe_ingredients.c.position)
    )
    line_rows = lines.all()
    aisles = await _aisles(conn, [line.ingredient_id for line in line_rows if line.ingredient_id])
    return models.Recipe(
        id=row.id,
        title=row.title,
        summary=row.summary,
        cuisine=row.cuisine,
        course=row.course,
        servings=row.servings,
        total_minutes=row.total_minutes,
        dietary=from_mask(row.diet_mask),
        ingredients=[
            models.IngredientLine(
                ingredient_id=line.ingredient_id,
                name=line.name,
                quantity=line.quantity,
                unit=line.unit,
                note=line.note,
                aisle=aisles.get(line.ingredient_id) if line.ingredient_id else None,
            )
            for line in line_rows
        ],
        steps=row.steps,
        owner="catalog" if row.owner_id is None else "me",
        rating=await rating(conn, user, recipe_id),
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
    )


async def _aisles(conn: AsyncConnection, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = await conn.execute(
        select(ingredients.c.id, ingredients.c.aisle).where(ingredients.c.id.in_(ids))
    )
    return {row.id: row.aisle for row in rows}


async def rating(conn: AsyncConnection, user: str, recipe_id: str) -> models.RatingSummary:
    summary = (
        await conn.execute(
            select(
                func.avg(recipe_ratings.c.stars),
                func.count(),
                func.max(case((recipe_ratings.c.user_id == user, recipe_ratings.c.stars))),
            ).where(recipe_ratings.c.recipe_id == recipe_id)
        )
    ).one()
    average, count, mine = summary
    return models.RatingSummary(
        average=round(float(average), 2) if average is not None else None,
        count=int(count),
        mine=int(mine) if mine else None,
    )


@dataclass(frozen=True)
class _Line:
    ingredient_id: str | None
    name: str
    quantity: float | None
    unit: str | None
    note: str | None


async def _lines(conn: AsyncConnection, data: models.RecipeIn) -> list[_Line]:
    resolved = await ingredient_store.resolve(conn, [line.name for line in data.ingredients])
    return [
        _Line(
            ingredient_id=resolved[line.name].id if line.name in resolved else None,
            name=models.trim(line.name),
            quantity=line.quantity,
            unit=(line.unit or "piece") if line.quantity is not None else None,
            note=models.trim(line.note) or None if line.note else None,
        )
        for line in data.ingredients
    ]


async def _write_lines(conn: AsyncConnection, recipe_id: str, lines: list[_Line]) -> None:
    await conn.execute(
        insert(recipe_ingredients),
        [
            {
                "recipe_id": recipe_id,
                "position": position,
                "ingredient_id": line.ingredient_id,
                "name": line.name,
                "quantity": line.quantity,
                "unit": line.unit,
                "note": line.note,
            }
            for position, line in enumerate(lines)
        ],
    )


def _columns(data: models.RecipeIn, lines: list[_Line]) -> dict[str, object]:
    """The recipe row's own columns, from a create or replace body (text stored trimmed)."""
    title = models.trim(data.title)
    summary = models.trim(data.summary)
    if not summary:
        names = ", ".join(line.name for line in lines[:3])
        summary = f"{title}: made with {names}; ready in {data.total_minutes} minutes."
    return {
        "title": title,
        "summary": summary,
        "cuisine": data.cuisine,
        "course": data.course,
        "servings": data.servings,
        "diet_mask": to_mask(data.dietary),
        "measured": sum(1 for line in lines if line.quantity is not None),
        "total_minutes": data.total_minutes,
        "steps": [models.trim(step) for step in data.steps],
        "ingredient_names": NAME_SEPARATOR.join(line.name for line in lines),
        "updated_at": now(),
    }


async def create(conn: AsyncConnection, user: str, data: models.RecipeIn) -> models.Recipe:
    lines = await _lines(conn, data)
    columns = _columns(data, lines)
    base = slugify(data.title, max_length=60)
    while True:  # four random characters: a collision is rare, two in a row rarer still
        recipe_id = f"{base}-{random_suffix(4)}"
        taken = await conn.execute(select(recipes.c.id).where(recipes.c.id == recipe_id))
        if taken.first() is None:
            break
    await conn.execute(
        insert(recipes).values(
            id=recipe_id,
            owner_id=user,
            shuffle_key=shuffle_key(recipe_id),
            created_at=columns["updated_at"],
            **columns,
        )
    )
    await _write_lines(conn, recipe_id, lines)
    return await get(conn, user, recipe_id)


async def _owned(conn: AsyncConnection, user: str, recipe_id: str) -> None:
    row = (
        await conn.execute(
            select(recipes.c.owner_id).where(recipes.c.id == recipe_id, visible_to(user))
        )
    ).first()
    if row is None:
        raise NotFound(f"No recipe has id {recipe_id!r}.")
    if row.owner_id is None:
        raise Forbidden(
            f"Recipe {recipe_id!r} is in the shared catalog and cannot be changed; "
            "save your own version with POST /recipes."
        )


async def replace(
    conn: AsyncConnection, user: str, recipe_id: str, data: models.RecipeIn
) -> models.Recipe:
    await _owned(conn, user, recipe_id)
    lines = await _lines(conn, data)
    await conn.execute(
        delete(recipe_ingredients).where(recipe_ingredients.c.recipe_id == recipe_id)
    )
    await conn.execute(
        update(recipes).where(recipes.c.id == recipe_id).values(**_columns(data, lines))
    )
    await _write_lines(conn, recipe_id, lines)
    return await get(conn, user, recipe_id)


async def remove(conn: AsyncConnection, user: str, recipe_id: str) -> None:
    await _owned(conn, user, recipe_id)
    await conn.execute(delete(recipes).where(recipes.c.id == recipe_id))


async def rate(
    conn: AsyncConnection, user: str, recipe_id: str, stars: int
) -> models.RatingSummary:
    visible = await conn.execute(
        select(recipes.c.id).where(recipes.c.id == recipe_id, visible_to(user))
    )
    if visible.first() is None:
        raise NotFound(f"No recipe has id {recipe_id!r}.")
    await upsert(
        conn,
        recipe_ratings,
        {"recipe_id": recipe_id, "user_id": user, "stars": stars, "updated_at": now()},
        keys=("recipe_id", "user_id"),
    )
    return await rating(conn, user, recipe_id)
