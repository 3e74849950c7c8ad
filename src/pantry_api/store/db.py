"""The database handle: one engine, read and write transactions, both storage engines.

SQLite (the embedded default) runs in WAL mode with foreign keys on; write transactions
start with ``BEGIN IMMEDIATE`` so two writers queue on the lock instead of failing
half-way. A writer waits for its turn (a pooled connection, then the write lock) at most
the busy timeout, then gives up with a 503 having changed nothing. PostgreSQL is reached
through asyncpg when a deployment outgrows one machine.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from pantry_api.errors import ServiceUnavailable
from pantry_api.store.migrations import migrate

if TYPE_CHECKING:
    from pantry_api.config import Settings

_WRITE = "pantry_write"  # execution option: the monotonic deadline of a write's wait
_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
_SYNCHRONOUS = {"full": "FULL", "normal": "NORMAL"}
_SLACK_MS = 20  # a wait this short for a connection is not worth two more statements
RETRY_AFTER_SECONDS = 1


def async_url(database_url: str) -> str:
    """Map the URL an operator writes (sqlite:///..., postgresql://...) to an async driver."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return str(url.set(drivername="sqlite+aiosqlite"))
    if url.get_backend_name() in {"postgresql", "postgres"}:
        return url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database URL scheme {url.drivername!r}")


class Database:
    def __init__(
        self,
        database_url: str,
        *,
        pool_size: int = 10,
        busy_timeout: float = 5.0,
        synchronous: str = "full",
    ) -> None:
        url = make_url(async_url(database_url))
        self.dialect = url.get_backend_name()
        self.busy_timeout = busy_timeout
        options: dict[str, Any] = {"pool_pre_ping": self.dialect == "postgresql"}
        if self.dialect == "sqlite":
            if url.database and url.database != ":memory:":
                Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            # Waiting for a pooled connection counts against the same budget as the lock.
            options.update(connect_args={"timeout": busy_timeout}, pool_timeout=busy_timeout)
        else:
            options.update(pool_size=pool_size, max_overflow=pool_size)
        self.engine: AsyncEngine = create_async_engine(url, **options)
        if self.dialect == "sqlite":
            _take_over_sqlite_transactions(self.engine, busy_timeout, synchronous)

    @classmethod
    def for_settings(cls, settings: Settings) -> Database:
        return cls(
            settings.database_url,
            busy_timeout=settings.sqlite_busy_timeout,
            synchronous=settings.sqlite_synchronous,
        )

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        with self._busy_is_unavailable():
            async with self.engine.connect() as conn, conn.begin():
                yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that commits when the block ends and rolls back on any error."""
        deadline = time.monotonic() + self.busy_timeout
        with self._busy_is_unavailable():
            async with self.engine.connect() as conn:
                await conn.execution_options(**{_WRITE: deadline})
                async with conn.begin():
                    yield conn

    @contextmanager
    def _busy_is_unavailable(self) -> Iterator[None]:
        """No turn within the busy timeout: a 503 the caller may retry, nothing changed."""
        try:
            yield
        except PoolTimeout:
            raise self._unavailable() from None
        except OperationalError as error:
            if getattr(error.orig, "sqlite_errorcode", None) not in _BUSY_CODES:
                raise
            raise self._unavailable() from None

    def _unavailable(self) -> ServiceUnavailable:
        waited = f" for {self.busy_timeout:g} s" if self.dialect == "sqlite" else ""
        return ServiceUnavailable(
            f"Pantry's database stayed busy{waited}; nothing was changed. Retry shortly.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    async def migrate(self) -> list[int]:
        async with self.write() as conn:
            return await migrate(conn)

    async def close(self) -> None:
        await self.engine.dispose()


def _take_over_sqlite_transactions(
    engine: AsyncEngine, busy_timeout: float, synchronous: str
) -> None:
    """Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.

    The sqlite3 module's legacy mode starts transactions lazily and never for DDL; we want
    every block to be one transaction, and writers to take the write lock up front.
    """
    busy_ms = round(busy_timeout * 1000)

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # FULL: a commit is on disk (the WAL fsynced) before the API says it is done.
        cursor.execute(f"PRAGMA synchronous={_SYNCHRONOUS[synchronous]}")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Connection) -> None:
        deadline = conn.get_execution_options().get(_WRITE)
        if deadline is None:
            conn.exec_driver_sql("BEGIN")
            return
        # Time spent waiting for a pooled connection comes off the wait for the lock, so
        # the whole wait stays within the busy timeout (and the caller's deadline).
        left_ms = max(0, round((deadline - time.monotonic()) * 1000))
        if left_ms >= busy_ms - _SLACK_MS:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            return
        conn.exec_driver_sql(f"PRAGMA busy_timeout={left_ms}")
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        finally:
            conn.exec_driver_sql(f"PRAGMA busy_timeout={busy_ms}")
