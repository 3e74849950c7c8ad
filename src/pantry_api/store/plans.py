"""Meal plans: a run of days from a start date, each day holding recipes in meal slots.

Adding the same recipe to the same day and slot twice leaves one entry (the unique
constraint guarantees it even under concurrent retries).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Row, delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from pantry_api import models
from pantry_api.errors import Conflict, NotFound
from pantry_api.ids import new_id
from pantry_api.store.common import now, page_offset, utc
from pantry_api.store.recipes import coverages, visible_to
from pantry_api.store.tables import meal_plan_entries, meal_plans, recipes
from pantry_api.store.users import servings as saved_servings

SLOT_ORDER = {"breakfast": 0, "lunch": 1, "dinner": 2, "snack": 3}


def end_date(start: date, days: int) -> date:
    return start + timedelta(days=days - 1)


async def owned_plan(conn: AsyncConnection, user: str, plan_id: str) -> Row[Any]:
    row = (
        await conn.execute(
            select(meal_plans).where(meal_plans.c.id == plan_id, meal_plans.c.user_id == user)
        )
    ).first()
    if row is None:
        raise NotFound(f"No meal plan has id {plan_id!r}; list them with GET /meal-plans.")
    return row


async def list_plans(
    conn: AsyncConnection, user: str, query: models.PlanListQuery
) -> models.PlanPage:
    conditions = [meal_plans.c.user_id == user]
    if query.ends_on_or_after is not None:
        conditions.append(meal_plans.c.end_date >= query.ends_on_or_after)
    if query.starts_on_or_before is not None:
        conditions.append(meal_plans.c.start_date <= query.starts_on_or_before)
    total = (await conn.execute(select(func.count()).where(*conditions))).scalar_one()
    entry_counts = (
        select(meal_plan_entries.c.plan_id, func.count().label("entries"))
        .group_by(meal_plan_entries.c.plan_id)
        .subquery()
    )
    by_start = (
        meal_plans.c.start_date.desc() if query.order == "latest" else meal_plans.c.start_date.asc()
    )
    rows = (
        await conn.execute(
            select(meal_plans, func.coalesce(entry_counts.c.entries, 0).label("entries"))
            .outerjoin(entry_counts, entry_counts.c.plan_id == meal_plans.c.id)
            .where(*conditions)
            .order_by(by_start, meal_plans.c.created_at.desc(), meal_plans.c.id)
            .limit(query.page_size)
            .offset(page_offset(query.page, query.page_size))
        )
    ).all()
    recipe_ids = await _recipe_ids(conn, [row.id for row in rows])
    items = [
        models.PlanSummary(
            id=row.id,
            name=row.name,
            start_date=row.start_date,
            end_date=end_date(row.start_date, row.days),
            days=row.days,
            entry_count=row.entries,
            recipe_ids=recipe_ids.get(row.id, []),
            created_at=utc(row.created_at),
        )
        for row in rows
    ]
    return models.PlanPage(
        items=items,
        page=query.page,
        page_size=query.page_size,
        total=total,
        has_more=page_offset(query.page, query.page_size) + len(items) < total,
    )


async def _recipe_ids(conn: AsyncConnection, plan_ids: list[str]) -> dict[str, list[str]]:
    """Each plan's distinct recipe ids, in the order its days show its entries (day, meal
    slot, then recipe title as in GET /meal-plans/{id}): one query for a whole page."""
    if not plan_ids:
        return {}
    rows = await conn.execute(
        select(
            meal_plan_entries.c.plan_id,
            meal_plan_entries.c.day,
            meal_plan_entries.c.slot,
            meal_plan_entries.c.recipe_id,
            meal_plan_entries.c.id,
            recipes.c.title,
        )
        .join(recipes, recipes.c.id == meal_plan_entries.c.recipe_id)
        .where(meal_plan_entries.c.plan_id.in_(plan_ids))
    )
    ordered = sorted(rows, key=lambda r: (r.plan_id, r.day, SLOT_ORDER[r.slot], r.title, r.id))
    by_plan: dict[str, dict[str, None]] = defaultdict(dict)
    for row in ordered:
        by_plan[row.plan_id].setdefault(row.recipe_id, None)
    return {plan_id: list(ids) for plan_id, ids in by_plan.items()}


async def create(conn: AsyncConnection, user: str, data: models.PlanIn) -> models.Plan:
    """A new plan, with its first entries if given: all in the caller's one transaction."""
    plan_id = new_id("plan")
    name = (
        models.trim(data.name or "") or f"{data.days}-day plan from {data.start_date.isoformat()}"
    )
    await conn.execute(
        meal_plans.insert().values(
            id=plan_id,
            user_id=user,
            name=name,
            start_date=data.start_date,
            days=data.days,
            end_date=end_date(data.start_date, data.days),
            created_at=now(),
        )
    )
    servings = await saved_servings(conn, user) if data.entries else None
    for index, entry in enumerate(data.entries):
        field = f"body.entries.{index}"
        if entry.day > data.days:
            raise Conflict(
                f"Entry {index} is on day {entry.day}; the plan has {data.days} days.",
                details=[{"field": f"{field}.day", "problem": f"must be at most {data.days}"}],
            )
        await _check_recipe(conn, user, entry.recipe_id, f"{field}.recipe_id")
        await _insert_entry(conn, plan_id, entry, servings)
    return await get(conn, user, plan_id)


async def _check_recipe(conn: AsyncConnection, user: str, recipe_id: str, field: str) -> None:
    visible = await conn.execute(
        select(recipes.c.id).where(recipes.c.id == recipe_id, visible_to(user))
    )
    if visible.first() is None:
        raise NotFound(
            f"No recipe has id {recipe_id!r}.",
            details=[{"field": field, "problem": "unknown; search GET /recipes?q="}],
        )


async def _insert_entry(
    conn: AsyncConnection, plan_id: str, data: models.EntryIn, default_servings: int | None
) -> tuple[str, bool]:
    """Insert unless the same recipe is already on that day and slot; (entry id, created).

    An entry without servings is made for the user's saved servings, stored on the entry
    so a later change of preference does not change what was planned; with neither, it
    stays null and follows the recipe's own servings."""
    same = (
        meal_plan_entries.c.plan_id == plan_id,
        meal_plan_entries.c.day == data.day,
        meal_plan_entries.c.slot == data.slot,
        meal_plan_entries.c.recipe_id == data.recipe_id,
    )
    existing = (await conn.execute(select(meal_plan_entries.c.id).where(*same))).first()
    if existing is not None:
        return str(existing.id), False
    entry_id = new_id("entry")
    await conn.execute(
        meal_plan_entries.insert().values(
            id=entry_id,
            plan_id=plan_id,
            day=data.day,
            slot=data.slot,
            recipe_id=data.recipe_id,
            servings=data.servings if data.servings is not None else default_servings,
            created_at=now(),
        )
    )
    return entry_id, True


async def entries(conn: AsyncConnection, user: str, plan: Row[Any]) -> list[models.Entry]:
    """The plan's entries, each with the acting user's pantry coverage of its recipe as of
    now: two queries for the whole plan (its entries, then all its recipes' lines)."""
    rows = (
        await conn.execute(
            select(
                meal_plan_entries,
                recipes.c.title,
                recipes.c.total_minutes,
                recipes.c.servings.label("recipe_servings"),
            )
            .join(recipes, recipes.c.id == meal_plan_entries.c.recipe_id)
            .where(meal_plan_entries.c.plan_id == plan.id)
        )
    ).all()
    coverage = await coverages(conn, user, [row.recipe_id for row in rows])
    found = [
        models.Entry(
            id=row.id,
            day=row.day,
            date=plan.start_date + timedelta(days=row.day - 1),
            slot=row.slot,
            recipe_id=row.recipe_id,
            recipe_title=row.title,
            total_minutes=row.total_minutes,
            servings=row.servings or row.recipe_servings,
            pantry_coverage=coverage[row.recipe_id],
        )
        for row in rows
    ]
    return sorted(found, key=lambda e: (e.day, SLOT_ORDER[e.slot], e.recipe_title, e.id))


async def get(conn: AsyncConnection, user: str, plan_id: str) -> models.Plan:
    plan = await owned_plan(conn, user, plan_id)
    by_day: dict[int, list[models.Entry]] = defaultdict(list)
    for entry in await entries(conn, user, plan):
        by_day[entry.day].append(entry)
    return models.Plan(
        id=plan.id,
        name=plan.name,
        start_date=plan.start_date,
        end_date=end_date(plan.start_date, plan.days),
        days=[
            models.PlanDay(
                day=day, date=plan.start_date + timedelta(days=day - 1), entries=by_day.get(day, [])
            )
            for day in range(1, plan.days + 1)
        ],
        created_at=utc(plan.created_at),
    )


async def remove(conn: AsyncConnection, user: str, plan_id: str) -> None:
    await owned_plan(conn, user, plan_id)
    await conn.execute(delete(meal_plan_entries).where(meal_plan_entries.c.plan_id == plan_id))
    await conn.execute(delete(meal_plans).where(meal_plans.c.id == plan_id))


async def add_entry(
    conn: AsyncConnection, user: str, plan_id: str, data: models.EntryIn
) -> tuple[models.Entry, bool]:
    """Add a recipe to a day and slot; returns (entry, created). A repeat returns the first."""
    plan = await owned_plan(conn, user, plan_id)
    if data.day > plan.days:
        raise Conflict(
            f"The plan has {plan.days} days; day must be between 1 and {plan.days}.",
            details=[{"field": "body.day", "problem": f"must be at most {plan.days}"}],
        )
    await _check_recipe(conn, user, data.recipe_id, "body.recipe_id")
    entry_id, created = await _insert_entry(conn, plan_id, data, await saved_servings(conn, user))
    entry = next(e for e in await entries(conn, user, plan) if e.id == entry_id)
    return entry, created


async def remove_entry(conn: AsyncConnection, user: str, plan_id: str, entry_id: str) -> None:
    await owned_plan(conn, user, plan_id)
    result = await conn.execute(
        delete(meal_plan_entries).where(
            meal_plan_entries.c.plan_id == plan_id, meal_plan_entries.c.id == entry_id
        )
    )
    if result.rowcount == 0:
        raise NotFound(f"Meal plan {plan_id!r} has no entry {entry_id!r}.")
