"""What the model and the host read, pinned: every tool's name, description, schemas,
hints and ``_meta`` (the MCP Apps links).

A change to any of it fails here until the snapshot is regenerated and the diff reviewed:
    PANTRY_UPDATE_SNAPSHOTS=1 make test PYTEST_ARGS=tests/pantry_mcp/test_tools_snapshot.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import mcp_types as types

from pantry_mcp.handlers import TOOLS
from pantry_mcp.registry import Registry
from pantry_mcp.views import VIEWS
from tests.support import TOOL_NAMES, VIEW_ONLY_TOOL_NAMES

SNAPSHOT = Path(__file__).parent / "snapshots" / "tools_list.json"
MODEL_BUDGET_BYTES = 12 * 1024  # what the model reads of the tools it may call
LIST_BUDGET_BYTES = 14 * 1024  # the whole answer: _meta and view-only tools included


def _compact(wire: object) -> str:
    return json.dumps(wire, separators=(",", ":"), ensure_ascii=False)


def tools_list_wire() -> dict[str, Any]:
    result = types.ListToolsResult(tools=Registry(TOOLS).tools())
    wire: dict[str, Any] = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    return wire


def model_visible(wire: dict[str, Any]) -> list[dict[str, Any]]:
    """The tools a host shows the model, as the model reads them: a tool whose
    ``_meta.ui.visibility`` leaves out "model" is the views' alone, and ``_meta`` is the
    host's, not the model's."""
    shown = []
    for tool in wire["tools"]:
        meta = tool.get("_meta", {})
        if "model" not in meta.get("ui", {}).get("visibility", ["model"]):
            continue
        shown.append({key: value for key, value in tool.items() if key != "_meta"})
    return shown


def tools_list_json() -> str:
    return _compact(tools_list_wire())


def test_tools_list_matches_the_reviewed_snapshot() -> None:
    current = json.dumps(tools_list_wire(), indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("PANTRY_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(current, encoding="utf-8")
    assert current == SNAPSHOT.read_text(encoding="utf-8")


def test_what_the_model_reads_fits_its_budget() -> None:
    shown = model_visible(tools_list_wire())
    assert [tool["name"] for tool in shown] == list(TOOL_NAMES)
    size = len(_compact({"tools": shown}).encode())
    assert size < MODEL_BUDGET_BYTES, f"the model reads {size} bytes; budget {MODEL_BUDGET_BYTES}"


def test_the_whole_tools_list_fits_its_budget() -> None:
    size = len(tools_list_json().encode())
    assert size < LIST_BUDGET_BYTES, (
        f"tools/list is {size} bytes; the budget is {LIST_BUDGET_BYTES}"
    )


def test_view_only_tools_are_hidden_from_the_model_and_show_no_view_of_their_own() -> None:
    """Views call them; a host has nothing to render for their results (and the MCP
    Inspector would offer a tool with a resourceUri as an app of its own)."""
    tools = {tool["name"]: tool for tool in tools_list_wire()["tools"]}
    for name in VIEW_ONLY_TOOL_NAMES:
        assert tools[name]["_meta"] == {"ui": {"visibility": ["app"]}}


def test_linked_tools_carry_both_spellings_of_the_view_link() -> None:
    linked = {
        tool["name"]: tool["_meta"]
        for tool in tools_list_wire()["tools"]
        if "resourceUri" in tool.get("_meta", {}).get("ui", {})
    }
    assert set(linked) == {
        "whats_for_dinner",
        "plan_week_meals",
        "add_recipe_to_plan",
        "get_shopping_list",
    }
    for meta in linked.values():
        assert meta["ui"]["resourceUri"] in VIEWS
        assert meta["ui/resourceUri"] == meta["ui"]["resourceUri"]
