"""Host and Origin patterns: one compiled expression, the verdicts of fnmatch."""

from __future__ import annotations

import fnmatch

import pytest

from pantry_mcp.auth.middleware import _Patterns

PATTERNS = ("127.0.0.1:*", "localhost:*", "[::1]:*", "mcp.example.com")
VALUES = [
    "127.0.0.1:8000",
    "LOCALHOST:3000",
    "[::1]:80",
    "mcp.example.com",
    "MCP.Example.COM",
    "mcp.example.com.evil",
    "evil.example",
    "127.0.0.1",
    "127.0.0.10:8000",
    "",
    "localhost:\n",
]


@pytest.mark.parametrize("value", VALUES)
def test_the_same_verdict_as_fnmatch_case_insensitive(value: str) -> None:
    expected = any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in PATTERNS)
    patterns = _Patterns(PATTERNS)
    assert patterns.allow(value) is expected
    assert patterns.allow(value) is expected  # remembered, unchanged


def test_no_patterns_allow_nothing_and_memory_stays_bounded() -> None:
    assert _Patterns(()).allow("127.0.0.1:8000") is False
    patterns = _Patterns(PATTERNS)
    for number in range(5000):  # a client choosing a new Host each time
        assert patterns.allow(f"h{number}.example") is False
    assert len(patterns._verdicts) <= _Patterns._MAX_REMEMBERED
