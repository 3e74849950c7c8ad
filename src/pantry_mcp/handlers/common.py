"""Small helpers the handlers share: concurrency, idempotency keys, wording."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio

T = TypeVar("T")


async def gather(*calls: Callable[[], Awaitable[Any]]) -> list[Any]:
    """Run independent upstream calls at once; the first failure cancels the rest and is
    raised as itself (not wrapped in an exception group), so callers catch what they know."""
    results: list[Any] = [None] * len(calls)

    async def run(index: int, call: Callable[[], Awaitable[Any]]) -> None:
        results[index] = await call()

    try:
        async with anyio.create_task_group() as group:
            for index, call in enumerate(calls):
                group.start_soon(run, index, call)
    except BaseExceptionGroup as group_error:
        raise _first(group_error) from None
    return results


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            return _first(error)
        if isinstance(error, Exception):
            return error
    return group.exceptions[0]


def content_key(user: str, kind: str, payload: Any) -> str:
    """The same user sending the same content gets the same key: retries replay, not repeat."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{kind}-" + hashlib.sha256(f"{user}\n{canonical}".encode()).hexdigest()[:40]


def call_key(kind: str) -> str:
    """A key for one tool call: Pantry-side retries of it replay, a later call is new."""
    return f"{kind}-{uuid.uuid4().hex}"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def amount_text(quantity: float | None, unit: str | None) -> str:
    if quantity is None:
        return "to taste"
    number = f"{quantity:g}"
    if unit in (None, "piece"):
        return number
    return f"{number} {unit}"


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else (many or word + 's')}"


def join_names(names: list[str], limit: int = 5) -> str:
    shown = names[:limit]
    more = len(names) - len(shown)
    text = ", ".join(shown)
    return f"{text} and {more} more" if more > 0 else text
