"""Users: created the first time the service names them, with their preferences."""

from __future__ import annotations

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


def _preferences(row: Row[Any]) -> models.Preferences:
    return models.Preferences(
        dietary=row.dietary,
        disliked=row.disliked,
        max_weeknight_minutes=row.max_weeknight_minutes,
    )


async def preferences(conn: AsyncConnection, user: str) -> models.Preferences:
    return _preferences((await conn.execute(select(users).where(users.c.id == user))).one())


async def replace_preferences(
    conn: AsyncConnection, user: str, data: models.PreferencesIn
) -> models.Preferences:
    order = {tag: index for index, tag in enumerate(models.DIETARY_TAGS)}
    dietary = sorted(set(data.dietary), key=order.__getitem__)
    disliked = list(dict.fromkeys(models.trim(name).lower() for name in data.disliked))
    await conn.execute(
        update(users)
        .where(users.c.id == user)
        .values(
            dietary=dietary,
            disliked=disliked,
            max_weeknight_minutes=data.max_weeknight_minutes,
            updated_at=now(),
        )
    )
    return models.Preferences(
        dietary=dietary, disliked=disliked, max_weeknight_minutes=data.max_weeknight_minutes
    )


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
