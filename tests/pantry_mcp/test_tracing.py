"""Tracing in pantry-mcp: the OTEL_* variables that turn it on (and the ones it cannot
honour), the client spans around every Pantry call, and log lines that name their span."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import httpx2
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from pantry_mcp.client import PantryClient, PantryNotFound, PantryUnavailable
from pantry_mcp.config import ConfigError
from pantry_mcp.tracing import add_trace_ids, wanted
from tests.support import SERVICE_TOKEN, RunningServer, mcp_settings, unique

pytestmark = pytest.mark.anyio
ENDPOINT = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER": "always_on"}, False),
        (ENDPOINT, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
        ({**ENDPOINT, "OTEL_SDK_DISABLED": "TRUE"}, False),
        ({**ENDPOINT, "OTEL_SDK_DISABLED": "false"}, True),
        ({**ENDPOINT, "OTEL_TRACES_EXPORTER": "none"}, False),
        ({**ENDPOINT, "OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({**ENDPOINT, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, True),
        ({**ENDPOINT, "OTEL_EXPORTER_OTLP_PROTOCOL": "HTTP/Protobuf"}, True),  # as Pantry takes it
        # a protocol for another signal, or with no endpoint, asks for nothing here
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, False),
    ],
)
def test_which_environments_turn_traces_on(env: dict[str, str], expected: bool) -> None:
    assert wanted(env) is expected
    assert mcp_settings("http://127.0.0.1:1", "u", **env).tracing is expected


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({**ENDPOINT, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "OTEL_EXPORTER_OTLP_PROTOCOL"),
        ({**ENDPOINT, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"}, "http/json"),
        ({**ENDPOINT, "OTEL_TRACES_EXPORTER": "console"}, "OTEL_TRACES_EXPORTER"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, "http:// or https://"),
    ],
)
def test_what_cannot_be_honoured_stops_start_up_with_one_line(
    env: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        mcp_settings("http://127.0.0.1:1", "u", **env)
    assert named in str(refused.value)
    assert "\n" not in str(refused.value)


def test_off_by_default_imports_no_sdk_and_starts_no_thread() -> None:
    """A fresh interpreter builds the whole app with no OTEL_* variables: nothing of the
    OpenTelemetry SDK is loaded, no thread runs, no tracing middleware is installed."""
    probe = (
        "import sys, threading\n"
        "from pantry_mcp.config import Settings\n"
        "from pantry_mcp.app import create_app\n"
        "from pantry_mcp import cli\n"
        "settings = Settings.from_env({'PANTRY_MCP_PANTRY_TOKEN': 't'}, tty=False)\n"
        "app = create_app(settings)\n"
        "import json\n"
        "print(json.dumps({'tracing': settings.tracing,\n"
        "  'sdk': sorted(m for m in sys.modules if m.startswith('opentelemetry.sdk')),\n"
        "  'exporter': any(m.startswith('opentelemetry.exporter') for m in sys.modules),\n"
        "  'threads': threading.active_count()}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, check=True, timeout=60
    )
    seen = json.loads(out.stdout.decode().strip().splitlines()[-1])
    assert seen == {"tracing": False, "sdk": [], "exporter": False, "threads": 1}


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


class Recording(httpx2.AsyncBaseTransport):
    """The real transport, noting each request's headers (and failing the first
    ``fail_first`` with a 503, a fault a healthy Pantry will not produce on demand)."""

    def __init__(self, fail_first: int = 0) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.headers: list[httpx2.Headers] = []
        self.fail_first = fail_first

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.headers.append(request.headers)
        if len(self.headers) <= self.fail_first:
            return httpx2.Response(503, json={"error": {"code": "busy", "message": "busy"}})
        return await self.inner.handle_async_request(request)


def only(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return list(exporter.get_finished_spans())


async def test_each_pantry_call_is_a_client_span_whose_context_pantry_receives(
    pantry_server: RunningServer, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, exporter = spans
    tracer = provider.get_tracer("test")
    transport = Recording()
    client = PantryClient(pantry_server.base_url, SERVICE_TOKEN, transport=transport, tracer=tracer)
    with tracer.start_as_current_span("tools/call search_recipes") as parent:
        await client.search_recipes(unique("traced"), q="secret-lentil-query")
        with pytest.raises(PantryNotFound):
            await client.get_recipe(unique("traced"), "no-such-recipe")
    await client.aclose()
    search, missing, _ = only(exporter)
    assert search.name == "GET /recipes"
    assert search.kind is SpanKind.CLIENT
    assert search.parent is not None
    assert search.parent.span_id == parent.get_span_context().span_id
    assert dict(search.attributes or {}) == {
        "http.request.method": "GET",
        "url.template": "/recipes",
        "server.address": "127.0.0.1",
        "server.port": pantry_server.port,
        "http.response.status_code": 200,
    }
    assert search.status.status_code is StatusCode.UNSET
    sent = transport.headers[0]["traceparent"]
    assert sent.split("-")[1:3] == [
        format(search.context.trace_id, "032x"),
        format(search.context.span_id, "016x"),
    ]
    assert missing.name == "GET /recipes/{recipe_id}"
    assert missing.status.status_code is StatusCode.ERROR
    assert missing.status.description is None  # Pantry's message may quote the id
    assert (missing.attributes or {})["error.type"] == "404"
    assert "secret-lentil-query" not in repr([s.to_json() for s in only(exporter)])


async def test_a_retried_read_is_a_span_per_attempt(
    pantry_server: RunningServer, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, exporter = spans
    transport = Recording(fail_first=1)
    client = PantryClient(
        pantry_server.base_url, SERVICE_TOKEN, transport=transport, tracer=provider.get_tracer("t")
    )
    await client.list_plans(unique("traced"))
    await client.aclose()
    first, second = only(exporter)
    assert (first.attributes or {})["error.type"] == "503"
    assert "http.request.resend_count" not in (first.attributes or {})
    assert (second.attributes or {})["http.request.resend_count"] == 1
    assert (second.attributes or {})["http.response.status_code"] == 200
    assert first.context.trace_id != second.context.trace_id  # no parent: each its own root
    assert transport.headers[0]["traceparent"] != transport.headers[1]["traceparent"]


async def test_an_unreachable_pantry_is_named_without_a_status(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    client = PantryClient(
        "http://127.0.0.1:9", SERVICE_TOKEN, timeout=2, tracer=provider.get_tracer("t")
    )
    with pytest.raises(PantryUnavailable, match="could not be reached"):
        await client.get_recipe(unique("traced"), "shakshuka")
    await client.aclose()
    attempts = only(exporter)  # a read is tried three times
    assert [(a.attributes or {}).get("http.request.resend_count") for a in attempts] == [
        None,
        1,
        2,
    ]
    for attempt in attempts:
        assert (attempt.attributes or {})["error.type"] == "unreachable"
        assert "http.response.status_code" not in (attempt.attributes or {})


def test_log_lines_inside_a_span_name_it(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, _ = spans
    assert add_trace_ids(None, "info", {"event": "outside"}) == {"event": "outside"}
    with provider.get_tracer("t").start_as_current_span("inside") as span:
        line = add_trace_ids(None, "info", {"event": "inside"})
    context = span.get_span_context()
    assert line["trace_id"] == format(context.trace_id, "032x")
    assert line["span_id"] == format(context.span_id, "016x")
