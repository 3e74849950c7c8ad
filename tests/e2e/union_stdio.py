"""``pantry-mcp stdio`` with one JSON Schema type union deliberately put back.

Run from the repository root as ``.venv/bin/python -m tests.e2e.union_stdio``, with the
environment ``pantry-mcp stdio`` needs (PANTRY_MCP_PANTRY_URL, _PANTRY_TOKEN, _USER). It
serves exactly what ``pantry-mcp stdio`` serves (it runs ``cli.main(["stdio"])``), except
that the first property of UNION_TOOL's inputSchema is turned back into
``{"type": ["number", "null"]}``: the form the schemas had before nullable values became
``anyOf`` with a ``{"type": "null"}`` branch, which the MCP Inspector's strict lint
reports as a ``type-union`` warning. tests/e2e/test_inspector.py runs it to prove that
its "no schema findings" check fails on such a schema.

The change lives only in this process's memory: nothing in src/ is edited, and the
property is chosen by position, not by name, so edits to the real schemas do not break it.
"""

from __future__ import annotations

from typing import Any

from pantry_mcp import cli, registry

UNION_TOOL = "search_recipes"
_load_schema = registry.load_schema  # the real loader, kept before it is replaced


def union_property(document: dict[str, Any]) -> str:
    """The property that gets the type union: the first of the tool's inputSchema."""
    first: str = next(iter(document["inputSchema"]["properties"]))
    return first


def load_schema_with_union(name: str) -> dict[str, Any]:
    """registry.load_schema, but UNION_TOOL's document comes back with the union in it."""
    document = _load_schema(name)  # a fresh parse of schemas/<name>.json on every call
    if name == UNION_TOOL:
        properties = document["inputSchema"]["properties"]
        properties[union_property(document)] = {
            "type": ["number", "null"],
            "description": "a type union, reintroduced for tests/e2e/test_inspector.py",
        }
    return document


def main() -> int:
    # Registry(TOOLS), built inside cli._stdio, reads each tool's document through
    # registry.load_schema (looked up when called), so replacing it here, before the
    # registry exists, changes what tools/list serves and nothing else.
    registry.load_schema = load_schema_with_union
    return cli.main(["stdio"])


if __name__ == "__main__":
    raise SystemExit(main())
