"""What the model reads, pinned: every tool's name, description, schemas and hints.

A change to any of it fails here until the snapshot is regenerated and the diff reviewed:
    PANTRY_UPDATE_SNAPSHOTS=1 make test PYTEST_ARGS=tests/pantry_mcp/test_tools_snapshot.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import mcp_types as types

from pantry_mcp.handlers import TOOLS
from pantry_mcp.registry import Registry

SNAPSHOT = Path(__file__).parent / "snapshots" / "tools_list.json"
BUDGET_BYTES = 12 * 1024


def tools_list_json() -> str:
    result = types.ListToolsResult(tools=Registry(TOOLS).tools())
    wire = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    return json.dumps(wire, separators=(",", ":"), ensure_ascii=False)


def test_tools_list_matches_the_reviewed_snapshot() -> None:
    current = json.dumps(json.loads(tools_list_json()), indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("PANTRY_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(current, encoding="utf-8")
    assert current == SNAPSHOT.read_text(encoding="utf-8")


def test_tools_list_fits_the_context_budget() -> None:
    size = len(tools_list_json().encode())
    assert size < BUDGET_BYTES, f"tools/list is {size} bytes; the budget is {BUDGET_BYTES}"
