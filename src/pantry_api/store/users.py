"""Users: created the first time the service names them, with their preferences."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from pantry_api import models
from pantry_api.store.common import now, utc
from pantry_api.store.tables import meal_plans, pantry_items, recipes, users
from pantry_api.store.upsert import upsert


async def ensure(conn: AsyncConnection, user: str) -> None:
    stamp = now()
    await upsert(
        conn,
        users,
        {"id": user, "dietary": [], "disliked": [], "created_at": stamp, "updated_at": stamp},
        keys=("id",),
        update=(),
    )


def _stamp(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


def _preferences(row: Row[Any]) -> models.Preferences:
    return models.Preferences(
        dietary=row.dietary,
        disliked=row.disliked,
        max_weeknight_minutes=row.max_weeknight_minutes,
        servings=row.servings,
        set_at=_stamp(row.preferences_set_at),
        declined_at=_stamp(row.preferences_declined_at),
    )


async def preferences(conn: AsyncConnection, user: str) -> models.Preferences:
    return _preferences((await conn.execute(select(users).where(users.c.id == user))).one())


async def servings(conn: AsyncConnection, user: str) -> int | None:
    """How many people the user cooks for, if they said; plan entries default to it."""
    found = await conn.execute(select(users.c.servings).where(users.c.id == user))
    value: int | None = found.scalar_one_or_none()
    return value


async def replace_preferences(
    conn: AsyncConnection, user: str, data: models.PreferencesIn
) -> models.Preferences:
    order = {tag: index for index, tag in enumerate(models.DIETARY_TAGS)}
    dietary = sorted(set(data.dietary), key=order.__getitem__)
    disliked = list(dict.fromkeys(models.trim(name).lower() for name in data.disliked))
    stamp = now()
    await conn.execute(
        update(users)
        .where(users.c.id == user)
        .values(
            dietary=dietary,
            disliked=disliked,
            max_weeknight_minutes=data.max_weeknight_minutes,
            servings=data.servings,
            preferences_set_at=stamp,
            updated_at=stamp,
        )
    )
    return await preferences(conn, user)


async def decline_preferences(conn: AsyncConnection, user: str) -> models.Preferences:
    """Record that the person declined to be asked for their preferences, now; nothing
    else changes (repeating it only moves the time)."""
    stamp = now()
    await conn.execute(
        update(users)
        .where(users.c.id == user)
        .values(preferences_declined_at=stamp, updated_at=stamp)
    )
    return await preferences(conn, user)


async def me(conn: AsyncConnection, user: str) -> models.User:
    row = (await conn.execute(select(users).where(users.c.id == user))).one()

    async def count(table_count: object) -> int:
        return int((await conn.execute(table_count)).scalar_one())  # type: ignore[call-overload]

    return models.User(
        id=row.id,
        preferences=_preferences(row),
        pantry_items=await count(select(func.count()).where(pantry_items.c.user_id == user)),
        meal_plans=await count(select(func.count()).where(meal_plans.c.user_id == user)),
        saved_recipes=await count(select(func.count()).where(recipes.c.owner_id == user)),
        created_at=utc(row.created_at),
    )
