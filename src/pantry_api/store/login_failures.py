"""Failed sign-ins, one row per failure and key, kept only as long as a window needs them.

Keys are opaque digests made by the caller (see ``pantry_api.login.limits``): the table
never holds an email or a client address.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from pantry_api.store.common import utc
from pantry_api.store.tables import login_failures


async def latest(conn: AsyncConnection, key: str, *, since: datetime, limit: int) -> list[datetime]:
    """The newest ``limit`` failures for ``key`` after ``since``, newest first."""
    rows = await conn.execute(
        select(login_failures.c.failed_at)
        .where(login_failures.c.key == key, login_failures.c.failed_at > since)
        .order_by(login_failures.c.failed_at.desc())
        .limit(limit)
    )
    return [utc(value) for value in rows.scalars()]


async def record(
    conn: AsyncConnection, keys: list[str], *, at: datetime, forget_before: datetime
) -> None:
    await conn.execute(insert(login_failures), [{"key": key, "failed_at": at} for key in keys])
    await forget(conn, before=forget_before)


async def clear(conn: AsyncConnection, key: str) -> None:
    await conn.execute(delete(login_failures).where(login_failures.c.key == key))


async def forget(conn: AsyncConnection, *, before: datetime) -> None:
    await conn.execute(delete(login_failures).where(login_failures.c.failed_at < before))
