"""The database handle: one engine, read and write transactions, both storage engines.

SQLite (the embedded default) runs in WAL mode with foreign keys on; write transactions
start with ``BEGIN IMMEDIATE`` so two writers queue on the lock instead of failing
half-way. PostgreSQL is reached through asyncpg when a deployment outgrows one machine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from pantry_api.store.migrations import migrate

_WRITE = "pantry_write"


def async_url(database_url: str) -> str:
    """Map the URL an operator writes (sqlite:///..., postgresql://...) to an async driver."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return str(url.set(drivername="sqlite+aiosqlite"))
    if url.get_backend_name() in {"postgresql", "postgres"}:
        return url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database URL scheme {url.drivername!r}")


class Database:
    def __init__(self, database_url: str, *, pool_size: int = 10) -> None:
        url = make_url(async_url(database_url))
        self.dialect = url.get_backend_name()
        options: dict[str, Any] = {"pool_pre_ping": self.dialect == "postgresql"}
        if self.dialect == "sqlite":
            if url.database and url.database != ":memory:":
                Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            options["connect_args"] = {"timeout": 30}
        else:
            options.update(pool_size=pool_size, max_overflow=pool_size)
        self.engine: AsyncEngine = create_async_engine(url, **options)
        if self.dialect == "sqlite":
            _take_over_sqlite_transactions(self.engine)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn, conn.begin():
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that commits when the block ends and rolls back on any error."""
        async with self.engine.connect() as conn:
            await conn.execution_options(**{_WRITE: True})
            async with conn.begin():
                yield conn

    async def migrate(self) -> list[int]:
        async with self.write() as conn:
            return await migrate(conn)

    async def close(self) -> None:
        await self.engine.dispose()


def _take_over_sqlite_transactions(engine: AsyncEngine) -> None:
    """Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.

    The sqlite3 module's legacy mode starts transactions lazily and never for DDL; we want
    every block to be one transaction, and writers to take the write lock up front.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
