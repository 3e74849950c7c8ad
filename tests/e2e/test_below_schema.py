"""Hostile input below the schema: what JSON allows but Unicode and numbers do not.

To jsonschema a lone surrogate escape is "a string" and NaN is "a number", so schema-driven
fuzzing never sends them. These bodies are written as raw JSON text: every MCP method on
both eras, with each of these values in each place a client controls (tool arguments,
resource URIs, prompt and completion arguments, ``_meta``, object keys, the id and the
method), plus bodies that are not UTF-8 or start with a byte-order mark, and headers with
bytes no header should hold. The answer is always a JSON-RPC error other than -32603 or a
4xx, never a 5xx; a refusal below the schema is -32602 naming the place; and nothing is
written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client

from tests.e2e.conftest import McpServerFactory
from tests.support import SERVICE_TOKEN, RunningServer, text_of, unique

pytestmark = pytest.mark.anyio
LEAKS = ("Traceback", 'File "', "pydantic", "sqlalchemy", "httpx", "jiter")
INTERNAL = -32603
INVALID_PARAMS = -32602
TIMEOUT = 30.0
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
ENVELOPE_2026 = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
}

# Raw JSON texts: (name, text, refused below the schema wherever it stands)
STRINGS = [
    ("lone high surrogate", '"\\ud800"', True),
    ("lone low surrogate inside text", '"a\\udfffb"', True),
    ("surrogates in the wrong order", '"\\udc00\\ud800"', True),
    ("NUL character", '"so\\u0000up"', True),
]
NUMBERS = [
    ("NaN", "NaN", True),
    ("Infinity", "Infinity", True),
    ("-Infinity", "-Infinity", True),
    ("1e400", "1e400", True),
    ("-1e400", "-1e400", True),
    ("-0", "-0", False),
    ("-0.0", "-0.0", False),
    ("2^63", str(2**63), False),
    ("-2^63-1", str(-(2**63) - 1), False),
    ("10^400", "1" + "0" * 400, False),
]
NESTED = [
    ("deep array", "[" * 200 + "]" * 200, True),
    ("deep object", '{"a":' * 200 + "1" + "}" * 200, True),
]
VALUES = STRINGS + NUMBERS + NESTED


@dataclass(frozen=True)
class Case:
    name: str
    body: bytes
    method: str
    tool: str | None = None
    below: bool = False  # must be refused with -32602 naming ``where``
    where: str = ""
    headers: tuple[tuple[str, bytes], ...] = ()


def envelope(method: str, params_text: str, era: str, request_id: str = "7") -> bytes:
    """A request whose params are the raw JSON text given (with the 2026 envelope added)."""
    if era == "2026":
        fields = json.dumps(ENVELOPE_2026)[1:-1]
        if params_text.startswith('{"_meta":{'):  # the case's own _meta: the envelope joins it
            params_text = params_text.replace('{"_meta":{', '{"_meta":{' + fields + ",", 1)
        else:
            params_text = params_text.replace("{", '{"_meta":{' + fields + "},", 1)
    text = f'{{"jsonrpc":"2.0","id":{request_id},"method":"{method}","params":{params_text}}}'
    return text.encode()


def raw(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def tool_cases(tools: dict[str, dict[str, Any]], era: str) -> Iterator[Case]:
    def call(tool: str, name: str, arguments: str, below: bool, where: str) -> Case:
        params = f'{{"name":{raw(tool)},"arguments":{arguments}}}'
        body = envelope("tools/call", params, era)
        return Case(name, body, "tools/call", tool, below, f"params.arguments{where}")

    for tool, schema in tools.items():
        properties: dict[str, Any] = schema.get("properties", {})
        for name in properties:
            for label, text, below in VALUES:
                arguments = f'{{"{name}":{text}}}'
                yield call(tool, f"{tool}.{name} = {label}", arguments, below, f".{name}")
            # an item of an array of objects (changes, ingredients)
            items = properties[name].get("items", {})
            for field in items.get("properties", {}) if isinstance(items, dict) else {}:
                for label, text, below in VALUES:
                    arguments = f'{{"{name}":[{{"{field}":{text}}}]}}'
                    label = f"{tool}.{name}[0].{field} = {label}"
                    yield call(tool, label, arguments, below, f".{name}.0.{field}")
        first = next(iter(properties), "x")
        twice = f'{{"{first}":"a","{first}":"b"}}'
        yield call(tool, f"{tool}: {first} twice", twice, True, "")
        yield call(tool, f"{tool}: a surrogate key", '{"\\ud800":1}', True, "")


def method_cases(era: str) -> Iterator[Case]:
    """Every other method, with each value where the client controls one."""
    places = {
        "resources/read": ('{{"uri":{v}}}', "params.uri"),
        "prompts/get": (
            '{{"name":"recipe_from_text","arguments":{{"text":{v}}}}}',
            "params.arguments.text",
        ),
        "completion/complete": (
            '{{"ref":{{"type":"ref/resource","uri":"recipe://{{recipe_id}}"}},'
            '"argument":{{"name":"recipe_id","value":{v}}}}}',
            "params.argument.value",
        ),
        "tools/list": ('{{"cursor":{v}}}', "params.cursor"),
        "resources/list": ('{{"cursor":{v}}}', "params.cursor"),
        "resources/templates/list": ('{{"cursor":{v}}}', "params.cursor"),
        "prompts/list": ('{{"cursor":{v}}}', "params.cursor"),
        "ping": ('{{"_meta":{{"x":{v}}}}}', "params._meta.x"),
        "logging/setLevel": ('{{"level":{v}}}', "params.level"),
    }
    if era == "2025":
        places["initialize"] = (
            '{{"protocolVersion":"2025-11-25","capabilities":{{}},'
            '"clientInfo":{{"name":{v},"version":"1"}}}}',
            "params.clientInfo.name",
        )
    else:
        places["server/discover"] = ('{{"x":{v}}}', "params.x")
    for method, (template, where) in places.items():
        for label, text, below in VALUES:
            params = template.format(v=text)
            yield Case(
                f"{method} {where} = {label}",
                envelope(method, params, era),
                method,
                None,
                below,
                where,
            )
        yield Case(
            f"{method}: a surrogate key",
            envelope(method, '{"\\udc00":1}', era),
            method,
            None,
            True,
            "params",
        )
        yield Case(
            f"{method}: _meta value a surrogate",
            envelope(method, '{"_meta":{"trace":"\\ud800"}}', era),
            method,
            None,
            True,
            "params._meta",
        )


def envelope_cases(era: str) -> Iterator[Case]:
    """The envelope itself and the bytes of the body."""
    good = envelope("tools/list", "{}", era)
    yield Case("id a lone surrogate", envelope("tools/list", "{}", era, '"\\ud800"'), "tools/list")
    yield Case("id NaN", envelope("tools/list", "{}", era, "NaN"), "tools/list")
    yield Case("id 1e400", envelope("tools/list", "{}", era, "1e400"), "tools/list")
    yield Case("id 2^70", envelope("tools/list", "{}", era, str(2**70)), "tools/list")
    yield Case("id -0", envelope("tools/list", "{}", era, "-0"), "tools/list")
    yield Case("method with a surrogate", good.replace(b"tools/list", b"tools/\\ud800"), "x")
    yield Case(
        "jsonrpc twice", good.replace(b'"jsonrpc":"2.0"', b'"jsonrpc":"2.0","jsonrpc":"1.0"'), "x"
    )
    yield Case("id twice", good.replace(b'"id":7', b'"id":7,"id":8'), "tools/list")
    yield Case("byte-order mark", b"\xef\xbb\xbf" + good, "tools/list")
    yield Case("two byte-order marks", b"\xef\xbb\xbf\xef\xbb\xbf" + good, "tools/list")
    yield Case("UTF-16 body", good.decode().encode("utf-16"), "tools/list")
    yield Case("invalid UTF-8 in a string", good.replace(b"{}", b'{"cursor":"\xff\xfe"}'), "x")
    yield Case(
        "an encoded surrogate (CESU-8)", good.replace(b"{}", b'{"cursor":"\xed\xa0\x80"}'), "x"
    )
    yield Case("a raw NUL byte", good.replace(b"{}", b'{"cursor":"a\x00b"}'), "x")
    yield Case("deep nesting past the parser", b"[" * 100_000 + b"]" * 100_000, "x")
    for header in ("Mcp-Protocol-Version", "Mcp-Method", "Mcp-Name", "Mcp-Session-Id", "Origin"):
        yield Case(
            f"{header} holding an encoded surrogate",
            good,
            "tools/list",
            headers=((header, b"\xed\xa0\x80"),),
        )


def get_cases() -> Iterator[tuple[str, dict[str, bytes]]]:
    for value in (b"\xe9\xff", b"\xed\xa0\x80", b"abc", b"1", b"a b"):
        yield f"GET Last-Event-ID {value!r}", {"Last-Event-ID": value}


def routing(era: str, case: Case) -> dict[str, str]:
    if era != "2026":
        return {"MCP-Protocol-Version": "2025-11-25"}
    headers = {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": case.method}
    if case.tool:
        headers["Mcp-Name"] = case.tool
    return headers


async def send(http: httpx2.AsyncClient, url: str, era: str, case: Case) -> list[str]:
    """One hostile request; what is wrong with its answer (nothing, for a clean refusal)."""
    headers = {k.encode(): v.encode() for k, v in {**HEADERS, **routing(era, case)}.items()}
    headers.update({k.encode(): v for k, v in case.headers})
    with anyio.fail_after(TIMEOUT):
        response = await http.post(url, content=case.body, headers=headers)
    seen = f"{era} {case.name}: {response.status_code} {response.text[:240]!r}"
    if response.status_code >= 500:
        return [f"5xx for {seen}"]
    problems = [f"{leak!r} leaked for {seen}" for leak in LEAKS if leak in response.text]
    try:
        answer = response.json()
    except ValueError:
        return [*problems, f"not JSON for {seen}"] if response.status_code < 400 else problems
    error = answer.get("error") if isinstance(answer, dict) else None
    if isinstance(error, dict):
        if error.get("code") == INTERNAL:
            problems.append(f"-32603 for {seen}")
        named = error.get("code") == INVALID_PARAMS and case.where in error.get("message", "")
        if case.below and answer.get("id") is not None and not named:
            problems.append(f"not a -32602 naming {case.where} for {seen}")
    elif case.below:
        problems.append(f"accepted below the schema: {seen}")
    elif response.status_code < 400 and isinstance(answer, dict):
        result = answer.get("result") or {}
        if result.get("isError") is True:
            body = json.loads(result["content"][0]["text"])
            if "failed unexpectedly" in body.get("error", ""):
                problems.append(f"a crash as a tool error for {seen}")
    return problems


async def holdings(server: RunningServer, user: str) -> dict[str, Any]:
    """What the user owns in Pantry: it must not change."""
    headers = {"Authorization": f"Bearer {SERVICE_TOKEN}", "X-Pantry-User": user}
    async with httpx2.AsyncClient(base_url=server.base_url, headers=headers) as http:
        pantry = (await http.get("/pantry")).json()["items"]
        plans = (await http.get("/meal-plans")).json()["items"]
        mine = (await http.get("/recipes", params={"page_size": 50})).json()["items"]
        preferences = (await http.get("/users/me/preferences")).json()
    return {
        "pantry": pantry,
        "plans": plans,
        "recipes": [r["id"] for r in mine if r["owner"] == "me"],
        "preferences": preferences,
    }


@pytest.mark.parametrize("era", ["2025", "2026"])
async def test_every_method_refuses_what_json_allows_below_the_schema(
    mcp_server: McpServerFactory, pantry_server: RunningServer, era: str
) -> None:
    user = unique("below-schema")
    url = mcp_server(user=user, PANTRY_MCP_RATE_LIMIT="0")
    async with Client(url, mode="2026-07-28") as client:
        tools = {t.name: dict(t.input_schema) for t in (await client.list_tools()).tools}
    before = await holdings(pantry_server, user)
    cases = [*tool_cases(tools, era), *method_cases(era), *envelope_cases(era)]
    problems: list[str] = []
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(TIMEOUT)) as http:
        for case in cases:
            problems += await send(http, url, era, case)
        for name, headers in get_cases():
            with anyio.fail_after(TIMEOUT):
                plain = {"Accept": "text/event-stream", **routing(era, Case("", b"", "x"))}
                sent = {k.encode(): v.encode() for k, v in plain.items()}
                sent.update({k.encode(): v for k, v in headers.items()})
                async with http.stream("GET", url, headers=sent) as answer:
                    if answer.status_code >= 500:
                        problems.append(f"5xx for {era} {name}")
    assert not problems, f"{len(problems)} of {len(cases)} requests:\n" + "\n".join(problems[:60])
    assert await holdings(pantry_server, user) == before  # nothing was written
    async with Client(url, mode="2026-07-28") as client:  # and it still serves
        found = await client.call_tool("search_recipes", {"query": "soup"})
        assert not found.is_error, text_of(found.content[0])
