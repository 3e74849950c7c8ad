"""TrimHeaderValues: optional white space around header values goes (RFC 9110 5.5)."""

from __future__ import annotations

from typing import Any

import pytest

from pantry_mcp.app import TrimHeaderValues

pytestmark = pytest.mark.anyio


async def _seen_by_app(headers: list[tuple[bytes, bytes]]) -> tuple[dict[str, Any], Any]:
    seen: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)

    scope = {"type": "http", "headers": headers}
    await TrimHeaderValues(app)(scope, None, None)  # type: ignore[arg-type]
    return scope, seen[0]


async def test_spaces_and_tabs_at_either_end_are_dropped() -> None:
    headers = [(b"mcp-name", b"search_recipes \t"), (b"mcp-method", b"\ttools/call"), (b"x", b"")]
    original, seen = await _seen_by_app(headers)
    assert seen["headers"] == [
        (b"mcp-name", b"search_recipes"),
        (b"mcp-method", b"tools/call"),
        (b"x", b""),
    ]
    assert original["headers"] is headers  # the caller's scope is not changed


async def test_values_without_white_space_pass_as_they_are() -> None:
    headers = [(b"mcp-name", b"search_recipes"), (b"accept", b"a, b"), (b"empty", b"")]
    original, seen = await _seen_by_app(headers)
    assert seen is original and seen["headers"] == headers
