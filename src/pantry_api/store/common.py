"""Small helpers every store module uses."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def utc(value: datetime) -> datetime:
    """SQLite hands timestamps back without a zone; they were written in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def page_offset(page: int, page_size: int) -> int:
    return (page - 1) * page_size


LIKE_ESCAPE = "\\"


def contains_pattern(fragment: str) -> str:
    """A LIKE pattern matching text that contains ``fragment`` literally (% and _ included)."""
    escaped = fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
