"""Fault injection between pantry-mcp and Pantry: a proxy that slows, resets, garbles and
drops Pantry's answers, and checks that every tool stays answerable, absorbs transient
faults, fails clearly on persistent ones, and leaves Pantry holding exactly the writes it
reported as done."""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from starlette.types import Message, Receive, Scope, Send

from tests.e2e.conftest import McpServerFactory
from tests.support import SERVICE_TOKEN, RunningServer, serve_in_thread, text_of, unique

pytestmark = pytest.mark.anyio

DEADLINE = 20.0  # no tool call may take longer than this, whatever the fault
LEAKS = ("Traceback", "httpx", "httpcore", "Exception", 'File "', "stamina")
_HOP_HEADERS = {"host", "content-length", "connection", "transfer-encoding", "accept-encoding"}


# ---- the fault-injecting proxy ------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """What the proxy does to one request.

    kind: ``status`` (answer ``status`` itself, with Retry-After if given, no forwarding),
    ``delay`` (wait ``seconds``, then forward), ``reset`` (start an answer, then close the
    connection; nothing forwarded), ``drop`` (forward to Pantry, then close the connection:
    the write happened but the caller never heard), ``garbage`` (a 200 that is not JSON),
    ``truncated`` (a 200 whose JSON stops half-way).
    """

    kind: str
    status: int = 503
    seconds: float = 0.0
    retry_after: float | None = None
    html: bool | None = None  # a status fault's body: None means HTML for 502/503/504
    # (as a gateway sends), else Pantry's own JSON error shape


@dataclass
class Rule:
    fault: Fault
    method: str | None
    path: re.Pattern[str] | None
    times: int | None  # None: forever
    skip: int = 0  # matching requests to let through before the fault starts

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path is None or self.path.fullmatch(path) is not None
        )


@dataclass
class FaultProxy:
    """A pure ASGI app forwarding to Pantry, with a plan of faults consumed in order."""

    upstream: str
    rules: list[Rule] = field(default_factory=list)
    seen: list[tuple[str, str, str]] = field(default_factory=list)  # (method, path, fault)
    base_url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _http: httpx2.AsyncClient | None = None

    def add(
        self,
        fault: Fault,
        *,
        method: str | None = None,
        path: str | None = None,
        times: int | None = 1,
        skip: int = 0,
    ) -> None:
        with self._lock:
            pattern = re.compile(path) if path is not None else None
            self.rules.append(Rule(fault, method, pattern, times, skip))

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def count(self, method: str, path: str, fault: str | None = None) -> int:
        with self._lock:
            return sum(
                1
                for m, p, f in self.seen
                if m == method and re.fullmatch(path, p) and (fault is None or f == fault)
            )

    def _pick(self, method: str, path: str) -> Fault | None:
        with self._lock:
            chosen: Fault | None = None
            for rule in self.rules:
                if not rule.matches(method, path):
                    continue
                if rule.skip > 0:
                    rule.skip -= 1
                    continue
                chosen = rule.fault
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        self.rules.remove(rule)
                break
            self.seen.append((method, path, chosen.kind if chosen else "ok"))
            return chosen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        assert scope["type"] == "http"
        method, path = scope["method"], scope["path"]
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        fault = self._pick(method, path)
        if fault is None:
            await self._relay(scope, body, send)
        elif fault.kind == "delay":
            await anyio.sleep(fault.seconds)
            await self._relay(scope, body, send)
        elif fault.kind == "drop":
            await self._forward(scope, body)
            await _reset(send)
        elif fault.kind == "reset":
            await _reset(send)
        elif fault.kind == "status":
            html = fault.html if fault.html is not None else fault.status in (502, 503, 504)
            if html:
                kind = b"text/html"
                page = f"<html><body><h1>{fault.status}</h1>nginx</body></html>".encode()
            else:
                kind = b"application/json"
                code = "rate_limited" if fault.status == 429 else "internal"
                error = {"code": code, "message": f"Pantry says {fault.status}"}
                page = json.dumps({"error": error}).encode()
            headers = [(b"content-type", kind)]
            if fault.retry_after is not None:
                headers.append((b"retry-after", str(fault.retry_after).encode()))
            await _answer(send, fault.status, headers, page)
        elif fault.kind == "garbage":
            page = b"<html><body>Welcome to the captive portal</body></html>"
            await _answer(send, 200, [(b"content-type", b"application/json")], page)
        elif fault.kind == "truncated":
            half = b'{"items": [{"id": "chana-masala", "title": "Chana'
            await _answer(send, 200, [(b"content-type", b"application/json")], half)
        else:  # pragma: no cover - a typo in a test
            raise AssertionError(f"unknown fault {fault.kind}")

    async def _forward(self, scope: Scope, body: bytes) -> httpx2.Response:
        assert self._http is not None
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope["headers"]
            if k.decode("latin-1").lower() not in _HOP_HEADERS
        ]
        query = scope.get("query_string", b"").decode("latin-1")
        url = scope["path"] + (f"?{query}" if query else "")
        return await self._http.request(scope["method"], url, headers=headers, content=body)

    async def _relay(self, scope: Scope, body: bytes, send: Send) -> None:
        response = await self._forward(scope, body)
        headers = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in response.headers.items()
            if k.lower() not in {"content-length", "transfer-encoding", "content-encoding"}
        ]
        await _answer(send, response.status_code, headers, response.content)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message: Message = await receive()
            if message["type"] == "lifespan.startup":
                self._http = httpx2.AsyncClient(base_url=self.upstream, timeout=10.0)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._http is not None:
                    await self._http.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class _ConnectionDropped(Exception):
    """Raised inside the proxy so uvicorn closes the connection mid-answer."""


async def _reset(send: Send) -> None:
    """Promise a body, send a few bytes, then die: the caller sees the connection close."""
    headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b'{"id": ', "more_body": True})
    raise _ConnectionDropped


# ---- fixtures and helpers -----------------------------------------------------------------


@pytest.fixture
def proxy(pantry_server: RunningServer) -> Iterator[FaultProxy]:
    fault_proxy = FaultProxy(pantry_server.base_url)
    with serve_in_thread(fault_proxy) as running:
        fault_proxy.base_url = running.base_url
        yield fault_proxy


@pytest.fixture
def user() -> str:
    return unique("faults")


@pytest.fixture
def url(mcp_server: McpServerFactory, proxy: FaultProxy, user: str) -> str:
    """A fresh pantry-mcp (fresh circuit breaker) whose Pantry is the fault proxy."""
    return mcp_server(
        user=user,
        PANTRY_MCP_PANTRY_URL=proxy.base_url,
        PANTRY_MCP_PANTRY_TIMEOUT="1",
        PANTRY_MCP_RATE_LIMIT="0",
    )


@dataclass
class Pantry:
    """Pantry read (and seeded) directly, bypassing both the proxy and pantry-mcp."""

    base_url: str
    user: str

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {SERVICE_TOKEN}", "X-Pantry-User": self.user}
        with anyio.fail_after(10):
            async with httpx2.AsyncClient(base_url=self.base_url, headers=headers) as http:
                response = await http.request(method, path, **kwargs)
        assert response.status_code < 300, response.text
        return response.json()

    async def plans(self) -> list[dict[str, Any]]:
        page = await self.request("GET", "/meal-plans", params={"page_size": 100})
        items: list[dict[str, Any]] = page["items"]
        return items

    async def plan(self, plan_id: str) -> dict[str, Any]:
        plan: dict[str, Any] = await self.request("GET", f"/meal-plans/{plan_id}")
        return plan

    async def new_plan(self, days: int = 3) -> str:
        plan = await self.request(
            "POST", "/meal-plans", json={"start_date": "2026-12-07", "days": days}
        )
        plan_id: str = plan["id"]
        return plan_id

    async def pantry(self) -> dict[str, dict[str, Any]]:
        page = await self.request("GET", "/pantry")
        return {item["ingredient_id"]: item for item in page["items"]}

    async def recipes_titled(self, title: str) -> list[dict[str, Any]]:
        page = await self.request("GET", "/recipes", params={"q": title, "page_size": 50})
        return [hit for hit in page["items"] if hit["title"] == title]


@pytest.fixture
def pantry(pantry_server: RunningServer, user: str) -> Pantry:
    return Pantry(pantry_server.base_url, user)


async def call(url: str, tool: str, args: dict[str, Any]) -> Any:
    """One tool call on a fresh client, within the deadline: its result, or the MCPError
    it failed with (caught inside the client, which would wrap it in an exception group)."""
    with anyio.fail_after(DEADLINE):
        async with Client(url, mode="2026-07-28") as client:
            try:
                return await client.call_tool(tool, args)
            except MCPError as error:
                return error


async def call_ok(url: str, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await call(url, tool, args)
    assert not isinstance(result, MCPError), result.error.message
    assert not result.is_error, text_of(result.content[0])
    structured: dict[str, Any] = result.structured_content
    assert structured is not None
    return structured


async def call_unavailable(url: str, tool: str, args: dict[str, Any]) -> str:
    """The call fails as a JSON-RPC error saying Pantry is unavailable, with no leak."""
    failure = await call(url, tool, args)
    assert isinstance(failure, MCPError), f"expected Pantry is unavailable, got {failure}"
    message = str(failure.error.message)
    assert message.startswith("Pantry is unavailable"), message
    assert_no_leak(message)
    return message


def assert_no_leak(text: str) -> None:
    for leak in LEAKS:
        assert leak not in text, f"{leak!r} leaked to the client: {text}"


def error_body(result: Any) -> dict[str, Any]:
    assert result.is_error, result
    text = text_of(result.content[0])
    assert_no_leak(text)
    body: dict[str, Any] = json.loads(text)
    assert body["error"] and body["hint"], body
    return body


def recipe_args(title: str) -> dict[str, Any]:
    return {
        "title": title,
        "ingredients": [
            {"name": "chickpeas", "quantity": 1, "unit": "can"},
            {"name": "onion", "quantity": 1, "unit": "piece"},
        ],
        "steps": ["Fry the onion.", "Add the chickpeas and warm through."],
        "total_minutes": 20,
    }


PLAN = "{plan}"  # replaced by a plan made directly in Pantry
ALL_TOOLS: dict[str, dict[str, Any]] = {
    "search_recipes": {"query": "chickpea curry"},
    "save_recipe": recipe_args("Fault Tolerant Chickpeas"),
    "whats_for_dinner": {},
    "plan_week_meals": {"start_date": "2026-11-30", "days": 3},
    "update_pantry": {
        "changes": [{"action": "add", "ingredient": "milk", "quantity": 1, "unit": "l"}]
    },
    "add_recipe_to_plan": {"plan_id": PLAN, "recipe_id": "chana-masala", "date": "2026-12-08"},
    "get_shopping_list": {"plan_id": PLAN},
    "suggest_substitutes": {"ingredient": "butter"},
}


async def args_for(tool: str, pantry: Pantry) -> dict[str, Any]:
    args = dict(ALL_TOOLS[tool])
    if args.get("plan_id") == PLAN:
        args["plan_id"] = await pantry.new_plan()
    return args


# ---- transient faults are absorbed ----------------------------------------------------------

TRANSIENT = [
    ("search_recipes", Fault("status", 502), "GET", "/recipes"),
    ("search_recipes", Fault("reset"), "GET", "/recipes"),
    ("search_recipes", Fault("status", 429, retry_after=0.3), "GET", "/recipes"),
    ("whats_for_dinner", Fault("delay", seconds=2.5), "GET", "/recipes"),
    ("whats_for_dinner", Fault("status", 503, retry_after=0.2), "GET", "/users/me/preferences"),
    ("suggest_substitutes", Fault("status", 504), "GET", "/ingredients/.+"),
    ("suggest_substitutes", Fault("reset"), "GET", "/pantry"),
    ("get_shopping_list", Fault("status", 502), "GET", "/meal-plans/.+/shopping-list"),
    ("add_recipe_to_plan", Fault("reset"), "GET", "/meal-plans/[^/]+"),
    ("update_pantry", Fault("status", 503), "GET", "/ingredients"),
]


@pytest.mark.parametrize(
    ("tool", "fault", "method", "path"),
    TRANSIENT,
    ids=[f"{t}-{f.kind}{f.status if f.kind == 'status' else ''}" for t, f, _, _ in TRANSIENT],
)
async def test_one_transient_fault_is_absorbed(
    url: str, proxy: FaultProxy, pantry: Pantry, tool: str, fault: Fault, method: str, path: str
) -> None:
    args = await args_for(tool, pantry)
    proxy.add(fault, method=method, path=path, times=1)
    await call_ok(url, tool, args)
    assert proxy.count(method, path, fault.kind) == 1, proxy.seen
    assert proxy.count(method, path, "ok") >= 1, proxy.seen


# ---- idempotent writes retried across a dropped answer --------------------------------------


async def test_save_recipe_retried_across_dropped_answer_saves_once(
    url: str, proxy: FaultProxy, pantry: Pantry
) -> None:
    title = f"Dropped Answer Stew {secrets.token_hex(3)}"
    proxy.add(Fault("drop"), method="POST", path="/recipes", times=1)
    saved = await call_ok(url, "save_recipe", recipe_args(title))
    assert proxy.count("POST", "/recipes") == 2  # Pantry saw it twice and saved it once
    again = await call_ok(url, "save_recipe", recipe_args(title))
    assert again["recipe_id"] == saved["recipe_id"]
    found = await pantry.recipes_titled(title)
    assert [hit["id"] for hit in found] == [saved["recipe_id"]]


async def test_save_recipe_that_never_heard_back_is_saved_once_when_asked_again(
    url: str, proxy: FaultProxy, pantry: Pantry
) -> None:
    title = f"Silent Pantry Dal {secrets.token_hex(3)}"
    proxy.add(Fault("drop"), method="POST", path="/recipes", times=None)
    await call_unavailable(url, "save_recipe", recipe_args(title))
    proxy.clear()
    saved = await call_ok(url, "save_recipe", recipe_args(title))
    found = await pantry.recipes_titled(title)
    assert [hit["id"] for hit in found] == [saved["recipe_id"]]


async def test_plan_week_meals_absorbs_dropped_answers_without_duplicates(
    url: str, proxy: FaultProxy, pantry: Pantry
) -> None:
    proxy.add(Fault("status", 502), method="GET", path="/recipes", times=1)
    proxy.add(Fault("drop"), method="POST", path="/meal-plans", times=1)
    planned = await call_ok(url, "plan_week_meals", {"start_date": "2026-11-30", "days": 4})
    assert proxy.count("POST", "/meal-plans", "drop") == 1
    assert [p["id"] for p in await pantry.plans()] == [planned["plan_id"]]
    plan = await pantry.plan(planned["plan_id"])
    held = [[entry["recipe_id"] for entry in day["entries"]] for day in plan["days"]]
    assert held == [[day["recipe_id"]] for day in planned["days"]]


async def test_failed_plan_week_meals_leaves_no_plan_behind(
    url: str, proxy: FaultProxy, pantry: Pantry
) -> None:
    """The plan and its entries are one request, one transaction: refused, nothing stays."""
    proxy.add(Fault("status", 503), method="POST", path="/meal-plans", times=None)
    await call_unavailable(url, "plan_week_meals", {"start_date": "2026-11-30", "days": 5})
    assert await pantry.plans() == []
    proxy.clear()
    planned = await call_ok(url, "plan_week_meals", {"start_date": "2026-11-30", "days": 5})
    assert [p["id"] for p in await pantry.plans()] == [planned["plan_id"]]
    plan = await pantry.plan(planned["plan_id"])
    assert all(len(day["entries"]) == 1 for day in plan["days"])


async def test_plan_week_meals_whose_create_never_answered_leaves_no_plan_behind(
    url: str, proxy: FaultProxy, pantry: Pantry
) -> None:
    """Pantry makes the plan but every answer is lost: the call fails, and after the agent
    asks again Pantry holds exactly the one plan reported as done."""
    proxy.add(Fault("drop"), method="POST", path="/meal-plans", times=None)
    await call_unavailable(url, "plan_week_meals", {"start_date": "2026-11-30", "days": 3})
    proxy.clear()
    planned = await call_ok(url, "plan_week_meals", {"start_date": "2026-11-30", "days": 3})
    assert [p["id"] for p in await pantry.plans()] == [planned["plan_id"]]


async def test_add_recipe_to_plan_retried_across_dropped_answer_adds_once(
    url: str, proxy: FaultProxy, pantry: Pantry
) -> None:
    plan_id = await pantry.new_plan(days=3)
    proxy.add(Fault("drop"), method="POST", path="/meal-plans/.+/entries", times=1)
    added = await call_ok(
        url,
        "add_recipe_to_plan",
        {"plan_id": plan_id, "recipe_id": "chana-masala", "date": "2026-12-08"},
    )
    assert added["already_planned"] is False
    assert proxy.count("POST", "/meal-plans/.+/entries") == 2
    plan = await pantry.plan(plan_id)
    held = [[entry["id"] for entry in day["entries"]] for day in plan["days"]]
    assert held == [[], [added["entry_id"]], []]


async def test_update_pantry_adds_retried_across_dropped_answer_apply_once(
    url: str, proxy: FaultProxy, pantry: Pantry
) -> None:
    proxy.add(Fault("status", 502), method="GET", path="/ingredients", times=1)
    proxy.add(Fault("drop"), method="POST", path="/pantry/items", times=1)
    proxy.add(Fault("reset"), method="POST", path="/pantry/items", times=1)
    changes = [
        {"action": "add", "ingredient": "milk", "quantity": 1, "unit": "l"},
        {"action": "add", "ingredient": "eggs", "quantity": 12, "unit": "piece"},
    ]
    result = await call_ok(url, "update_pantry", {"changes": changes})
    assert [c["status"] for c in result["changes"]] == ["applied", "applied"]
    assert result["applied"] == 2
    held = await pantry.pantry()
    amounts = {
        held[c["ingredient_id"]]["name"].lower(): held[c["ingredient_id"]]["quantity"]
        for c in result["changes"]
    }
    assert sorted(amounts.values()) == [1, 12], held  # not doubled by the retries
    assert len(held) == 2


async def test_update_pantry_reports_exactly_which_changes_were_applied(
    url: str, proxy: FaultProxy, pantry: Pantry
) -> None:
    """The first add lands, the second fails on every attempt, the third would land:
    the result must say which changes were applied, and the pantry must agree."""
    proxy.add(Fault("status", 503), method="POST", path="/pantry/items", times=3, skip=1)
    changes = [
        {"action": "add", "ingredient": "milk", "quantity": 1, "unit": "l"},
        {"action": "add", "ingredient": "eggs", "quantity": 12, "unit": "piece"},
        {"action": "add", "ingredient": "chickpeas", "quantity": 2, "unit": "can"},
    ]
    result = await call(url, "update_pantry", {"changes": changes})
    if isinstance(result, MCPError):
        assert_no_leak(str(result.error.message))
        held = await pantry.pantry()
        pytest.fail(
            "update_pantry failed as a whole while Pantry holds "
            f"{sorted(item['name'] for item in held.values())}: {result.error.message}"
        )
    assert_no_leak(text_of(result.content[0]))
    report = result.structured_content
    assert report is not None, text_of(result.content[0])
    held = await pantry.pantry()
    statuses = {c["ingredient"]: c["status"] for c in report["changes"]}
    assert statuses["milk"] == "applied"
    assert statuses["eggs"] == "failed"
    for change in report["changes"]:
        assert (change["ingredient_id"] in held) == (change["status"] == "applied"), report
    assert report["applied"] == len(held)


# ---- persistent faults fail clearly, and the next calls succeed -----------------------------

PERSISTENT = [
    ("search_recipes", Fault("status", 503)),
    ("save_recipe", Fault("drop")),
    ("whats_for_dinner", Fault("delay", seconds=2.5)),
    ("plan_week_meals", Fault("status", 504)),
    ("update_pantry", Fault("status", 502)),
    ("add_recipe_to_plan", Fault("status", 500)),
    ("get_shopping_list", Fault("truncated")),
    ("suggest_substitutes", Fault("garbage")),
    ("search_recipes", Fault("reset")),
]


@pytest.mark.parametrize(
    ("tool", "fault"),
    PERSISTENT,
    ids=[f"{t}-{f.kind}{f.status if f.kind == 'status' else ''}" for t, f in PERSISTENT],
)
async def test_persistent_fault_fails_clearly_then_recovers(
    url: str, proxy: FaultProxy, pantry: Pantry, tool: str, fault: Fault
) -> None:
    args = await args_for(tool, pantry)
    before = await pantry.pantry(), await pantry.plans()
    proxy.add(fault, times=None)
    await call_unavailable(url, tool, args)
    if tool not in ("save_recipe",):  # a dropped save landed; the rest changed nothing
        assert (await pantry.pantry(), await pantry.plans()) == before
    proxy.clear()
    await call_ok(url, tool, args)


@pytest.mark.parametrize("html", [False, True], ids=["pantry-json", "gateway-html"])
async def test_long_rate_limit_is_an_error_the_agent_can_act_on(
    url: str, proxy: FaultProxy, html: bool
) -> None:
    fault = Fault("status", 429, retry_after=30, html=html)
    proxy.add(fault, method="GET", path="/recipes", times=None)
    with anyio.fail_after(5):  # a 30 s Retry-After is reported, not waited out
        result = await call(url, "search_recipes", {"query": "soup"})
    assert not isinstance(result, MCPError), result.error.message
    body = error_body(result)
    assert "30 seconds" in body["hint"], body
    assert proxy.count("GET", "/recipes") == 1


async def test_circuit_opens_fails_fast_and_closes_after_cooldown(
    url: str, proxy: FaultProxy
) -> None:
    proxy.add(Fault("status", 502), times=None)
    for _ in range(5):
        await call_unavailable(url, "search_recipes", {"query": "soup"})
    reached = len(proxy.seen)
    with anyio.fail_after(2):  # open: fails at once, without calling Pantry
        message = await call_unavailable(url, "search_recipes", {"query": "soup"})
    assert len(proxy.seen) == reached
    assert "resume" in message
    proxy.clear()
    # The first call after the cooldown is the trial; here it is a 404 (a fact, not a
    # failure of Pantry), which must not leave the breaker stuck half-open.
    with anyio.fail_after(15):
        while True:
            trial = await call(url, "get_shopping_list", {"plan_id": "no-such-plan"})
            if not isinstance(trial, MCPError):
                break
            assert "resume" in str(trial.error.message)
            await anyio.sleep(0.25)  # bounded poll: the cooldown is running
    assert "No meal plan" in error_body(trial)["error"]
    await call_ok(url, "search_recipes", {"query": "soup"})
    await call_ok(url, "whats_for_dinner", {})
