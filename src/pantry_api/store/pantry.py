"""A user's pantry: what they have, how much, and until when."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, Select, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from pantry_api import models
from pantry_api.errors import Conflict, NotFound
from pantry_api.store.common import LIKE_ESCAPE, contains_pattern, now, utc
from pantry_api.store.ingredients import normalize_name
from pantry_api.store.tables import ingredients, pantry_items
from pantry_api.units import kind_of, to_base

MAX_ITEMS = 1000


def _select_items(user: str) -> Select[Any]:
    return (
        select(pantry_items, ingredients.c.name, ingredients.c.aisle)
        .join(ingredients, ingredients.c.id == pantry_items.c.ingredient_id)
        .where(pantry_items.c.user_id == user)
    )


def _item(row: Row[Any]) -> models.PantryItem:
    return models.PantryItem(
        ingredient_id=row.ingredient_id,
        name=row.name,
        aisle=row.aisle,
        quantity=row.quantity,
        unit=row.unit,
        expires_on=row.expires_on,
        updated_at=utc(row.updated_at),
    )


async def list_items(
    conn: AsyncConnection, user: str, query: models.PantryQuery
) -> models.PantryList:
    statement = _select_items(user)
    if query.q:
        pattern = contains_pattern(normalize_name(query.q))
        statement = statement.where(ingredients.c.name.like(pattern, escape=LIKE_ESCAPE))
    rows = await conn.execute(statement.order_by(ingredients.c.aisle, ingredients.c.name))
    items = [_item(row) for row in rows]
    return models.PantryList(items=items, total=len(items))


async def get_item(conn: AsyncConnection, user: str, ingredient_id: str) -> models.PantryItem:
    row = (
        await conn.execute(_select_items(user).where(pantry_items.c.ingredient_id == ingredient_id))
    ).first()
    if row is None:
        raise NotFound(f"Ingredient {ingredient_id!r} is not in the pantry.")
    return _item(row)


def _unit(unit: str | None, quantity: float | None) -> str | None:
    """A quantity without a unit counts pieces ("2" eggs); no quantity needs no unit."""
    if quantity is None:
        return None
    return unit or "piece"


async def add(
    conn: AsyncConnection, user: str, data: models.PantryItemIn
) -> tuple[models.PantryItem, bool]:
    """Add to the pantry; an item already there gains the quantity. Returns (item, created)."""
    unit = _unit(data.unit, data.quantity)
    known = await conn.execute(
        select(ingredients.c.id).where(ingredients.c.id == data.ingredient_id)
    )
    if known.first() is None:
        raise NotFound(
            f"No ingredient has id {data.ingredient_id!r}.",
            details=[
                {"field": "body.ingredient_id", "problem": "unknown; search GET /ingredients?q="}
            ],
        )
    existing = await _locked_item(conn, user, data.ingredient_id)
    if existing is None:
        await _check_room(conn, user)
        if await _insert_new(conn, user, data, unit):
            return await get_item(conn, user, data.ingredient_id), True
        # A concurrent first add inserted it since we looked (on PostgreSQL our insert
        # waited for that one to commit): add to its row, as a later add would.
        existing = await _locked_item(conn, user, data.ingredient_id)
        if existing is None:  # and a concurrent remove took it away again
            raise Conflict("The item changed while it was being added; send the add again.")
    quantity, kept_unit = _merge(existing.quantity, existing.unit, data.quantity, unit)
    await conn.execute(
        update(pantry_items)
        .where(pantry_items.c.user_id == user, pantry_items.c.ingredient_id == data.ingredient_id)
        .values(
            quantity=quantity,
            unit=kept_unit,
            expires_on=data.expires_on if data.expires_on is not None else existing.expires_on,
            updated_at=now(),
        )
    )
    return await get_item(conn, user, data.ingredient_id), False


async def _locked_item(conn: AsyncConnection, user: str, ingredient_id: str) -> Row[Any] | None:
    """The row, locked: on PostgreSQL two concurrent adds to one item must not both read the
    old quantity (SQLite's BEGIN IMMEDIATE already lets only one writer in at a time)."""
    statement = (
        select(pantry_items)
        .where(pantry_items.c.user_id == user, pantry_items.c.ingredient_id == ingredient_id)
        .with_for_update()
    )
    return (await conn.execute(statement)).first()


async def _check_room(conn: AsyncConnection, user: str) -> None:
    count = await conn.execute(
        select(pantry_items.c.ingredient_id).where(pantry_items.c.user_id == user).limit(MAX_ITEMS)
    )
    if len(count.all()) >= MAX_ITEMS:
        raise Conflict(f"The pantry already holds {MAX_ITEMS} items; remove some first.")


async def _insert_new(
    conn: AsyncConnection, user: str, data: models.PantryItemIn, unit: str | None
) -> bool:
    """Insert the item unless a row for it exists by now; True when this call inserted it."""
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    statement = (
        dialect.insert(pantry_items)
        .values(
            user_id=user,
            ingredient_id=data.ingredient_id,
            quantity=data.quantity,
            unit=unit,
            expires_on=data.expires_on,
            updated_at=now(),
        )
        .on_conflict_do_nothing(index_elements=["user_id", "ingredient_id"])
    )
    return (await conn.execute(statement)).rowcount == 1


def _merge(
    have: float | None, have_unit: str | None, add: float | None, add_unit: str | None
) -> tuple[float | None, str | None]:
    if add is None or add_unit is None:
        return have, have_unit
    if have is None or have_unit is None:
        return add, add_unit
    if have_unit == add_unit:
        return round(have + add, 3), have_unit
    if kind_of(have_unit) == kind_of(add_unit) != "count":
        return round(have + to_base(add, add_unit) / to_base(1, have_unit), 3), have_unit
    raise Conflict(
        f"The pantry holds this in {have_unit}, which does not convert from {add_unit}; "
        "set the amount with PATCH instead.",
        details={"have": {"quantity": have, "unit": have_unit}},
    )


async def patch(
    conn: AsyncConnection, user: str, ingredient_id: str, data: models.PantryItemPatch
) -> models.PantryItem:
    """Set the fields given; a field sent as null is cleared, a field left out is kept."""
    current = await get_item(conn, user, ingredient_id)
    given = data.model_fields_set
    changes: dict[str, object] = {}
    quantity = data.quantity if "quantity" in given else current.quantity
    if "quantity" in given:
        changes["quantity"] = data.quantity
    if "unit" in given:
        changes["unit"] = _unit(data.unit, quantity)
    elif "quantity" in given:
        changes["unit"] = None if quantity is None else (current.unit or "piece")
    if "expires_on" in given:
        changes["expires_on"] = data.expires_on
    if changes:
        await conn.execute(
            update(pantry_items)
            .where(pantry_items.c.user_id == user, pantry_items.c.ingredient_id == ingredient_id)
            .values(**changes, updated_at=now())
        )
    return await get_item(conn, user, ingredient_id)


async def remove(conn: AsyncConnection, user: str, ingredient_id: str) -> None:
    result = await conn.execute(
        delete(pantry_items).where(
            pantry_items.c.user_id == user, pantry_items.c.ingredient_id == ingredient_id
        )
    )
    if result.rowcount == 0:
        raise NotFound(f"Ingredient {ingredient_id!r} is not in the pantry.")
