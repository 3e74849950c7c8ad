"""A pytest plugin that counts what the reliability tests throw at pantry-mcp.

    PYTHONPATH=scripts .venv/bin/pytest -q -p count_faults_and_inputs \\
        tests/e2e/test_faults.py tests/e2e/test_hostile_input.py tests/e2e/test_below_schema.py

prints, at the end, the faults the fault proxy injected (by kind) among the upstream
requests it saw, and the hostile inputs tried (MCP calls, raw JSON-RPC bodies, HTTP
requests). It only wraps the tests' own helpers to count; it changes nothing they do.
"""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

counts: collections.Counter[str] = collections.Counter()


def pytest_configure(config: pytest.Config) -> None:
    from tests.e2e import test_below_schema, test_faults, test_hostile_input

    pick = test_faults.FaultProxy._pick

    def counted_pick(self: test_faults.FaultProxy, method: str, path: str) -> Any:
        fault = pick(self, method, path)
        counts["upstream requests"] += 1
        if fault is not None:
            counts[f"fault {fault.kind}{fault.status if fault.kind == 'status' else ''}"] += 1
            counts["faults injected"] += 1
        return fault

    test_faults.FaultProxy._pick = counted_pick  # type: ignore[method-assign]

    def counted(name: str, original: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
        async def call(*args: Any, **kwargs: Any) -> Any:
            counts[f"hostile {name}"] += 1
            return await original(*args, **kwargs)

        return call

    test_hostile_input.call = counted("MCP call", test_hostile_input.call)
    test_hostile_input.raw_call = counted("raw JSON-RPC", test_hostile_input.raw_call)
    cases = test_hostile_input.http_cases

    def counted_cases(era: str) -> Any:
        found = cases(era)
        counts["hostile HTTP request"] += len(found)
        return found

    test_hostile_input.http_cases = counted_cases

    # below the schema (a class of its own): raw bodies by kind, and GETs with Last-Event-ID
    send = test_below_schema.send

    async def counted_send(http: Any, url: str, era: str, case: Any) -> list[str]:
        counts["below-schema HTTP request"] += 1
        return await send(http, url, era, case)

    test_below_schema.send = counted_send
    get_cases = test_below_schema.get_cases

    def counted_get_cases() -> Any:
        found = list(get_cases())
        counts["below-schema HTTP request"] += len(found)
        return iter(found)

    test_below_schema.get_cases = counted_get_cases


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    print("\ncounted:", ", ".join(f"{name}: {n}" for name, n in sorted(counts.items())))
