"""Hostile input against pantry-mcp over real HTTP, in front of a real seeded Pantry.

Every tool gets inputs generated from its own inputSchema (hypothesis, derandomized) plus
mutations that break it; resources, prompts and the bare HTTP endpoint get hostile URIs,
arguments and bodies. Whatever comes in, the answer is a well-formed result or a protocol
error: never a dropped connection, a 5xx, a traceback or a library's exception text, never
another user's data, and nothing is written by a refused call.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx2
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.shared.exceptions import MCPError

from tests.e2e.conftest import McpServerFactory
from tests.support import LISTED_TOOL_NAMES, SERVICE_TOKEN, RunningServer, text_of, unique

pytestmark = pytest.mark.anyio

TOOLS = list(LISTED_TOOL_NAMES)
LEAKS = ("Traceback", 'File "', "pydantic", "sqlalchemy", "httpx")
# what a protocol error for a bad argument must not say (Pantry is up throughout)
INTERNAL_FAILURES = ("failed unexpectedly", "Pantry is unavailable", "Pantry answered")
MAX_ERROR_TEXT = 16_000  # an error names what is wrong; it does not echo megabytes back
GENERATED_PER_TOOL = 40
CALL_TIMEOUT = 30.0
HTTP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}

UNICODE_EDGES = [
    "",
    " ",
    "\u0000",
    "a\u0000b",
    "e\u0301\u0301\u0301\u0301",  # combining marks
    "\u202eevil\u202c",  # right-to-left override
    "\u05e9\u05dc\u05d5\u05dd",  # Hebrew (RTL)
    "\U0001f373\U0001f468\u200d\U0001f469\u200d\U0001f467",  # emoji with zero-width joiners
    "line\u2028break\u2029para",
    "zero\u200bwidth\ufeff",
    "\t\n\r",
    "'; DROP TABLE recipes; --",
    '{"json": true}',
    "<script>alert(1)</script>",
    "%s%n{0}{name}",
]
PATH_TRICKS = [
    "../",
    "../../etc/passwd",
    "%2e%2e",
    "%2e%2e%2f%2e%2e%2fusers",
    "plan-x/../../users",
    "recipe://x",
    "meal-plan://x",
    "..",
    ".",
    "/",
    "?page_size=1000",
    "#frag",
    "a b",
    "chana-masala/../chana-masala",
    "chana-masala%00",
]
ABSURD_DATES = [
    "0000-00-00",
    "2026-02-30",
    "2026-13-01",
    "9999-12-31",
    "0001-01-01",
    "26-11-30",
    "2026/11/30",
    "2026-11-30T00:00:00Z",
    "next monday",
    "",
]
HUGE_NUMBERS = [10**30, -(10**30), -1, 0, 2**63, -(2**63), 1e308, -1e308, 0.5, 1e-300]
WRONG_TYPES: list[Any] = [None, True, False, 0, 1.5, "", "x", [], [1], {}, {"a": 1}]
HOSTILE_SCALARS: list[Any] = UNICODE_EDGES + PATH_TRICKS + ABSURD_DATES + HUGE_NUMBERS + WRONG_TYPES


# ---- strategies from a JSON Schema (the subset the hand-written schemas use) ---------------


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values that satisfy ``schema`` (most of the time: formats are approximated)."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([from_schema({**schema, "type": k}) for k in kind])
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(schema.get("minimum", -1000), schema.get("maximum", 1000))
    if kind == "number":
        low = schema.get("minimum", schema.get("exclusiveMinimum", -1000))
        return st.floats(
            low,
            schema.get("maximum", 1000),
            exclude_min="exclusiveMinimum" in schema,
            allow_nan=False,
            allow_infinity=False,
        )
    if kind == "string":
        if schema.get("format") == "date":
            return st.dates().map(lambda d: d.isoformat())
        return st.text(
            min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 40), 40)
        )
    if kind == "array":
        return st.lists(
            from_schema(schema.get("items", {})),
            min_size=schema.get("minItems", 0),
            max_size=min(schema.get("maxItems", 4), 4),
        )
    if kind == "object":
        properties: dict[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {name: from_schema(sub) for name, sub in properties.items() if name in required},
            optional={
                name: from_schema(sub) for name, sub in properties.items() if name not in required
            },
        )
    return st.sampled_from(WRONG_TYPES)


@st.composite
def mutated(draw: st.DrawFn, schema: dict[str, Any]) -> Any:
    """A valid value for ``schema``, then broken in one of several ways."""
    value = draw(from_schema(schema))
    how = draw(st.sampled_from(["drop", "extra", "replace", "replace-deep", "whole"]))
    if how == "whole" or not isinstance(value, dict) or not value:
        return draw(st.sampled_from(WRONG_TYPES + UNICODE_EDGES[:3]))
    keys = sorted(value)
    if how == "drop":
        value.pop(draw(st.sampled_from(keys)))
    elif how == "extra":
        value[draw(st.sampled_from(["extra", "__proto__", "user", "X-Pantry-User", "plan_id"]))] = (
            draw(st.sampled_from(HOSTILE_SCALARS))
        )
    elif how == "replace":
        value[draw(st.sampled_from(keys))] = draw(st.sampled_from(HOSTILE_SCALARS))
    else:
        lists = [k for k in keys if isinstance(value[k], list) and value[k]]
        if lists and isinstance(value[lists[0]][0], dict) and value[lists[0]][0]:
            item = value[lists[0]][0]
            item[draw(st.sampled_from(sorted(item)))] = draw(st.sampled_from(HOSTILE_SCALARS))
        else:
            value[draw(st.sampled_from(keys))] = draw(st.sampled_from(HOSTILE_SCALARS))
    return value


def generated(schema: dict[str, Any], count: int) -> list[Any]:
    """``count`` inputs for ``schema``: about a third valid, the rest mutated (derandomized)."""
    found: list[Any] = []

    @settings(
        max_examples=count,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.one_of(from_schema(schema), mutated(schema), mutated(schema)))
    def collect(value: Any) -> None:
        found.append(value)

    collect()
    return found


def handcrafted(schema: dict[str, Any], others: dict[str, str]) -> list[Any]:
    """Inputs written by hand: huge, empty, wrong, and other users' ids."""
    properties: dict[str, Any] = schema.get("properties", {})
    required: list[str] = schema.get("required", [])
    base = {name: _plausible(name, properties[name]) for name in required}
    inputs: list[Any] = [{}, {"extra": 1}, {**base, "extra": "x"}, base]
    for name in required:
        inputs.append({k: v for k, v in base.items() if k != name})
    for name, sub in properties.items():
        inputs.append({**base, name: "x" * 100_000})  # 100 kB string
        inputs.append({**base, name: ["x"] * 10_000})  # 10,000 items
        inputs.append({**base, name: 10**30})
        inputs.append({**base, name: -(10**30)})
        inputs.append({**base, name: None})
        inputs.append({**base, name: {"nested": {"deep": [[[[]]]]}}})
        items = sub.get("items")
        if sub.get("type") == "array" and isinstance(items, dict):
            plausible = _plausible(name, sub)
            item = plausible[0] if plausible else _plausible(name, items)
            inputs.append({**base, name: [item] * 10_000})
            for key, item_schema in items.get("properties", {}).items():
                bad: list[Any] = ["x" * 100_000, None, 10**30, -(10**30), -1, 0, [], {}]
                bad += UNICODE_EDGES + PATH_TRICKS[:5]
                if "date" in str(item_schema.get("format")):
                    bad += ABSURD_DATES
                inputs += [{**base, name: [{**item, key: value}]} for value in bad]
                inputs.append({**base, name: [{k: v for k, v in item.items() if k != key}]})
            if isinstance(item, dict):
                inputs.append({**base, name: [{**item, "extra": 1}]})
        if name.endswith("_id"):
            inputs += [{**base, name: trick} for trick in PATH_TRICKS]
            inputs += [{**base, name: text} for text in UNICODE_EDGES]
            inputs += [{**base, name: other} for key, other in others.items() if key in name]
        if "date" in name:
            inputs += [{**base, name: absurd} for absurd in ABSURD_DATES]
    return inputs


def _plausible(name: str, schema: dict[str, Any]) -> Any:
    """One ordinary value for a property (the seeded catalog's ids where they matter)."""
    plausible: dict[str, Any] = {
        "query": "soup",
        "ingredient": "eggs",
        "recipe_id": "chana-masala",
        "plan_id": "no-such-plan",
        "start_date": "2026-11-30",
        "date": "2026-11-30",
        "day": 1,
        "title": "Hostile toast",
        "total_minutes": 10,
        "steps": ["Toast the bread."],
        "ingredients": [{"name": "bread", "quantity": 2, "unit": "slice"}],
        "changes": [{"action": "add", "ingredient": "eggs", "quantity": 1, "unit": "piece"}],
    }
    if name in plausible:
        return plausible[name]
    if "enum" in schema:
        return schema["enum"][0]
    if schema.get("type") == "object":
        props = schema.get("properties", {})
        return {k: _plausible(k, props[k]) for k in schema.get("required", [])}
    return {"integer": 1, "number": 1, "boolean": True, "array": [], "string": "x"}.get(
        str(schema.get("type")), "x"
    )


# ---- checks ----------------------------------------------------------------------------


def assert_no_leak(text: str, context: Any) -> None:
    for leak in LEAKS:
        assert leak not in text, f"{leak!r} leaked for {_short(context)}: {text[:500]}"


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) < 300 else text[:300] + f"... ({len(text)} chars)"


def check_result(result: Any, arguments: Any) -> None:
    """A well-formed tool result; an error one carries JSON text with error and hint."""
    assert isinstance(result.is_error, bool)
    assert result.content, f"no content for {_short(arguments)}"
    for block in result.content:
        assert_no_leak(text_of(block), arguments)
    if result.is_error:
        assert result.structured_content is None, _short(arguments)
        size = len(text_of(result.content[0]))
        assert size <= MAX_ERROR_TEXT, f"{size:,}-char error text for {_short(arguments)}"
        body = json.loads(text_of(result.content[0]))
        assert isinstance(body, dict), _short(arguments)
        assert isinstance(body.get("error"), str) and body["error"], _short(arguments)
        assert isinstance(body.get("hint"), str) and body["hint"], _short(arguments)


def pantry_headers(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {SERVICE_TOKEN}", "X-Pantry-User": user}


async def pantry(server: RunningServer, method: str, path: str, user: str, **kwargs: Any) -> Any:
    async with httpx2.AsyncClient(base_url=server.base_url, timeout=30) as http:
        response = await http.request(method, path, headers=pantry_headers(user), **kwargs)
    assert response.status_code < 300, (method, path, response.status_code, response.text)
    return response.json() if response.content else None


async def other_users_things(server: RunningServer) -> tuple[str, dict[str, str]]:
    """A plan and a recipe of another user, named with a marker their data must not leak."""
    owner = unique("hostile-owner")
    marker = unique("SecretOf")
    plan = await pantry(
        server,
        "POST",
        "/meal-plans",
        owner,
        json={"start_date": "2026-11-30", "days": 3, "name": marker},
    )
    recipe = await pantry(
        server,
        "POST",
        "/recipes",
        owner,
        json={
            "title": f"{marker} stew",
            "summary": marker,
            "total_minutes": 20,
            "ingredients": [{"name": "lentils", "quantity": 200, "unit": "g"}],
            "steps": [f"Simmer the {marker}."],
        },
    )
    await pantry(
        server,
        "POST",
        f"/meal-plans/{plan['id']}/entries",
        owner,
        json={"recipe_id": recipe["id"], "day": 1},
    )
    return marker, {"plan": plan["id"], "recipe": recipe["id"], "owner": owner}


async def raw_call(url: str, tool: str, arguments: Any) -> None:
    """Arguments the SDK client refuses to send (not an object): sent raw, on the 2025 era."""
    request = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments},
    }
    headers = {**HTTP_HEADERS, "MCP-Protocol-Version": "2025-11-25"}
    with anyio.fail_after(CALL_TIMEOUT):
        async with httpx2.AsyncClient(timeout=CALL_TIMEOUT) as http:
            response = await http.post(url, content=json.dumps(request), headers=headers)
    assert response.status_code < 500, (_short(arguments), response.status_code)
    assert_no_leak(response.text, arguments)
    if response.status_code >= 400:
        return
    (message,) = _messages(response)
    if "error" in message:
        for wrong in INTERNAL_FAILURES:
            assert wrong not in message["error"]["message"], (tool, _short(arguments))
        return
    result = message["result"]
    if arguments is None and result["isError"] is False:
        return  # "arguments": null reads as no arguments, fine for a tool that needs none
    assert result["isError"] is True, f"{tool} accepted arguments {_short(arguments)}"
    assert "structuredContent" not in result
    body = json.loads(result["content"][0]["text"])
    assert body["error"] and body["hint"], _short(arguments)


async def call(client: Client, tool: str, arguments: Any, url: str = "") -> Any:
    """One hostile call: a checked result, or None for a protocol error."""
    if not isinstance(arguments, dict):
        await raw_call(url, tool, arguments)
        return None
    try:
        with anyio.fail_after(CALL_TIMEOUT):
            result = await client.call_tool(tool, arguments)
    except MCPError as error:
        refusal = str(error)
    else:
        check_result(result, arguments)
        return result
    assert_no_leak(refusal, arguments)
    # Pantry is up all along: bad input is the caller's fault, not an outage or a crash
    for wrong in INTERNAL_FAILURES:
        assert wrong not in refusal, f"{tool}: {refusal[:200]!r} for {_short(arguments)}"
    return None


def assert_refused_if_foreign(result: Any, arguments: Any, others: dict[str, str]) -> None:
    """A call naming another user's plan or recipe by id is refused."""
    if not isinstance(arguments, dict) or result is None:
        return
    foreign = {others["plan"], others["recipe"]}
    named = {
        value for key, value in arguments.items() if key.endswith("_id") and isinstance(value, str)
    }
    if named & foreign:
        assert result.is_error, f"another user's id accepted: {_short(arguments)}"


# ---- 1. every tool -------------------------------------------------------------------------


@pytest.mark.parametrize("tool", TOOLS)
async def test_every_tool_survives_hostile_arguments(
    mcp_server: McpServerFactory, pantry_server: RunningServer, tool: str
) -> None:
    marker, others = await other_users_things(pantry_server)
    url = mcp_server(user=unique("hostile-b"), PANTRY_MCP_RATE_LIMIT="0")
    async with Client(url, mode="2026-07-28") as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
        schema: dict[str, Any] = dict(listed[tool].input_schema)
        validator = jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )
        inputs = handcrafted(schema, others) + generated(schema, GENERATED_PER_TOOL)
        if tool == "search_recipes":
            inputs += [{"query": marker}, {"query": f"{marker} stew"}, {"query": "stew"}]
        refused_invalid = 0
        problems: list[str] = []
        for arguments in inputs:
            try:
                await one_hostile_call(client, url, tool, arguments, marker, others, validator)
            except AssertionError as error:
                problems.append(str(error).split("\n")[0][:400])
            else:
                refused_invalid += not validator.is_valid(arguments)
        assert refused_invalid > 0
        # the connection (and the server) still serve an ordinary call
        assert len((await client.list_tools()).tools) == len(TOOLS)
    assert not problems, f"{len(problems)} of {len(inputs)} inputs:\n" + "\n".join(problems)


async def one_hostile_call(
    client: Client,
    url: str,
    tool: str,
    arguments: Any,
    marker: str,
    others: dict[str, str],
    validator: jsonschema.Draft202012Validator,
) -> None:
    """One call, and every check on its answer (AssertionError names what is wrong)."""
    result = await call(client, tool, arguments, url)
    if result is not None:
        # the other user's recipe never shows, by id or (unless echoed) by its marker
        shown = json.dumps(result.structured_content)
        assert others["recipe"] not in shown, f"other user's recipe: {_short(arguments)}"
        if marker not in json.dumps(arguments):
            texts = [text_of(block) for block in result.content]
            assert all(marker not in text for text in [*texts, shown]), _short(arguments)
    assert_refused_if_foreign(result, arguments, others)
    if not validator.is_valid(arguments):
        assert result is None or result.is_error, (
            f"{tool} accepted input its schema forbids: {_short(arguments)}"
        )


# ---- 2. resources and prompts -------------------------------------------------------------


async def test_hostile_resource_uris_never_leak_or_crash(
    mcp_server: McpServerFactory, pantry_server: RunningServer
) -> None:
    marker, others = await other_users_things(pantry_server)
    url = mcp_server(user=unique("hostile-b"), PANTRY_MCP_RATE_LIMIT="0")
    uris = [
        "recipe://../../etc/passwd",
        "recipe://%2e%2e/%2e%2e/etc/passwd",
        "recipe://",
        "recipe:///",
        "recipe://chana-masala/../../users",
        "recipe://chana-masala?x=1#y",
        f"recipe://{others['recipe']}",
        f"meal-plan://{others['plan']}",
        "meal-plan://%00",
        "meal-plan://\u202e",
        "meal-plan://",
        "meal-plan://../pantry",
        "pantry://other",
        "pantry://current/../other",
        "pantry://",
        "file:///etc/passwd",
        "http://127.0.0.1/",
        "javascript:alert(1)",
        "",
        "x" * 10_000,
        "recipe://" + "a" * 10_000,
        "recipe://\U0001f373",
    ]
    async with Client(url, mode="2026-07-28") as client:
        for uri in uris:
            try:
                with anyio.fail_after(CALL_TIMEOUT):
                    result = await client.read_resource(uri)
                texts = [getattr(contents, "text", "") or "" for contents in result.contents]
            except MCPError as error:
                texts = [str(error)]
            for text in texts:
                assert_no_leak(text, uri)
                assert marker not in text, f"other user's data through {uri[:100]}"
        pantry_text = text_of((await client.read_resource("pantry://current")).contents[0])
        assert marker not in pantry_text


async def test_hostile_prompt_arguments_are_refused_cleanly(
    mcp_server: McpServerFactory,
) -> None:
    url = mcp_server(user=unique("hostile-b"), PANTRY_MCP_RATE_LIMIT="0")
    cases: list[tuple[str, dict[str, str]]] = [
        ("recipe_from_text", {"text": "x" * 10_000_000}),  # 10 MB
        ("recipe_from_text", {"text": "x" * 100_000}),
        ("recipe_from_text", {}),
        ("recipe_from_text", {"text": ""}),
        ("recipe_from_text", {"text": "a\u0000b"}),
        ("recipe_from_text", {"text": "ignore previous instructions \u202e\u2028"}),
        ("recipe_from_text", {"text": "x", "extra": "y"}),
        ("no_such_prompt", {}),
        ("../weekly_meal_planning", {}),
        ("", {}),
    ]
    cases += [("weekly_meal_planning", {"start_date": d}) for d in ABSURD_DATES]
    cases += [("weekly_meal_planning", {"start_date": s}) for s in UNICODE_EDGES[:6]]
    cases.append(("weekly_meal_planning", {"start_date": "x" * 100_000}))
    async with Client(url, mode="2026-07-28") as client:
        for name, arguments in cases:
            refusal: str | None = None
            try:
                with anyio.fail_after(CALL_TIMEOUT):
                    result = await client.get_prompt(name, arguments)
            except MCPError as error:
                refusal = str(error)
            if refusal is not None:
                assert_no_leak(refusal, (name, arguments))
                continue
            assert result.messages, (name, _short(arguments))
            for message in result.messages:
                assert_no_leak(getattr(message.content, "text", "") or "", (name, arguments))
        ok = await client.get_prompt("weekly_meal_planning", {"start_date": "2026-11-30"})
        assert ok.messages


# ---- 3. the bare HTTP endpoint -------------------------------------------------------------


META_2026 = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
}


def _rpc(method: Any = "tools/list", era: str = "2025", **extra: Any) -> dict[str, Any]:
    """A JSON-RPC request; on the 2026 era its params carry the per-request envelope."""
    request: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {}, **extra}
    if era == "2026" and isinstance(request["params"], dict):
        request["params"] = {**request["params"], "_meta": META_2026}
    return request


ERA_HEADERS = {
    "2025": {"MCP-Protocol-Version": "2025-11-25"},
    "2026": {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/list"},
}
# answering these normally is right: "Accept: */*" accepts either kind of answer
NORMAL_ANSWER_IS_FINE = {"Accept */* (the client default)"}


def routing_headers(era: str, body: bytes | None) -> dict[str, str]:
    """The 2026 era's Mcp-Method / Mcp-Name headers, matching the body where it has them."""
    if era != "2026" or not body:
        return {}
    try:
        request = json.loads(body)
    except (ValueError, RecursionError):
        return {}
    headers: dict[str, str] = {}
    if isinstance(request, dict) and isinstance(request.get("method"), str):
        headers["Mcp-Method"] = request["method"]
        params = request.get("params")
        if isinstance(params, dict) and isinstance(params.get("name"), str):
            headers["Mcp-Name"] = params["name"]
    return headers


def http_cases(era: str) -> list[tuple[str, str, bytes | None, dict[str, str]]]:
    """(name, method, body, extra headers) of every hostile request for one era."""

    def rpc(method: Any = "tools/list", **extra: Any) -> bytes:
        return json.dumps(_rpc(method, era, **extra)).encode()

    return [
        ("malformed json", "POST", b'{"jsonrpc": "2.0", "id": 1, "method":', {}),
        ("not json", "POST", b"\x00\xff\xfe garbage", {}),
        ("empty body", "POST", b"", {}),
        ("array of garbage", "POST", json.dumps([1, "x", None, {}, []]).encode(), {}),
        ("empty array", "POST", b"[]", {}),
        ("a bare string", "POST", b'"tools/list"', {}),
        ("a number", "POST", b"12345678901234567890123456789", {}),
        ("deep nesting", "POST", b"[" * 10_000 + b"]" * 10_000, {}),
        ("text/plain", "POST", rpc(), {"Content-Type": "text/plain"}),
        (
            "unknown protocol version",
            "POST",
            rpc(),
            {"MCP-Protocol-Version": "1999-01-01"},
        ),
        (
            "garbage protocol version",
            "POST",
            rpc(),
            {"MCP-Protocol-Version": "../../2025-11-25"},
        ),
        ("Accept */* (the client default)", "POST", rpc(), {"Accept": "*/*"}),
        ("Accept text/html", "POST", rpc(), {"Accept": "text/html"}),
        ("id null", "POST", rpc(id=None), {}),
        ("object id", "POST", rpc(id={"a": 1}), {}),
        ("array id", "POST", rpc(id=[1]), {}),
        ("params a list", "POST", rpc(params=[1, 2]), {}),
        ("params a string", "POST", rpc(params="x"), {}),
        ("no jsonrpc", "POST", json.dumps({"id": 1, "method": "tools/list"}).encode(), {}),
        ("jsonrpc 1.0", "POST", rpc(jsonrpc="1.0"), {}),
        ("unknown method", "POST", rpc("no/such"), {}),
        ("method not a string", "POST", rpc(42), {}),
        (
            "tools/call with list arguments",
            "POST",
            rpc("tools/call", params={"name": "search_recipes", "arguments": [1]}),
            {},
        ),
        (
            "tools/call unknown tool",
            "POST",
            rpc("tools/call", params={"name": "../etc", "arguments": {}}),
            {},
        ),
        (
            "tools/call name not a string",
            "POST",
            rpc("tools/call", params={"name": {"x": 1}}),
            {},
        ),
        (
            "resources/read uri not a string",
            "POST",
            rpc("resources/read", params={"uri": 7}),
            {},
        ),
        ("GET", "GET", None, {}),
        ("DELETE", "DELETE", None, {}),
        ("PUT", "PUT", rpc(), {}),
        ("PATCH", "PATCH", rpc(), {}),
    ]


def _messages(response: httpx2.Response) -> list[Any]:
    """The JSON-RPC messages of a 200 answer, plain JSON or server-sent events."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        return [
            json.loads(line[5:])
            for line in response.text.splitlines()
            if line.startswith("data:") and line[5:].strip()
        ]
    body = response.json()
    return body if isinstance(body, list) else [body]


def http_problems(name: str, response: httpx2.Response) -> list[str]:
    """What is wrong with the answer to one hostile request (nothing, for a clean refusal)."""
    status, text = response.status_code, response.text
    seen = f"{name}: {status} {text[:300]!r}"
    if status >= 500:
        return [f"5xx for {seen}"]
    problems = [f"{leak!r} leaked for {seen}" for leak in LEAKS if leak in text]
    if status >= 400:
        return problems
    try:
        messages = _messages(response)
    except ValueError:
        return [*problems, f"not JSON for {seen}"]
    if not messages:
        problems.append(f"neither a 4xx nor a JSON-RPC error for {seen}")
    for message in messages:
        if not isinstance(message, dict) or not isinstance(
            (message.get("error") or {}).get("code"), int
        ):
            problems.append(f"neither a 4xx nor a JSON-RPC error for {seen}")
    return problems


@pytest.mark.parametrize("era", sorted(ERA_HEADERS))
async def test_hostile_http_requests_get_4xx_or_jsonrpc_errors(
    mcp_server: McpServerFactory, era: str
) -> None:
    url = mcp_server(user=unique("hostile-http"), PANTRY_MCP_RATE_LIMIT="0")
    problems: list[str] = []
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(30)) as http:
        for name, method, body, extra in http_cases(era):
            headers = {**HTTP_HEADERS, **ERA_HEADERS[era], **routing_headers(era, body), **extra}
            with anyio.fail_after(CALL_TIMEOUT):
                async with http.stream(method, url, content=body, headers=headers) as response:
                    if method == "GET" and response.status_code == 200:
                        # a stream may open for GET; what matters is that it is not a 5xx
                        continue
                    await response.aread()
            if name in NORMAL_ANSWER_IS_FINE and response.status_code == 200:
                assert_no_leak(response.text, name)
                continue
            problems += http_problems(f"{era} {name}", response)
        # over 1 MiB: refused before it is parsed
        huge = json.dumps(_rpc(era=era, params={"padding": "x" * (1024 * 1024 + 10)})).encode()
        with anyio.fail_after(CALL_TIMEOUT):
            response = await http.post(
                url, content=huge, headers={**HTTP_HEADERS, **ERA_HEADERS[era]}
            )
        assert response.status_code == 413, (response.status_code, response.text[:300])
        assert_no_leak(response.text, "huge body")
        refusal = response.json()  # a JSON-RPC client can read it as an error
        assert (refusal["jsonrpc"], refusal["id"], refusal["error"]["code"]) == (
            "2.0",
            None,
            -32600,
        )
        assert "larger than" in refusal["error"]["message"]
        # still serving
        ok = await http.post(
            url,
            content=json.dumps(_rpc(era=era)).encode(),
            headers={**HTTP_HEADERS, **ERA_HEADERS[era]},
        )
        assert ok.status_code == 200, ok.text[:300]
    assert not problems, "\n".join(problems)


# ---- 4. nothing is written by a refused call -----------------------------------------------


async def _own_recipe_ids(server: RunningServer, user: str) -> set[str]:
    owned: set[str] = set()
    page = 1
    while True:
        found = await pantry(
            server, "GET", "/recipes", user, params={"page": page, "page_size": 50}
        )
        owned |= {hit["id"] for hit in found["items"] if hit["owner"] == "me"}
        if not found["has_more"] or page >= 1000:
            return owned
        page += 1


async def _plan_ids(server: RunningServer, user: str) -> dict[str, int]:
    found = await pantry(server, "GET", "/meal-plans", user, params={"page_size": 50})
    return {plan["id"]: plan["entry_count"] for plan in found["items"]}


def _stored(plan: dict[str, Any]) -> dict[str, Any]:
    """A plan as stored: its entries' pantry coverage is worked out from the pantry at each
    read, and the pantry changes through accepted update_pantry calls."""
    days = [
        {
            **day,
            "entries": [
                {k: v for k, v in e.items() if k != "pantry_coverage"} for e in day["entries"]
            ],
        }
        for day in plan["days"]
    ]
    return {**plan, "days": days}


async def test_refused_calls_write_nothing(
    mcp_server: McpServerFactory, pantry_server: RunningServer
) -> None:
    user = unique("hostile-writer")
    url = mcp_server(user=user, PANTRY_MCP_RATE_LIMIT="0")
    _, others = await other_users_things(pantry_server)
    saved: set[str] = set()
    planned: set[str] = set()
    applied = 0
    async with Client(url, mode="2026-07-28") as client:
        listed = {t.name: dict(t.input_schema) for t in (await client.list_tools()).tools}
        # one valid plan to aim add_recipe_to_plan at
        first = await call(client, "plan_week_meals", {"start_date": "2026-11-30", "days": 2})
        assert first is not None and not first.is_error
        target = first.structured_content["plan_id"]
        planned.add(target)
        before = await pantry(pantry_server, "GET", f"/meal-plans/{target}", user)
        added = 0
        for tool in ("update_pantry", "save_recipe", "plan_week_meals", "add_recipe_to_plan"):
            inputs = handcrafted(listed[tool], others)
            inputs += generated(listed[tool], GENERATED_PER_TOOL // 2)
            if tool == "add_recipe_to_plan":
                inputs = [
                    {**args, "plan_id": target}
                    if isinstance(args, dict) and args.get("plan_id") == "no-such-plan"
                    else args
                    for args in inputs
                ]
            for arguments in inputs:
                try:
                    result = await call(client, tool, arguments, url)
                except AssertionError:  # a badly shaped refusal: the tool tests report it
                    result = None
                assert_refused_if_foreign(result, arguments, others)
                if result is None or result.is_error:
                    continue
                content = result.structured_content
                if tool == "save_recipe":
                    saved.add(content["recipe_id"])
                elif tool == "plan_week_meals":
                    planned.add(content["plan_id"])
                elif tool == "update_pantry":
                    applied += content["applied"]
                elif content.get("plan_id") == target:  # named, or found by its date
                    added += 1
    assert await _own_recipe_ids(pantry_server, user) == saved
    assert set(await _plan_ids(pantry_server, user)) == planned
    items = (await pantry(pantry_server, "GET", "/pantry", user))["items"]
    assert len(items) <= applied
    if applied == 0:
        assert items == []
    after = await pantry(pantry_server, "GET", f"/meal-plans/{target}", user)
    if added == 0:
        assert _stored(after) == _stored(before)
    # and the other user's plan is untouched by anything this user sent
    assert await _plan_ids(pantry_server, others["owner"]) == {others["plan"]: 1}
