"""INSERT ... ON CONFLICT for both engines (their SQLAlchemy constructs share one API)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


async def upsert(
    conn: AsyncConnection,
    table: Table,
    values: dict[str, Any],
    *,
    keys: Sequence[str],
    update: Sequence[str] | None = None,
) -> None:
    """Insert ``values``; on a key conflict, overwrite the ``update`` columns (default: all others).

    With ``update=()`` an existing row is left untouched.
    """
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    statement = dialect.insert(table).values(**values)
    columns = [name for name in values if name not in keys] if update is None else list(update)
    if columns:
        statement = statement.on_conflict_do_update(
            index_elements=list(keys),
            set_={name: statement.excluded[name] for name in columns},
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(keys))
    await conn.execute(statement)
