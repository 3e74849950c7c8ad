"""One OpenTelemetry trace from the MCP client through pantry-mcp and Pantry to the
database, as operators run them: both services as real processes configured only by the
standard OTEL_* variables, exporting OTLP/HTTP protobuf to a receiver on 127.0.0.1."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx2
import pytest
from bench.processes import stop
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import RequestParamsMeta

from tests.issuer import Issuer, running_issuer
from tests.otlp_receiver import ReceivedSpan, Receiver, children, render, running_receiver
from tests.support import SERVICE_TOKEN, eventually, free_port, unique, wait_until_up

pytestmark = pytest.mark.anyio
BIN = Path(sys.executable).parent
# The trace the README shows, rendered from this test's spans (PANTRY_UPDATE_SNAPSHOTS=1).
RENDERED = Path(__file__).parents[2] / "docs" / "traces" / "plan_week_meals.txt"


def otel_env(receiver: Receiver) -> dict[str, str]:
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint(),
        "OTEL_BSP_SCHEDULE_DELAY": "50",  # milliseconds: the test waits for spans, not time
        "OTEL_TRACES_SAMPLER": "always_on",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=test",
    }


@dataclass
class World:
    receiver: Receiver
    issuer: Issuer
    pantry_url: str
    mcp_url: str
    stateful_url: str
    mcp_log: Path
    pantry_log: Path

    def token(self, user: str, url: str) -> str:
        return self.issuer.token(user, audience=url)

    def log_lines(self, path: Path) -> list[dict[str, Any]]:
        lines = []
        for raw in path.read_text(encoding="utf-8").splitlines():
            if raw.startswith("{"):
                lines.append(json.loads(raw))
        return lines


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("traced")
    with ExitStack() as stack:
        receiver = stack.enter_context(running_receiver())
        issuer = stack.enter_context(running_issuer())
        base = {"PATH": os.environ.get("PATH", ""), **otel_env(receiver)}
        api_port, mcp_port = free_port(), free_port()
        pantry_url = f"http://127.0.0.1:{api_port}"
        mcp_url = f"http://127.0.0.1:{mcp_port}/mcp"
        pantry_log, mcp_log = folder / "pantry.log", folder / "mcp.log"
        api = _start(
            [str(BIN / "pantry-api"), "serve", "--port", str(api_port)],
            {
                **base,
                "PANTRY_API_DATABASE_URL": f"sqlite:///{folder / 'pantry.db'}",
                "PANTRY_API_DATA_DIR": str(folder),
                "PANTRY_API_SERVICE_TOKEN": SERVICE_TOKEN,
                "PANTRY_API_RATE_LIMIT": "0",
            },
            pantry_log,
        )
        stack.callback(stop, api)
        wait_until_up(f"{pantry_url}/healthz", api)
        mcp_env = {
            **base,
            "PANTRY_MCP_PANTRY_URL": pantry_url,
            "PANTRY_MCP_PANTRY_TOKEN": SERVICE_TOKEN,
            "PANTRY_MCP_LOG_FORMAT": "json",
            "PANTRY_MCP_AUTH_ISSUER": issuer.url,
            "PANTRY_MCP_REQUEST_STATE_KEY": secrets.token_urlsafe(48),
        }
        # The default (stateless), and 2025-11-25 stateful sessions, whose requests the SDK
        # runs in each session's own task rather than in the HTTP request's.
        stateful_port = free_port()
        stateful_url = f"http://127.0.0.1:{stateful_port}/mcp"
        for port, url, extra, log in (
            (mcp_port, mcp_url, {}, mcp_log),
            (stateful_port, stateful_url, {"PANTRY_MCP_STATEFUL": "true"}, folder / "mcp2.log"),
        ):
            mcp = _start(
                [str(BIN / "pantry-mcp"), "serve", "--port", str(port)],
                {**mcp_env, "PANTRY_MCP_RESOURCE_URL": url, **extra},
                log,
            )
            stack.callback(stop, mcp)
            wait_until_up(f"http://127.0.0.1:{port}/healthz", mcp)
        yield World(receiver, issuer, pantry_url, mcp_url, stateful_url, mcp_log, pantry_log)


@asynccontextmanager
async def connected(
    world: World, user: str, mode: str, url: str | None = None, **headers: str
) -> AsyncIterator[Client]:
    url = url or world.mcp_url
    http = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {world.token(user, url)}", **headers}, timeout=30
    )
    async with http, Client(streamable_http_client(url, http_client=http), mode=mode) as c:
        yield c


def meta_of(**values: Any) -> RequestParamsMeta:
    """A request's ``_meta`` carrying W3C trace context (unprefixed keys, SEP-414)."""
    return cast("RequestParamsMeta", values)


def new_parent() -> tuple[str, str, str]:
    """A client's span, as its trace context: (traceparent, trace id, span id)."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


def mcp_span(
    spans: list[ReceivedSpan], name: str, service: str = "pantry-mcp"
) -> ReceivedSpan | None:
    found = [s for s in spans if s.service == service and s.kind == "server"]
    found = [s for s in found if s.name == name]
    return found[0] if found else None


def is_sql(span: ReceivedSpan) -> bool:
    return span.service == "pantry-api" and any(k.startswith("db.") for k in span.attributes)


def whole_tree(
    trace_id: str, name: str, service: str = "pantry-mcp"
) -> Callable[[list[ReceivedSpan]], bool]:
    """Holds once the MCP span, its Pantry calls, Pantry's spans and their SQL all arrived
    (the two services export on their own schedules)."""

    def complete(received: list[ReceivedSpan]) -> bool:
        spans = [s for s in received if s.trace_id == trace_id]
        top = mcp_span(spans, name, service)
        if top is None:
            return False
        calls = [s for s in children(spans, top) if s.kind == "client"]
        if not calls:
            return False
        for call in calls:
            served = [s for s in children(spans, call) if s.service == "pantry-api"]
            if len(served) != 1 or not any(is_sql(s) for s in children(spans, served[0])):
                return False
        return True

    return complete


def check_tree(world: World, trace_id: str, parent_id: str, name: str) -> ReceivedSpan:
    spans = world.receiver.wait_for(whole_tree(trace_id, name))
    spans = [s for s in spans if s.trace_id == trace_id]
    top = mcp_span(spans, name)
    assert top is not None
    assert top.parent_id == parent_id  # the client's span is its parent
    assert top.resource["service.name"] == "pantry-mcp"
    assert top.resource["deployment.environment.name"] == "test"
    assert top.attributes["mcp.method.name"] == "tools/call"
    assert top.attributes["network.transport"] == "tcp"
    assert not top.error
    for call in (s for s in children(spans, top) if s.kind == "client"):
        assert call.service == "pantry-mcp"
        method, template = call.name.split(" ", 1)
        assert call.attributes["http.request.method"] == method
        assert call.attributes["url.template"] == template
        assert call.attributes["http.response.status_code"] < 400
        (served,) = children(spans, call)
        assert served.kind == "server"
        assert served.name == f"{method} {served.attributes['http.route']}"
        assert (
            served.attributes["http.response.status_code"]
            == call.attributes["http.response.status_code"]
        )
        sql = [s for s in children(spans, served) if is_sql(s)]
        assert sql, f"no SQL under {served.name}"
        assert all(s.kind == "client" for s in sql)
    return top


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_a_tool_call_is_one_trace_down_to_the_sql(world: World, mode: str) -> None:
    traceparent, trace_id, parent_id = new_parent()
    user = unique("traced")
    async with connected(world, user, mode) as client:
        result = await client.call_tool(
            "plan_week_meals",
            {"start_date": "2026-12-07", "days": 2},
            meta=meta_of(traceparent=traceparent),
        )
        assert not result.is_error
    top = check_tree(world, trace_id, parent_id, "tools/call plan_week_meals")
    assert top.attributes["gen_ai.tool.name"] == "plan_week_meals"
    assert top.attributes["gen_ai.operation.name"] == "execute_tool"
    assert top.attributes["mcp.protocol.version"] == (
        "2025-11-25" if mode == "legacy" else "2026-07-28"
    )
    assert top.attributes["user.id"] == user  # the acting user, as an id and nothing more
    assert "jsonrpc.request.id" in top.attributes
    if os.environ.get("PANTRY_UPDATE_SNAPSHOTS") == "1" and mode == "2026-07-28":
        RENDERED.parent.mkdir(exist_ok=True)
        RENDERED.write_text(render(world.receiver.trace(trace_id), top) + "\n", encoding="utf-8")

    # Logs join traces: the request's log line names the span, and Pantry's lines the trace.
    def logged() -> list[dict[str, Any]]:
        return [
            line
            for line in world.log_lines(world.mcp_log)
            if line.get("event") == "mcp_request" and line.get("trace_id") == trace_id
        ]

    await eventually(lambda: bool(logged()), 10)  # the log's writer thread writes it soon
    assert [line["span_id"] for line in logged()] == [top.span_id]
    pantry_spans = {s.span_id for s in world.receiver.trace(trace_id) if s.kind == "server"}
    pantry_lines = [
        line for line in world.log_lines(world.pantry_log) if line.get("trace_id") == trace_id
    ]
    assert pantry_lines
    assert {line["span_id"] for line in pantry_lines} <= pantry_spans


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_the_http_traceparent_header_is_the_parent_when_meta_has_none(
    world: World, mode: str
) -> None:
    traceparent, trace_id, parent_id = new_parent()
    async with connected(world, unique("traced"), mode, traceparent=traceparent) as client:
        result = await client.call_tool("plan_week_meals", {"start_date": "2026-12-07", "days": 1})
        assert not result.is_error
    check_tree(world, trace_id, parent_id, "tools/call plan_week_meals")


async def test_a_stateful_session_takes_the_header_and_names_the_session(world: World) -> None:
    traceparent, trace_id, parent_id = new_parent()
    user = unique("traced")
    async with connected(
        world, user, "legacy", world.stateful_url, traceparent=traceparent
    ) as client:
        result = await client.call_tool("plan_week_meals", {"start_date": "2026-12-07", "days": 1})
        assert not result.is_error
    top = check_tree(world, trace_id, parent_id, "tools/call plan_week_meals")
    assert len(top.attributes["mcp.session.id"]) >= 16
    assert top.attributes["mcp.protocol.version"] == "2025-11-25"


async def test_meta_wins_over_the_header_which_becomes_a_link(world: World) -> None:
    in_meta, trace_id, parent_id = new_parent()
    in_header, header_trace, header_span = new_parent()
    async with connected(world, unique("traced"), "2026-07-28", traceparent=in_header) as client:
        await client.call_tool(
            "search_recipes", {"query": "soup"}, meta=meta_of(traceparent=in_meta)
        )
    spans = world.receiver.wait_for(
        lambda got: (
            mcp_span([s for s in got if s.trace_id == trace_id], "tools/call search_recipes")
            is not None
        )
    )
    top = mcp_span([s for s in spans if s.trace_id == trace_id], "tools/call search_recipes")
    assert top is not None
    assert top.parent_id == parent_id
    assert top.links == [(header_trace, header_span)]


async def test_failing_calls_mark_the_span_with_the_json_rpc_code(world: World) -> None:
    traceparent, trace_id, _ = new_parent()
    meta = meta_of(traceparent=traceparent)
    async with connected(world, unique("traced"), "2026-07-28") as client:
        with pytest.raises(MCPError) as refused:
            await client.call_tool("no_such_tool", {}, meta=meta)
        code = refused.value.error.code
        failed = await client.call_tool("plan_week_meals", {"start_date": "2026-02-30"}, meta=meta)
        assert failed.is_error
    spans = world.receiver.wait_for(
        lambda got: (
            {"tools/call no_such_tool", "tools/call plan_week_meals"}
            <= {s.name for s in got if s.trace_id == trace_id}
        )
    )
    spans = [s for s in spans if s.trace_id == trace_id]
    unknown = mcp_span(spans, "tools/call no_such_tool")
    assert unknown is not None
    assert unknown.error
    assert unknown.attributes["error.type"] == str(code)
    assert unknown.attributes["rpc.response.status_code"] == str(code)
    tool_error = mcp_span(spans, "tools/call plan_week_meals")
    assert tool_error is not None
    assert tool_error.error
    assert tool_error.attributes["error.type"] == "tool_error"


async def test_a_resource_read_names_its_uri(world: World) -> None:
    traceparent, trace_id, parent_id = new_parent()
    async with connected(world, unique("traced"), "2026-07-28") as client:
        await client.read_resource("pantry://current", meta=meta_of(traceparent=traceparent))
    spans = world.receiver.wait_for(
        lambda got: (
            mcp_span([s for s in got if s.trace_id == trace_id], "resources/read") is not None
        )
    )
    top = mcp_span([s for s in spans if s.trace_id == trace_id], "resources/read")
    assert top is not None
    assert top.parent_id == parent_id
    assert top.attributes["mcp.resource.uri"] == "pantry://current"


async def test_no_secret_arguments_or_results_reach_a_span(world: World) -> None:
    user = unique("traced")
    token = world.token(user, world.mcp_url)
    traceparent, trace_id, _ = new_parent()
    meta = meta_of(traceparent=traceparent)
    secret_query = f"zucchini {secrets.token_hex(6)}"
    async with connected(world, user, "2026-07-28") as client:
        await client.call_tool("search_recipes", {"query": secret_query}, meta=meta)
        changed = await client.call_tool(
            "update_pantry",
            {"changes": [{"action": "add", "ingredient": "eggs", "quantity": 7, "unit": "piece"}]},
            meta=meta,
        )
        assert not changed.is_error
        plan = await client.call_tool(
            "plan_week_meals", {"start_date": "2026-12-14", "days": 1}, meta=meta
        )
    titles = [day["title"] for day in plan.structured_content["days"] if "title" in day]
    assert titles
    world.receiver.wait_for(whole_tree(trace_id, "tools/call plan_week_meals"))
    spans = world.receiver.trace(trace_id)
    assert {s.service for s in spans} == {"pantry-mcp", "pantry-api"}
    forbidden = [
        token,
        token.split(".")[1],  # the claims part alone
        SERVICE_TOKEN,
        "Bearer",
        secret_query,
        secret_query.split()[1],
        *titles,
    ]
    for span in spans:
        text = span.everything()
        for value in forbidden:
            assert value not in text, f"{value!r} leaked into span {span.name}"
        assert not any("authorization" in key.lower() for key in span.attributes)
        assert not any(key.startswith("http.request.header") for key in span.attributes)
        assert "url.full" not in span.attributes
        assert "url.query" not in span.attributes


async def test_stdio_gives_the_same_trace(world: World) -> None:
    traceparent, trace_id, parent_id = new_parent()
    server = StdioServerParameters(
        command=str(BIN / "pantry-mcp"),
        args=["stdio"],
        env={
            "PATH": os.environ.get("PATH", ""),
            **otel_env(world.receiver),
            "PANTRY_MCP_PANTRY_URL": world.pantry_url,
            "PANTRY_MCP_PANTRY_TOKEN": SERVICE_TOKEN,
            "PANTRY_MCP_USER": unique("stdio-traced"),
            "OTEL_SERVICE_NAME": "pantry-mcp-desktop",  # one desktop's server, named apart
        },
    )
    async with Client(server, mode="2026-07-28") as client:
        result = await client.call_tool(
            "plan_week_meals",
            {"start_date": "2026-12-07", "days": 1},
            meta=meta_of(traceparent=traceparent),
        )
        assert not result.is_error
    name, service = "tools/call plan_week_meals", "pantry-mcp-desktop"
    spans = world.receiver.wait_for(whole_tree(trace_id, name, service))
    top = mcp_span([s for s in spans if s.trace_id == trace_id], name, service)
    assert top is not None
    assert top.parent_id == parent_id
    assert top.attributes["network.transport"] == "pipe"
    assert "network.protocol.name" not in top.attributes


@pytest.mark.parametrize(
    "meta",
    [
        {"traceparent": 12345},
        {"traceparent": {"version": "00"}},
        {"traceparent": ["00-not-a-trace"]},
        {"traceparent": "00-" + "f" * 100_000},
        {"traceparent": "00-00000000000000000000000000000000-0000000000000000-01"},
        {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "tracestate": 7},
        {"baggage": {"user": "x"}},
        {"baggage": ",".join(f"k{n}=" + "v" * 40 for n in range(180))},  # carried on to Pantry
    ],
)
async def test_trace_context_a_client_gets_wrong_never_fails_the_call(
    world: World, meta: dict[str, Any]
) -> None:
    async with connected(
        world, unique("traced"), "2026-07-28", traceparent="00-zz-zz-01"
    ) as client:
        result = await client.call_tool(
            "search_recipes", {"query": "soup"}, meta=cast("RequestParamsMeta", meta)
        )
    assert not result.is_error
