"""The shopping list of a meal plan: every ingredient its recipes need, summed and grouped
by aisle, beside what the pantry already holds, with a checked-off state per item."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from pantry_api import models
from pantry_api.errors import NotFound
from pantry_api.ids import slugify
from pantry_api.store.common import now
from pantry_api.store.plans import end_date, owned_plan
from pantry_api.store.tables import (
    ingredients,
    meal_plan_entries,
    pantry_items,
    recipe_ingredients,
    recipes,
    shopping_checks,
)
from pantry_api.store.upsert import upsert
from pantry_api.units import Amount, combine, subtract

OTHER_AISLE = "other"


@dataclass
class _Item:
    key: str
    ingredient_id: str | None
    name: str
    aisle: str
    amounts: list[Amount] = field(default_factory=list)
    to_taste: bool = False
    recipes: dict[str, None] = field(default_factory=dict)


def item_key(ingredient_id: str | None, name: str) -> str:
    return ingredient_id if ingredient_id else f"other-{slugify(name)}"


async def build(conn: AsyncConnection, user: str, plan_id: str) -> models.ShoppingList:
    plan = await owned_plan(conn, user, plan_id)
    rows = await conn.execute(
        select(
            meal_plan_entries.c.recipe_id,
            meal_plan_entries.c.servings,
            recipes.c.servings.label("recipe_servings"),
            recipe_ingredients.c.ingredient_id,
            recipe_ingredients.c.name,
            recipe_ingredients.c.quantity,
            recipe_ingredients.c.unit,
            ingredients.c.name.label("catalog_name"),
            ingredients.c.aisle,
        )
        .join(recipes, recipes.c.id == meal_plan_entries.c.recipe_id)
        .join(recipe_ingredients, recipe_ingredients.c.recipe_id == recipes.c.id)
        .outerjoin(ingredients, ingredients.c.id == recipe_ingredients.c.ingredient_id)
        .where(meal_plan_entries.c.plan_id == plan_id)
    )
    items: dict[str, _Item] = {}
    for row in rows:
        name = row.catalog_name or row.name.lower()
        key = item_key(row.ingredient_id, name)
        item = items.setdefault(key, _Item(key, row.ingredient_id, name, row.aisle or OTHER_AISLE))
        item.recipes[row.recipe_id] = None
        if row.quantity is None:
            item.to_taste = True
            continue
        scale = (row.servings or row.recipe_servings) / row.recipe_servings
        item.amounts.append(Amount(row.quantity * scale, row.unit or "piece"))
    have = await _pantry(conn, user, [i.ingredient_id for i in items.values() if i.ingredient_id])
    checked = set(
        (
            await conn.execute(
                select(shopping_checks.c.item_key).where(shopping_checks.c.plan_id == plan_id)
            )
        ).scalars()
    )
    by_aisle: dict[str, list[models.ShoppingItem]] = defaultdict(list)
    for item in sorted(items.values(), key=lambda i: i.name):
        needed = combine(item.amounts)
        held = have.get(item.ingredient_id) if item.ingredient_id else None
        by_aisle[item.aisle].append(
            models.ShoppingItem(
                key=item.key,
                ingredient_id=item.ingredient_id,
                name=item.name,
                amounts=[_amount(a) for a in needed],
                to_buy=[_amount(a) for a in _to_buy(needed, held)],
                to_taste=item.to_taste,
                in_pantry=held is not None,
                pantry_amounts=[_amount(a) for a in held or []],
                recipes=list(item.recipes),
                checked=item.key in checked,
            )
        )
    aisles = [
        models.ShoppingAisle(aisle=aisle, items=by_aisle[aisle])
        for aisle in sorted(by_aisle, key=lambda a: (a == OTHER_AISLE, a))
    ]
    return models.ShoppingList(
        plan_id=plan_id,
        start_date=plan.start_date,
        end_date=end_date(plan.start_date, plan.days),
        aisles=aisles,
        item_count=len(items),
        checked_count=sum(1 for key in items if key in checked),
    )


def _amount(amount: Amount) -> models.Amount:
    return models.Amount(quantity=amount.quantity, unit=amount.unit)


def _to_buy(needed: list[Amount], held: list[Amount] | None) -> list[Amount]:
    if held is None:
        return needed
    if not held:  # in the pantry with no amount recorded: taken as enough
        return []
    return subtract(needed, held)


async def _pantry(conn: AsyncConnection, user: str, ids: list[str]) -> dict[str, list[Amount]]:
    if not ids:
        return {}
    rows = await conn.execute(
        select(pantry_items.c.ingredient_id, pantry_items.c.quantity, pantry_items.c.unit).where(
            pantry_items.c.user_id == user, pantry_items.c.ingredient_id.in_(ids)
        )
    )
    held: dict[str, list[Amount]] = {}
    for ingredient_id, quantity, unit in rows:
        held[ingredient_id] = [Amount(quantity, unit or "piece")] if quantity is not None else []
    return held


async def check(
    conn: AsyncConnection, user: str, plan_id: str, key: str, checked: bool
) -> models.ShoppingItem:
    current = await build(conn, user, plan_id)
    item = next((i for aisle in current.aisles for i in aisle.items if i.key == key), None)
    if item is None:
        raise NotFound(f"The shopping list of plan {plan_id!r} has no item {key!r}.")
    if checked:
        await upsert(
            conn,
            shopping_checks,
            {"plan_id": plan_id, "item_key": key, "checked_at": now()},
            keys=("plan_id", "item_key"),
            update=(),
        )
    else:
        await conn.execute(
            delete(shopping_checks).where(
                shopping_checks.c.plan_id == plan_id, shopping_checks.c.item_key == key
            )
        )
    return item.model_copy(update={"checked": checked})
