"""The compiled schema check gives exactly the verdict, and the problems, of jsonschema.

``SchemaCheck`` answers "valid?" with fastjsonschema and lists problems with jsonschema;
if the compiled check ever accepted what jsonschema refuses, a malformed argument would
reach a handler (or a malformed result a client). So every tool's input and output
schema is tried with generated valid values, broken values and hand-picked edge cases.
"""

from __future__ import annotations

import copy
import math
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from pantry_mcp.handlers import TOOLS
from pantry_mcp.registry import Registry, load_schema
from pantry_mcp.validation import SchemaCheck
from tests.e2e.test_hostile_input import from_schema, mutated

SCHEMAS = [
    (f"{name}.{key}", load_schema(name)[key])
    for name, _ in TOOLS
    for key in ("inputSchema", "outputSchema")
]
FULLWIDTH_DATE = "\uff12\uff10\uff12\uff16-11-30"  # digits, but not ASCII ones
EDGES: list[Any] = [
    None, True, False, 0, 1, -1, 7.0, 7.5, math.nan, math.inf, -math.inf, 10**30, "",
    "2026-11-30", "2026-02-30", "20261130", "2026-W48-1", FULLWIDTH_DATE, "x" * 10_000,
    [], [None], {}, {"": None}, [{"quantity": True}], {"servings": True}, {"count": 1.0},
]  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)


def precise(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=FormatChecker())


def assert_same_verdict(schema: dict[str, Any], check: SchemaCheck, value: Any) -> None:
    before = copy.deepcopy(value)
    expected = [e.message for e in precise(schema).iter_errors(value)][:10]
    found = [e.message for e in check.problems(value, 10)]
    assert found == expected, f"value {value!r}"
    assert repr(value) == repr(before), "a check must never change the value (no defaults filled)"


@pytest.mark.parametrize(("label", "schema"), SCHEMAS, ids=[label for label, _ in SCHEMAS])
def test_generated_values_get_jsonschemas_verdict(label: str, schema: dict[str, Any]) -> None:
    check = SchemaCheck(schema)

    @settings(
        max_examples=150,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.one_of(from_schema(schema), mutated(schema), JSON))
    def same(value: Any) -> None:
        assert_same_verdict(schema, check, value)

    same()


@pytest.mark.parametrize(("label", "schema"), SCHEMAS, ids=[label for label, _ in SCHEMAS])
def test_edge_values_get_jsonschemas_verdict(label: str, schema: dict[str, Any]) -> None:
    check = SchemaCheck(schema)
    properties = schema.get("properties", {})
    for edge in EDGES:
        assert_same_verdict(schema, check, edge)
        for name in properties:  # each edge in each top-level field of a valid-looking value
            assert_same_verdict(schema, check, {name: edge})


def test_a_date_must_be_a_real_calendar_date_in_full_form() -> None:
    check = SchemaCheck({"type": "string", "format": "date"})
    assert check.problems("2026-11-30", 5) == []
    for wrong in (
        "2026-02-30",
        "20261130",
        "2026-W48-1",
        "2026-11-30T00:00:00",
        "\uff12\uff10\uff12\uff16-11-30",
    ):
        assert check.problems(wrong, 5), wrong


def test_the_registry_refuses_and_accepts_as_before() -> None:
    registry = Registry(TOOLS)
    search = registry.get("search_recipes")
    assert search is not None
    assert search.input_check.problems({"query": "curry"}, 10) == []
    problems = search.input_check.problems({"query": "", "max_minutes": -5, "extra": 1}, 10)
    assert {p.validator for p in problems} >= {"minLength", "additionalProperties"}


@pytest.mark.parametrize(("label", "schema"), SCHEMAS, ids=[label for label, _ in SCHEMAS])
def test_every_shipped_schema_is_valid_draft_2020_12(label: str, schema: dict[str, Any]) -> None:
    # SchemaCheck no longer runs check_schema at start-up (jsonschema is loaded on the
    # first invalid value), so a malformed schema must be caught here.
    Draft202012Validator.check_schema(schema)


def test_starting_the_server_does_not_load_jsonschema() -> None:
    """jsonschema (with attrs, referencing, rpds: some 3 MB resident) waits for the first
    value that fails the compiled check; then it decides, as before."""
    program = (
        "import sys\n"
        "from pantry_mcp.app import create_app\n"
        "from pantry_mcp.config import Settings\n"
        "create_app(Settings.from_env({'PANTRY_MCP_PANTRY_TOKEN': 't' * 24}, tty=False))\n"
        "assert 'jsonschema' not in sys.modules, 'loaded at start-up'\n"
        "from pantry_mcp.handlers import TOOLS\n"
        "from pantry_mcp.registry import Registry\n"
        "search = Registry(TOOLS).get('search_recipes')\n"
        "assert search.input_check.problems({'query': 'soup'}, 5) == []\n"
        "assert 'jsonschema' not in sys.modules, 'loaded by a valid value'\n"
        "problems = search.input_check.problems({'query': 'soup', 'max_minutes': 0}, 5)\n"
        "assert [p.validator for p in problems] == ['minimum'], problems\n"
        "assert 'jsonschema' in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
