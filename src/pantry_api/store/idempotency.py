"""Stored answers to POSTs that carried an ``Idempotency-Key``, so a retry replays them.

Keys are scoped to the acting user and kept for a day. The answer is written in the same
transaction as the change it describes: either both exist or neither does.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from pantry_api.errors import BadRequest, Conflict
from pantry_api.store.tables import idempotency_keys

KEY_LIFETIME = timedelta(hours=24)
MAX_KEY_LENGTH = 255
KEY_PATTERN = re.compile(r"[\x20-\x7e]+")


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: bytes


def check_key(key: str) -> None:
    # Visible ASCII and spaces, as the OpenAPI document says: header bytes arrive decoded
    # as Latin-1, so anything else is bytes the caller did not mean as text.
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not KEY_PATTERN.fullmatch(key):
        raise BadRequest(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.",
            details={"header": "Idempotency-Key"},
        )


def fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


async def lookup(conn: AsyncConnection, user: str, key: str, print_: str) -> StoredAnswer | None:
    row = (
        await conn.execute(
            select(idempotency_keys).where(
                idempotency_keys.c.user_id == user, idempotency_keys.c.key == key
            )
        )
    ).first()
    if row is None:
        return None
    if (
        row.created_at.replace(tzinfo=row.created_at.tzinfo or UTC)
        < datetime.now(UTC) - KEY_LIFETIME
    ):
        await conn.execute(
            delete(idempotency_keys).where(
                idempotency_keys.c.user_id == user, idempotency_keys.c.key == key
            )
        )
        return None
    if row.fingerprint != print_:
        raise Conflict(
            "This Idempotency-Key was already used for a different request; use a new key.",
            details=[{"field": "header.Idempotency-Key", "problem": "reused with another request"}],
        )
    return StoredAnswer(status=row.status, body=row.body.encode())


async def remember(
    conn: AsyncConnection, user: str, key: str, print_: str, status: int, body: bytes
) -> None:
    await conn.execute(
        idempotency_keys.insert().values(
            user_id=user,
            key=key,
            fingerprint=print_,
            status=status,
            body=body.decode(),
            created_at=datetime.now(UTC),
        )
    )


async def forget_expired(conn: AsyncConnection) -> None:
    await conn.execute(
        delete(idempotency_keys).where(
            idempotency_keys.c.created_at < datetime.now(UTC) - KEY_LIFETIME
        )
    )
