"""Hostile input below the schema: what JSON allows but Unicode, numbers or the stores do not.

Operations come from the running service's ``/openapi.json``, so a new endpoint is covered
without touching this file. Hostile values go into every field of every body (nested ones
and array items included), every object's keys, the raw bytes of the body, every query
and path parameter, and the headers. Every answer must be a 4xx in Pantry's error shape,
naming the field where it can, with no library text; and the acting user's pantry, plans,
recipes, ratings and preferences must be as they were.

Most kinds run on SQLite; NUL characters and integers beyond 32 or 64 bits, where the two
engines differ (PostgreSQL text cannot hold a NUL; the drivers overflow differently), run
on both.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import anyio
import httpx2
import pytest

from tests.pantry_api.conftest import Api, ClientFactory
from tests.support import unique

pytestmark = pytest.mark.anyio

JSON = dict[str, Any]
Location = tuple[str | int, ...]
REFUSED = {400, 404, 405, 413, 415, 422}
# Words that only reach an answer when a library's own message or a traceback leaks.
LEAKS = (
    "Traceback",
    'File "',
    "sqlalchemy",
    "sqlite3",
    "asyncpg",
    "pydantic",
    "Invalid JSON",
    "RecursionError",
    "UnicodeDecodeError",
    "JSONDecodeError",
    "Expecting value",
    "line 1 column",
    "Exception",
)
BOTH_ENGINES = ("nul", "big-int")  # PostgreSQL and SQLite differ here
SQLITE_ONLY = (
    "surrogate",
    "non-finite",
    "negative-zero",
    "loose-number",
    "duplicate-key",
    "deep",
    "bom",
    "invalid-utf8",
    "non-ascii-header",
)
DEEP = 10_000
WORLD_IDS = ("recipe_id", "plan_id", "entry_id", "item_key", "ingredient_id")


@dataclass(frozen=True)
class Raw:
    """JSON text put into a body as it is (json.dumps cannot write 1e400 or -0)."""

    text: str


@dataclass(frozen=True)
class Case:
    kind: str
    method: str
    url: str
    content: bytes | None = None
    headers: dict[str, str | bytes] = field(default_factory=dict)
    status: int | None = None  # the exact status expected, when the kind has one
    field: str | None = None  # the field the error must name (or a field within it)
    place: str = ""  # body, query, path or header
    operation: str = ""  # "METHOD /path/{template}"


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: JSON

    def parameters(self, where: str) -> list[JSON]:
        return [p for p in self.spec.get("parameters", []) if p["in"] == where]

    @property
    def body_schema(self) -> JSON | None:
        body = self.spec.get("requestBody")
        return None if body is None else body["content"]["application/json"]["schema"]

    @property
    def idempotent(self) -> bool:
        return any(p["name"] == "Idempotency-Key" for p in self.parameters("header"))


def op_key(key: str, op: Operation) -> str:
    return f"{key}-{op.method}-{op.path}"


def operations(document: JSON) -> list[Operation]:
    return [
        Operation(method.upper(), path, spec)
        for path, item in document["paths"].items()
        for method, spec in item.items()
    ]


# ---- valid examples from the document, to put hostile values into -------------------------


class Examples:
    """Valid request parts built from the document's schemas, using the world's own ids."""

    def __init__(self, document: JSON, ids: dict[str, str]) -> None:
        self.schemas: dict[str, JSON] = document["components"]["schemas"]
        self.ids = ids

    def resolve(self, schema: JSON) -> JSON:
        while "$ref" in schema:
            schema = self.schemas[schema["$ref"].rsplit("/", 1)[1]]
        return schema

    def value(self, schema: JSON, name: str = "") -> Any:
        schema = self.resolve(schema)
        if "anyOf" in schema:
            branch = next(s for s in schema["anyOf"] if self.resolve(s).get("type") != "null")
            return self.value(branch, name)
        if "enum" in schema:
            return schema["enum"][0]
        kind = schema.get("type")
        if kind == "object":
            properties = schema.get("properties", {})
            return {key: self.value(sub, key) for key, sub in properties.items()}
        if kind == "array":
            return [self.value(schema["items"], name)] if schema.get("maxItems", 1) else []
        if kind in ("integer", "number"):
            return max(1, schema.get("minimum", 1))
        if kind == "boolean":
            return True
        if schema.get("format") == "date":
            return "2026-12-07"
        if "pattern" in schema:  # ids are slugs
            return self.ids.get(name, "thai")
        return "Some text"

    def path(self, op: Operation, **hostile: str) -> str:
        url = op.path
        for parameter in op.parameters("path"):
            name = parameter["name"]
            assert name in self.ids, f"new path parameter {name!r}: give the world one"
            url = url.replace("{" + name + "}", hostile.get(name, self.ids[name]))
        return url


def locations(value: Any, here: Location = ()) -> Iterator[tuple[Location, Any]]:
    """Every place in a JSON value (itself, each member, each item), depth first."""
    yield here, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from locations(item, (*here, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from locations(item, (*here, index))


def replaced(value: Any, where: Location, new: Any) -> Any:
    if not where:
        return new
    head, *rest = where
    if isinstance(value, dict):
        return {k: replaced(v, tuple(rest), new) if k == head else v for k, v in value.items()}
    return [replaced(v, tuple(rest), new) if i == head else v for i, v in enumerate(value)]


def encode(value: Any) -> bytes:
    """JSON text with Raw parts put in verbatim (ASCII escapes keep lone surrogates)."""
    raws: list[str] = []

    def mark(node: Any) -> Any:
        if isinstance(node, Raw):
            raws.append(node.text)
            return f"@@raw{len(raws) - 1}@@"
        if isinstance(node, dict):
            return {key: mark(item) for key, item in node.items()}
        if isinstance(node, list):
            return [mark(item) for item in node]
        return node

    text = json.dumps(mark(value), ensure_ascii=True)
    for index, raw in enumerate(raws):
        text = text.replace(f'"@@raw{index}@@"', raw)
    return text.encode()


def field_name(where: Location) -> str:
    shown = [str(part).encode("utf-8", "backslashreplace").decode() for part in where]
    return ".".join(["body", *shown])


# ---- the hostile values, by kind ---------------------------------------------------------

# (kind, value, where inside the value the problem sits, status)
VALUES: list[tuple[str, Any, Location, int]] = [
    ("surrogate", "\ud800", (), 400),
    ("surrogate", "a\udfffb", (), 400),
    ("surrogate", ["fine", "\udbff"], (1,), 400),
    ("surrogate", {"k": ["\udc00"]}, ("k", 0), 400),
    ("non-finite", math.nan, (), 400),
    ("non-finite", math.inf, (), 400),
    ("non-finite", -math.inf, (), 400),
    ("non-finite", Raw("1e400"), (), 400),
    ("non-finite", [1, Raw("-1e999")], (1,), 400),
    ("negative-zero", Raw("-0"), (), 422),
    ("negative-zero", -0.0, (), 422),
    ("big-int", 2**31, (), 422),  # past PostgreSQL INTEGER
    ("big-int", -(2**31) - 1, (), 422),
    ("big-int", 2**63, (), 422),  # past SQLite's and BIGINT
    ("big-int", -(2**63) - 1, (), 422),
    ("big-int", 2**64 + 1, (), 422),
    ("big-int", Raw("9" * 5000), (), 422),
    ("nul", "a\u0000b", (), 422),
    ("nul", ["\u0000"], (0,), 422),
]
# (kind, extra key, status): a key no field has, but that no text may hold either
KEYS: list[tuple[str, str, int]] = [("surrogate", "\ud800", 400), ("nul", "a\u0000", 422)]
BAD_UTF8 = (b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xc0\x80", b"\xe2\x82")
# Percent-encoded text that is not UTF-8: a lone surrogate's bytes, a stray byte, an
# overlong NUL, a cut-off sequence.
BAD_TEXT = (
    ("surrogate", "%ED%A0%80"),
    ("invalid-utf8", "a%FFb"),
    ("invalid-utf8", "%C0%80"),
    ("invalid-utf8", "%E2%82"),
)
BAD_NUMBERS = (
    ("non-finite", "NaN"),
    ("non-finite", "Infinity"),
    ("non-finite", "-Infinity"),
    ("non-finite", "1e400"),
    ("negative-zero", "-0"),
    ("loose-number", "1.0"),
    ("loose-number", "+1"),
    ("loose-number", "1_000"),
    ("big-int", "2147483648"),
    ("big-int", "9223372036854775808"),
    ("big-int", "-9223372036854775809"),
    ("big-int", "18446744073709551617"),
    ("big-int", "9" * 5000),
)
BAD_IDS = (
    *BAD_TEXT,
    ("nul", "a%00b"),
    ("big-int", "9223372036854775808"),
    ("negative-zero", "-0"),
    ("non-finite", "NaN"),
    ("non-finite", "1e400"),
)
# Header bytes arrive as Latin-1; a NUL or a control byte never gets past the HTTP server.
BAD_HEADER_BYTES = (
    ("surrogate", b"\xed\xa0\x80"),
    ("invalid-utf8", b"key\xff"),
    ("invalid-utf8", b"\xc0\x80"),
    ("non-ascii-header", "k\u00e9y".encode()),
)


def body_cases(op: Operation, examples: Examples, key: str) -> Iterator[Case]:
    schema = op.body_schema
    if schema is None:
        return
    url = examples.path(op)
    base = examples.value(schema)
    headers: dict[str, str | bytes] = {"Content-Type": "application/json"}
    if op.idempotent:
        headers["Idempotency-Key"] = op_key(key, op)  # a refusal must not be remembered

    def case(kind: str, body: Any, status: int, where: Location) -> Case:
        content = body if isinstance(body, bytes) else encode(body)
        return Case(kind, op.method, url, content, headers, status, field_name(where))

    for where, current in locations(base):
        for kind, value, inner, status in VALUES:
            yield case(kind, replaced(base, where, value), status, (*where, *inner))
        if isinstance(current, dict):
            for kind, name, status in KEYS:
                with_key = replaced(base, where, {**current, name: 1})
                yield case(kind, with_key, status, (*where, name))
            if current:
                pairs = [json.dumps(k) + ":" + encode(v).decode() for k, v in current.items()]
                twice = Raw("{" + ",".join([*pairs, pairs[0]]) + "}")  # the first key again
                first = next(iter(current))
                yield case("duplicate-key", replaced(base, where, twice), 400, (*where, first))
    yield case("bom", b"\xef\xbb\xbf" + encode(base), 400, ())
    for bad in BAD_UTF8:
        in_value = encode({**base, "zz": "@@bytes@@"}).replace(b"@@bytes@@", bad)
        in_key = encode({**base, "@@bytes@@": 1}).replace(b"@@bytes@@", bad)
        yield case("invalid-utf8", in_value, 400, ())
        yield case("invalid-utf8", in_key, 400, ())
    yield case("deep", Raw("[" * DEEP + "]" * DEEP), 400, ())
    yield case("deep", Raw('{"a":' * DEEP + "1" + "}" * DEEP), 400, ())
    first = next(iter(base))
    # Deep enough to overflow the parser's stack: refused before any field is known.
    yield case("deep", replaced(base, (first,), Raw("[" * DEEP + "]" * DEEP)), 400, ())
    # Deeper than any body should be, not than the parser can go: the field is named.
    deep_enough = Raw('{"a":' * 100 + "1" + "}" * 100)
    yield case("deep", replaced(base, (first,), deep_enough), 400, (first,))


def query_cases(op: Operation, examples: Examples) -> Iterator[Case]:
    parameters = op.parameters("query")
    if not parameters:
        return
    url = examples.path(op)
    for parameter in parameters:
        name, where = parameter["name"], f"query.{parameter['name']}"
        for kind, bad in BAD_TEXT:
            yield Case(kind, "GET", f"{url}?{name}={bad}", status=400, field=where)
        yield Case("nul", "GET", f"{url}?{name}=a%00b", status=422, field=where)
        schema = parameter["schema"]
        if "integer" in {s.get("type") for s in schema.get("anyOf", [schema])}:
            for kind, bad in BAD_NUMBERS:
                yield Case(kind, "GET", f"{url}?{name}={bad}", status=422, field=where)
    # and in a parameter's name
    yield Case("surrogate", "GET", f"{url}?%ED%A0%80=1", status=400)
    yield Case("invalid-utf8", "GET", f"{url}?a%FF=1", status=400)
    yield Case("nul", "GET", f"{url}?a%00=1", status=422)


def path_cases(op: Operation, examples: Examples) -> Iterator[Case]:
    base = examples.value(op.body_schema) if op.body_schema is not None else None
    content = None if base is None else encode(base)
    headers: dict[str, str | bytes] = {"Content-Type": "application/json"}
    for parameter in op.parameters("path"):
        for kind, bad in BAD_IDS:
            url = examples.path(op, **{parameter["name"]: bad})
            yield Case(kind, op.method, url, content, headers, status=404)


def header_cases(op: Operation, examples: Examples) -> Iterator[Case]:
    base = examples.value(op.body_schema) if op.body_schema is not None else None
    content = None if base is None else encode(base)
    url = examples.path(op)
    json_type: dict[str, str | bytes] = {"Content-Type": "application/json"}
    for kind, bad in BAD_HEADER_BYTES:
        yield Case(kind, op.method, url, content, {**json_type, "X-Pantry-User": bad}, 400)
        if op.idempotent:
            yield Case(kind, op.method, url, content, {**json_type, "Idempotency-Key": bad}, 400)


def all_cases(document: JSON, ids: dict[str, str], key: str) -> list[Case]:
    examples = Examples(document, ids)
    cases: list[Case] = []
    for op in operations(document):
        name = f"{op.method} {op.path}"
        for place, made in (
            ("body", body_cases(op, examples, key)),
            ("query", query_cases(op, examples)),
            ("path", path_cases(op, examples)),
            ("header", header_cases(op, examples)),
        ):
            cases += [replace(case, place=place, operation=name) for case in made]
    return cases


# ---- the world a hostile caller must not change ------------------------------------------


async def make_world(client: httpx2.AsyncClient) -> dict[str, str]:
    """A user who owns one of everything; returns the ids path parameters take."""
    recipe = await client.post(
        "/recipes",
        json={
            "title": "Hostile Soup",
            "total_minutes": 20,
            "ingredients": [{"name": "leek", "quantity": 2, "unit": "piece"}],
            "steps": ["Simmer."],
        },
    )
    assert recipe.status_code == 201, recipe.text
    recipe_id = recipe.json()["id"]
    assert (await client.put(f"/recipes/{recipe_id}/rating", json={"stars": 4})).is_success
    plan = await client.post(
        "/meal-plans",
        json={
            "start_date": "2026-12-07",
            "days": 2,
            "entries": [{"recipe_id": recipe_id, "day": 1}],
        },
    )
    assert plan.status_code == 201, plan.text
    plan_id = plan.json()["id"]
    entry_id = plan.json()["days"][0]["entries"][0]["id"]
    shopping = (await client.get(f"/meal-plans/{plan_id}/shopping-list")).json()
    item_key = shopping["aisles"][0]["items"][0]["key"]
    egg = await client.post("/pantry/items", json={"ingredient_id": "egg", "quantity": 6})
    assert egg.status_code == 201, egg.text
    preferences = {"dietary": ["vegetarian"], "disliked": ["okra"], "max_weeknight_minutes": 40}
    assert (await client.put("/users/me/preferences", json=preferences)).is_success
    return {
        "recipe_id": recipe_id,
        "plan_id": plan_id,
        "entry_id": entry_id,
        "item_key": item_key,
        "ingredient_id": "egg",
    }


async def snapshot(client: httpx2.AsyncClient, ids: dict[str, str]) -> dict[str, Any]:
    paths = (
        "/users/me",
        "/users/me/preferences",
        "/pantry",
        "/meal-plans",
        f"/meal-plans/{ids['plan_id']}",
        f"/meal-plans/{ids['plan_id']}/shopping-list",
        f"/recipes/{ids['recipe_id']}",
    )
    return {path: (await client.get(path)).json() for path in paths}


# ---- sending and judging -----------------------------------------------------------------


def problems(case: Case, response: httpx2.Response) -> list[str]:
    found: list[str] = []
    if response.status_code not in REFUSED:
        found.append(f"status {response.status_code}")
    elif case.status is not None and response.status_code != case.status:
        found.append(f"status {response.status_code}, expected {case.status}")
    found += [f"leaks {word!r}" for word in LEAKS if word in response.text]
    try:
        body = response.json()
        error = body["error"]
        assert set(body) == {"error"} and set(error) == {"code", "message", "details"}
        assert isinstance(error["code"], str) and isinstance(error["message"], str)
    except (ValueError, KeyError, TypeError, AssertionError):
        return [*found, f"not the error shape: {response.text[:200]!r}"]
    if case.field is not None:
        details = error["details"] if isinstance(error["details"], list) else []
        named = [detail.get("field", "") for detail in details]
        if not any(f == case.field or f.startswith(case.field + ".") for f in named):
            found.append(f"names {named}, expected {case.field!r}")
    return found


def raw_headers(case: Case) -> dict[bytes, bytes]:
    return {
        name.encode(): value if isinstance(value, bytes) else value.encode()
        for name, value in case.headers.items()
    }


async def send_all(client: httpx2.AsyncClient, cases: list[Case]) -> list[str]:
    failures: list[str] = []
    limiter = anyio.CapacityLimiter(8)

    async def send(case: Case) -> None:
        async with limiter:
            try:
                response = await client.request(
                    case.method, case.url, content=case.content, headers=raw_headers(case)
                )
            except httpx2.TransportError as error:  # the server dropped the connection
                found = [f"no answer: {type(error).__name__}"]
            else:
                found = problems(case, response)
        if found:
            sent = (case.content or b"")[:120]
            failures.append(f"{case.kind}: {case.method} {case.url[:80]} {sent!r} -> {found}")

    async with anyio.create_task_group() as group:
        for case in cases:
            group.start_soon(send, case)
    return failures


async def refuses_everything(
    make_client: ClientFactory, base_url: str, kinds: tuple[str, ...]
) -> None:
    document = httpx2.get(f"{base_url}/openapi.json").json()
    client = make_client()
    ids = await make_world(client)
    key = unique("hostile-key")
    cases = [case for case in all_cases(document, ids, key) if case.kind in kinds]
    assert {case.kind for case in cases} == set(kinds)
    before = await snapshot(client, ids)
    with anyio.fail_after(120):
        failures = await send_all(client, cases)
    assert not failures, f"{len(failures)} of {len(cases)} answers wrong:\n" + "\n".join(
        sorted(failures)[:40]
    )
    assert await snapshot(client, ids) == before
    await key_was_not_remembered(client, document, ids, key)


async def key_was_not_remembered(
    client: httpx2.AsyncClient, document: JSON, ids: dict[str, str], key: str
) -> None:
    """The refused requests carried an Idempotency-Key: a valid one with it now is new."""
    examples = Examples(document, ids)
    for op in operations(document):
        if not op.idempotent or op.body_schema is None:
            continue
        response = await client.request(
            op.method,
            examples.path(op),
            content=encode(examples.value(op.body_schema)),
            headers={"Content-Type": "application/json", "Idempotency-Key": op_key(key, op)},
        )
        assert "idempotent-replayed" not in response.headers, (op.path, response.text)
        assert response.status_code < 500
        details = response.json().get("error", {}).get("details", [])
        assert not any(
            isinstance(d, dict) and d.get("field") == "header.Idempotency-Key" for d in details
        ), (op.path, response.text)


@pytest.mark.parametrize("api", ["sqlite"], indirect=True)
def test_every_input_of_every_operation_gets_hostile_values(api: Api) -> None:
    """Generated from the document: a new endpoint, parameter or field is covered as is."""
    document = httpx2.get(f"{api.base_url}/openapi.json").json()
    ids = dict.fromkeys(WORLD_IDS, "x")
    cases = all_cases(document, ids, "k")
    reached = {(case.operation, case.place) for case in cases}
    for op in operations(document):
        name = f"{op.method} {op.path}"
        assert (name, "header") in reached
        for place in ("query", "path"):
            assert bool(op.parameters(place)) == ((name, place) in reached), (name, place)
        assert (op.body_schema is not None) == ((name, "body") in reached), name
        if op.body_schema is not None:  # every field of the example body, nested ones too
            fields = {
                field_name(where)
                for where, _ in locations(Examples(document, ids).value(op.body_schema))
            }
            named = {c.field for c in cases if c.operation == name and c.place == "body"}
            assert fields <= named, (name, fields - named)
    kinds = {case.kind for case in cases}
    assert kinds == {*SQLITE_ONLY, *BOTH_ENGINES}


@pytest.mark.parametrize("api", ["sqlite"], indirect=True)
@pytest.mark.parametrize("kind", SQLITE_ONLY)
async def test_hostile_input_is_refused_and_changes_nothing(
    api: Api, make_client: ClientFactory, kind: str
) -> None:
    await refuses_everything(make_client, api.base_url, (kind,))


@pytest.mark.parametrize("kind", BOTH_ENGINES)
async def test_nul_and_big_integers_are_refused_on_both_engines(
    api: Api, make_client: ClientFactory, kind: str
) -> None:
    await refuses_everything(make_client, api.base_url, (kind,))


def count_cases(document: JSON) -> dict[tuple[str, str], int]:
    """How many hostile requests each kind sends, by where it goes (for the record)."""
    ids = dict.fromkeys(WORLD_IDS, "x")
    counts: dict[tuple[str, str], int] = {}
    for case in all_cases(document, ids, "k"):
        counts[case.kind, case.place] = counts.get((case.kind, case.place), 0) + 1
    return counts
