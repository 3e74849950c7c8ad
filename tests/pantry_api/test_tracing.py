"""OpenTelemetry tracing: the request span, the SQL spans beneath it (SQLite and
PostgreSQL), what is never recorded, and the switch made of the standard OTEL_* variables.

The real app on a real database, tracing into an in-memory exporter handed to
``create_app`` (the process-wide tracer provider is left alone: it can be set only once).
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode, format_span_id, format_trace_id
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pantry_api import __version__ as VERSION
from pantry_api import cli
from pantry_api.app import create_app
from pantry_api.config import ConfigError, Settings
from pantry_api.store.db import Database
from pantry_api.traced_requests import TracedRequests
from pantry_api.tracing import Tracing, add_trace_ids, wanted
from tests.pantry_api.conftest import ENGINES, SERVICE_TOKEN, settings_for
from tests.pantry_api.fake_workos import API_KEY, FakeWorkOS
from tests.pantry_api.login_support import (
    SESSION_SECRET,
    World,
    browser,
    make_person,
    new_external_auth_id,
    open_form,
    submit,
)
from tests.pantry_api.test_login_serve import pantry_process, wait_until_up
from tests.support import serve_in_thread, unique

pytestmark = pytest.mark.anyio
ENDPOINT = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector.example:4318"}
SERVER_ATTRIBUTES = {
    "http.request.method",
    "http.route",
    "http.response.status_code",
    "url.scheme",
    "network.protocol.version",
    "user.id",
}


class Spans(InMemorySpanExporter):
    """The in-memory exporter, plus a wait: a request span ends just after the response
    has gone out, so the client may see the answer before the span is exported."""

    def __init__(self) -> None:
        super().__init__()
        self._exported = threading.Condition()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = super().export(spans)
        with self._exported:
            self._exported.notify_all()
        return result

    async def request(
        self, *, user: str | None = None, trace_id: int | None = None, status: int | None = None
    ) -> Trace:
        """The trace of the one request made as ``user`` or in ``trace_id`` (answered
        ``status``), once its span has ended."""

        def server_span(span: ReadableSpan) -> bool:
            attributes = span.attributes or {}
            return (
                span.kind is SpanKind.SERVER
                and (user is None or attributes.get("user.id") == user)
                and (trace_id is None or span.context.trace_id == trace_id)
                and (status is None or attributes.get("http.response.status_code") == status)
            )

        def wait() -> list[ReadableSpan]:
            with self._exported:
                self._exported.wait_for(
                    lambda: any(map(server_span, self.get_finished_spans())), timeout=10
                )
            return [span for span in self.get_finished_spans() if server_span(span)]

        found = await anyio.to_thread.run_sync(wait)
        assert len(found) == 1, f"expected one request span, got {[s.name for s in found]}"
        server = found[0]
        inside = [
            span
            for span in self.get_finished_spans()
            if span.context.trace_id == server.context.trace_id and span is not server
        ]
        return Trace(server, inside)


@dataclass(frozen=True)
class Trace:
    server: ReadableSpan
    inside: list[ReadableSpan]

    @property
    def sql(self) -> list[ReadableSpan]:
        return [span for span in self.inside if span.kind is SpanKind.CLIENT]

    @property
    def attributes(self) -> dict[str, Any]:
        return dict(self.server.attributes or {})


def tracing_into(spans: Spans) -> Tracing:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    return Tracing.using(provider, VERSION)


def traceparent() -> tuple[str, int, int]:
    trace_id, parent_id = secrets.randbits(128) | 1, secrets.randbits(64) | 1
    return f"00-{trace_id:032x}-{parent_id:016x}-01", trace_id, parent_id


def headers(user: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {SERVICE_TOKEN}", "X-Pantry-User": user, **extra}


@dataclass(frozen=True)
class Traced:
    base_url: str
    database_url: str
    spans: Spans
    workos: FakeWorkOS


@pytest.fixture(scope="module", params=ENGINES)
def traced(
    request: pytest.FixtureRequest, database_factory: Callable[[str], str]
) -> Iterator[Traced]:
    """A seeded, traced Pantry per engine, its sign-in page wired to a fake WorkOS."""
    database_url = database_factory(request.param)
    spans, workos = Spans(), FakeWorkOS()
    with serve_in_thread(workos.app()) as fake:
        settings = settings_for(
            database_url,
            PANTRY_API_WORKOS_API_KEY=API_KEY,
            PANTRY_API_WORKOS_API_BASE=fake.base_url,
            PANTRY_API_SESSION_SECRET=SESSION_SECRET,
        )
        with serve_in_thread(create_app(settings, tracing=tracing_into(spans))) as server:
            yield Traced(server.base_url, database_url, spans, workos)


async def test_a_request_continues_the_callers_trace_with_its_sql_beneath(
    traced: Traced,
) -> None:
    header, trace_id, parent_id = traceparent()
    user = unique("traced")
    async with httpx2.AsyncClient(base_url=traced.base_url, headers=headers(user)) as client:
        recipe_id = (await client.get("/recipes")).json()["items"][0]["id"]
        response = await client.get(f"/recipes/{recipe_id}", headers={"traceparent": header})
    assert response.status_code == 200, response.text

    found = await traced.spans.request(trace_id=trace_id)
    server = found.server
    assert server.name == "GET /recipes/{recipe_id}"
    assert server.parent is not None and server.parent.is_remote
    assert (server.context.trace_id, server.parent.span_id) == (trace_id, parent_id)
    assert found.attributes == {
        "http.request.method": "GET",
        "http.route": "/recipes/{recipe_id}",
        "http.response.status_code": 200,
        "url.scheme": "http",
        "network.protocol.version": "1.1",
        "user.id": user,
    }
    assert server.status.status_code is StatusCode.UNSET
    # Every statement of the request is a child of its span, with placeholders only.
    statements = [str((span.attributes or {}).get("db.query.text")) for span in found.sql]
    assert any("FROM recipes" in statement for statement in statements), statements
    for span in found.inside:
        assert span.kind is SpanKind.CLIENT
        assert span.parent is not None and span.parent.span_id == server.context.span_id
        assert recipe_id not in span.to_json()


async def test_sql_spans_follow_the_stable_database_conventions(traced: Traced) -> None:
    """Named ``{operation} {database}``; the file's name on SQLite, never its path; the
    write lock's BEGIN IMMEDIATE has a span, the instant deferred BEGIN none."""
    user = unique("sql")
    async with httpx2.AsyncClient(base_url=traced.base_url, headers=headers(user)) as client:
        changed = await client.post(
            "/pantry/items", json={"ingredient_id": "egg", "quantity": 6, "unit": "piece"}
        )
    assert changed.status_code in (200, 201), changed.text
    found = await traced.spans.request(user=user, status=changed.status_code)
    sqlite = traced.database_url.startswith("sqlite")
    namespace = Path(traced.database_url.split("///", 1)[1]).name if sqlite else None
    for span in found.sql:
        attributes = dict(span.attributes or {})
        assert attributes["db.system.name"] == ("sqlite" if sqlite else "postgresql")
        operation = attributes["db.operation.name"]
        assert str(attributes["db.query.text"]).split()[0].upper() == operation
        database = attributes["db.namespace"]
        assert span.name == f"{operation} {database}"
        if sqlite:
            assert database == namespace
            assert "/" not in span.name
        else:
            assert attributes["server.address"] == "127.0.0.1"
            assert attributes["server.port"] == 5432
    texts = [str((s.attributes or {})["db.query.text"]) for s in found.sql]
    assert "BEGIN" not in texts
    if sqlite:
        assert "BEGIN IMMEDIATE" in texts
    assert any(t.startswith("INSERT") for t in texts), texts


async def test_a_request_without_traceparent_starts_a_new_trace(traced: Traced) -> None:
    user = unique("fresh")
    async with httpx2.AsyncClient(base_url=traced.base_url, headers=headers(user)) as client:
        assert (await client.get("/pantry")).status_code == 200
    found = await traced.spans.request(user=user)
    assert found.server.parent is None
    assert found.server.name == "GET /pantry"
    assert found.sql and all(
        span.parent is not None and span.parent.span_id == found.server.context.span_id
        for span in found.sql
    )


async def test_a_404_is_not_an_error_and_an_unknown_path_has_no_route(traced: Traced) -> None:
    missing, nowhere = unique("missing"), unique("nowhere")
    async with httpx2.AsyncClient(base_url=traced.base_url) as client:
        assert (await client.get("/recipes/no-such", headers=headers(missing))).status_code == 404
        assert (await client.get("/no/such/path", headers=headers(nowhere))).status_code == 404

    routed = await traced.spans.request(user=missing)
    assert routed.server.name == "GET /recipes/{recipe_id}"
    assert routed.attributes["http.response.status_code"] == 404
    unrouted = await traced.spans.request(user=nowhere)
    assert unrouted.server.name == "GET"
    assert "http.route" not in unrouted.attributes
    assert unrouted.attributes["http.response.status_code"] == 404
    for span in (routed.server, unrouted.server):
        assert span.status.status_code is StatusCode.UNSET
        assert "error.type" not in (span.attributes or {})


async def test_nothing_recorded_holds_a_secret_a_search_term_or_a_parameter(
    traced: Traced,
) -> None:
    """The service token, the acting-user header, query values, posted passwords and
    emails, and values written to the database appear in no span of the whole run."""
    mark = secrets.token_hex(4)
    search, title, key = f"zucchini{mark}", f"Secret Supper {mark}", f"key-{mark}"
    ingredient, step = f"moon dust {mark}", f"Stir slowly {mark}."
    wrong_password = f"not-the-password-{mark}"
    user = unique("secretive")
    async with httpx2.AsyncClient(base_url=traced.base_url, headers=headers(user)) as client:
        assert (await client.get("/recipes", params={"q": search})).status_code == 200
        assert (await client.get("/pantry", params={"q": search})).status_code == 200
        saved = await client.post(
            "/recipes",
            json={
                "title": title,
                "total_minutes": 10,
                "ingredients": [{"name": ingredient, "quantity": 3, "unit": "g"}],
                "steps": [step],
            },
        )
        assert saved.status_code == 201, saved.text
        added = await client.post(
            "/pantry/items",
            json={"ingredient_id": "egg", "quantity": 2},
            headers={"Idempotency-Key": key},
        )
        assert added.status_code == 201, added.text
    world = World(traced.base_url, traced.database_url, traced.workos)
    person = await make_person(world)
    async with browser(world) as page:
        hidden = await open_form(page, new_external_auth_id())
        assert (await submit(page, hidden, person.email, wrong_password)).status_code == 400
        assert (await submit(page, hidden, person.email, person.password)).status_code == 303

    sign_in = [
        span
        for span in traced.spans.get_finished_spans()
        if span.kind is SpanKind.SERVER and span.name == "POST /auth/login"
    ]
    assert sign_in and all("user.id" not in (span.attributes or {}) for span in sign_in)
    everything = "\n".join(span.to_json() for span in traced.spans.get_finished_spans())
    assert f'"user.id": "{user}"' in everything  # the check below does look at the spans
    for secret in (
        SERVICE_TOKEN,
        "x-pantry-user",
        search,
        title,
        ingredient,
        step,
        key,
        wrong_password,
        person.password,
        person.email,
    ):
        assert secret.lower() not in everything.lower(), secret
    for span in traced.spans.get_finished_spans():
        if span.kind is SpanKind.SERVER:
            assert set(span.attributes or {}) <= SERVER_ATTRIBUTES | {"error.type"}
        assert not span.events  # no exception events: their text could quote a value


@contextmanager
def write_lock_held(database_url: str) -> Iterator[None]:
    """Another process's writer holding SQLite's write lock."""
    with closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as holder:
        holder.isolation_level = None
        holder.execute("BEGIN IMMEDIATE")
        yield
        holder.execute("ROLLBACK")


async def test_5xx_answers_are_errors_typed_by_status_or_by_exception(
    database_factory: Callable[[str], str],
) -> None:
    """A 503 rendered by the app: error.type "503". A failure that escapes the app (a
    table gone): Starlette answers 500 and re-raises, and error.type is the exception's."""
    database_url = database_factory("sqlite")
    spans = Spans()
    settings = settings_for(
        database_url, PANTRY_API_SEED="false", PANTRY_API_SQLITE_BUSY_TIMEOUT="0.05"
    )
    busy, broken = unique("busy"), unique("broken")
    with serve_in_thread(create_app(settings, tracing=tracing_into(spans))) as server:
        async with httpx2.AsyncClient(base_url=server.base_url) as client:
            assert (await client.get("/pantry", headers=headers(busy))).status_code == 200
            with write_lock_held(database_url):
                refused = await client.post(
                    "/pantry/items", json={"ingredient_id": "egg"}, headers=headers(busy)
                )
            assert refused.status_code == 503, refused.text
            with closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as db:
                db.execute("ALTER TABLE pantry_items RENAME TO pantry_items_gone")
            failed = await client.get("/pantry", headers=headers(broken))
            assert failed.status_code == 500, failed.text

    unavailable = await spans.request(user=busy, status=503)
    assert unavailable.server.name == "POST /pantry/items"
    assert unavailable.attributes["error.type"] == "503"
    assert unavailable.server.status.status_code is StatusCode.ERROR

    escaped = (await spans.request(user=broken)).server
    assert escaped.name == "GET /pantry" and escaped.status.status_code is StatusCode.ERROR
    assert dict(escaped.attributes or {}) == {
        "http.request.method": "GET",
        "http.route": "/pantry",
        "http.response.status_code": 500,
        "error.type": "OperationalError",
        "url.scheme": "http",
        "network.protocol.version": "1.1",
        "user.id": broken,
    }
    assert not escaped.events and escaped.status.description is None
    [failed_sql] = [
        span
        for span in spans.get_finished_spans()
        if span.context.trace_id == escaped.context.trace_id
        and span.status.status_code is StatusCode.ERROR
        and span.kind is SpanKind.CLIENT
    ]
    assert failed_sql.parent is not None and failed_sql.parent.span_id == escaped.context.span_id
    assert (failed_sql.attributes or {})["error.type"] == "OperationalError"
    assert failed_sql.status.description is None  # not the driver's message


@pytest.mark.postgres
async def test_a_failed_statement_keeps_the_drivers_message_off_the_span(
    database_factory: Callable[[str], str],
) -> None:
    """asyncpg's data errors quote the parameter; the span keeps only the error's type."""
    spans = Spans()
    db = Database(database_factory("postgresql"))
    tracing_into(spans).instrument(db.engine)
    value = f"not-a-number-{secrets.token_hex(4)}"
    try:
        with pytest.raises(Exception, match=value):  # the driver does quote it
            async with db.read() as conn:
                await conn.execute(text("SELECT CAST(:value AS integer)"), {"value": value})
    finally:
        await db.close()
    [span] = [s for s in spans.get_finished_spans() if s.status.status_code is StatusCode.ERROR]
    assert (span.attributes or {})["error.type"] == "DBAPIError"
    assert (span.attributes or {})["db.query.text"] == "SELECT CAST($1 AS integer)"
    assert span.status.description is None and value not in span.to_json()


def test_without_tracing_the_app_has_no_tracing_middleware_and_no_sql_spans(
    tmp_path: Path,
) -> None:
    app = create_app(settings_for(f"sqlite:///{tmp_path / 'pantry.db'}"))
    assert type(app) is Starlette
    layer: Any = app.build_middleware_stack()
    while layer is not None:
        assert not isinstance(layer, TracedRequests)
        layer = getattr(layer, "app", None)
    db: Database = app.state.db
    assert not db.engine.sync_engine.dispatch.before_cursor_execute


def test_without_tracing_neither_the_sdk_nor_an_export_thread_is_started(
    tmp_path: Path,
) -> None:
    """In a fresh interpreter: the settings, logging and the app as ``serve`` builds them."""
    program = f"""
import sys, threading
from pantry_api.app import create_app
from pantry_api.config import Settings
from pantry_api.logs import configure
settings = Settings.from_env({{
    "PANTRY_API_DATABASE_URL": "sqlite:///{tmp_path / "pantry.db"}",
    "PANTRY_API_SERVICE_TOKEN": "{SERVICE_TOKEN}",
}})
configure("info", "json", trace_ids=settings.tracing)
create_app(settings)
print(settings.tracing, sorted(m for m in sys.modules if m.startswith("opentelemetry.sdk")),
      threading.active_count())
"""
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == ["False", "[]", "1"], result.stdout + result.stderr


async def test_serve_exports_to_an_otlp_endpoint_and_logs_trace_ids(tmp_path: Path) -> None:
    """``pantry-api serve`` with an OTLP/HTTP endpoint: uvicorn's access lines carry the
    request's ids, and the spans reach the collector when the process is stopped."""
    received: list[ExportTraceServiceRequest] = []

    async def collect(request: Request) -> Response:
        received.append(ExportTraceServiceRequest.FromString(await request.body()))
        body = ExportTraceServiceResponse().SerializeToString()
        return Response(body, media_type="application/x-protobuf")

    header, trace_id, parent_id = traceparent()
    log = tmp_path / "pantry.log"
    collector = Starlette(routes=[Route("/v1/traces", collect, methods=["POST"])])
    with serve_in_thread(collector) as otlp:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PANTRY_API_DATA_DIR": str(tmp_path / "data"),
            "PANTRY_API_SERVICE_TOKEN": SERVICE_TOKEN,
            "PANTRY_API_SEED": "false",
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.base_url,
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=test",
        }
        with pantry_process(env, log) as base_url:
            await wait_until_up(base_url)
            async with httpx2.AsyncClient(base_url=base_url) as client:
                response = await client.get(
                    "/pantry", headers={**headers("demo"), "traceparent": header}
                )
                assert response.status_code == 200, response.text
        # Stopped (SIGTERM): the lifespan flushed the batch before the process ended.

    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    [access] = [line for line in lines if "GET /pantry" in line["event"]]
    assert access["logger"] == "uvicorn.access"
    assert access["trace_id"] == format_trace_id(trace_id)
    assert len(access["span_id"]) == 16 and access["span_id"] != format_span_id(parent_id)
    assert all("trace_id" not in line for line in lines if line["event"] == "pantry_api_ready")

    resource_spans = [rs for request in received for rs in request.resource_spans]
    resource = {a.key: a.value.string_value for a in resource_spans[0].resource.attributes}
    assert resource["service.name"] == "pantry-api"
    assert resource["service.version"] == VERSION
    assert resource["deployment.environment.name"] == "test"
    exported = [
        span
        for rs in resource_spans
        for scope in rs.scope_spans
        for span in scope.spans
        if span.trace_id == trace_id.to_bytes(16, "big")
    ]
    [server] = [span for span in exported if span.name == "GET /pantry"]
    assert server.parent_span_id == parent_id.to_bytes(8, "big")
    assert server.span_id.hex() == access["span_id"]
    assert any(span.parent_span_id == server.span_id for span in exported)  # SQL


def test_add_trace_ids_names_the_current_span_and_nothing_outside_one() -> None:
    tracer = TracerProvider().get_tracer("test")
    assert add_trace_ids(None, "info", {"event": "outside"}) == {"event": "outside"}
    with tracer.start_as_current_span("inside") as span:
        event = add_trace_ids(None, "info", {"event": "inside"})
    context = span.get_span_context()
    assert event == {
        "event": "inside",
        "trace_id": f"{context.trace_id:032x}",
        "span_id": f"{context.span_id:016x}",
    }
    assert len(event["trace_id"]) == 32 and event["trace_id"] == event["trace_id"].lower()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, False),
        (ENDPOINT, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://c.example/v1/traces"}, True),
        ({**ENDPOINT, "OTEL_SDK_DISABLED": "TRUE"}, False),
        ({**ENDPOINT, "OTEL_SDK_DISABLED": "false"}, True),
        ({**ENDPOINT, "OTEL_TRACES_EXPORTER": "none"}, False),
        ({**ENDPOINT, "OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({**ENDPOINT, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, True),
        # Off wins: a value we could not honour does not matter then.
        ({**ENDPOINT, "OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "zipkin"}, False),
        ({"OTEL_TRACES_EXPORTER": "console"}, False),
        (
            {
                **ENDPOINT,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
            },
            True,
        ),
    ],
)
def test_tracing_is_wanted_only_with_an_endpoint_and_not_switched_off(
    env: dict[str, str], expected: bool
) -> None:
    assert wanted(env) is expected


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OTEL_TRACES_EXPORTER": "console"}, "OTEL_TRACES_EXPORTER must be otlp or none"),
        ({"OTEL_TRACES_EXPORTER": "otlp,console"}, "OTEL_TRACES_EXPORTER must be otlp or none"),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "only http/protobuf is supported"),
        ({"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"}, "usually port 4318"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, "must be an http:// or https://"),
    ],
)
def test_a_value_tracing_cannot_honour_stops_start_up(env: dict[str, str], message: str) -> None:
    base = {"PANTRY_API_DATABASE_URL": "sqlite:///pantry.db", **ENDPOINT}
    with pytest.raises(ConfigError, match=message) as refused:
        Settings.from_env({**base, **env})
    assert "\n" not in str(refused.value)
    assert Settings.from_env(base).tracing is True
    assert Settings.from_env({"PANTRY_API_DATABASE_URL": "sqlite:///pantry.db"}).tracing is False


def test_serve_refuses_a_protocol_it_cannot_speak(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    assert cli.main(["serve"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("pantry-api: OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf")
