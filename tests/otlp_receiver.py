"""A small OTLP/HTTP trace receiver on 127.0.0.1, for tests: it decodes the official
protobuf messages (``ExportTraceServiceRequest``) the way a collector would, and keeps
every span it was sent, with its service name, for the test to inspect."""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanMessage
from opentelemetry.proto.trace.v1.trace_pb2 import Status
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support import serve_in_thread

PROTOBUF = "application/x-protobuf"
KINDS = {
    SpanMessage.SPAN_KIND_INTERNAL: "internal",
    SpanMessage.SPAN_KIND_SERVER: "server",
    SpanMessage.SPAN_KIND_CLIENT: "client",
    SpanMessage.SPAN_KIND_PRODUCER: "producer",
    SpanMessage.SPAN_KIND_CONSUMER: "consumer",
}


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, Any]
    error: bool
    status_message: str
    events: list[tuple[str, dict[str, Any]]]
    links: list[tuple[str, str]]  # (trace id, span id)
    resource: dict[str, Any]
    start_ns: int
    end_ns: int

    def everything(self) -> str:
        """All the span says, as text: what a test for leaked secrets searches."""
        return repr((self.name, self.attributes, self.status_message, self.events, self.resource))


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


def _attributes(pairs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in pairs}


@dataclass
class Receiver:
    spans: list[ReceivedSpan] = field(default_factory=list)
    requests: int = 0
    changed: threading.Condition = field(default_factory=threading.Condition)
    url: str = ""

    def endpoint(self) -> str:
        """``OTEL_EXPORTER_OTLP_ENDPOINT`` for a service sending here."""
        return self.url

    def take(self, body: bytes) -> None:
        message = ExportTraceServiceRequest()
        message.ParseFromString(body)
        received = []
        for resource_spans in message.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            service=str(resource.get("service.name", "")),
                            name=span.name,
                            kind=KINDS.get(span.kind, "unspecified"),
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            attributes=_attributes(span.attributes),
                            error=span.status.code == Status.STATUS_CODE_ERROR,
                            status_message=span.status.message,
                            events=[(e.name, _attributes(e.attributes)) for e in span.events],
                            links=[(lk.trace_id.hex(), lk.span_id.hex()) for lk in span.links],
                            resource=resource,
                            start_ns=span.start_time_unix_nano,
                            end_ns=span.end_time_unix_nano,
                        )
                    )
        with self.changed:
            self.requests += 1
            self.spans.extend(received)
            self.changed.notify_all()

    def wait_for(
        self, condition: Callable[[list[ReceivedSpan]], bool], timeout: float = 20.0
    ) -> list[ReceivedSpan]:
        """The spans received, once ``condition`` holds of them (or AssertionError)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not condition(self.spans):
                left = deadline - time.monotonic()
                if left <= 0:
                    names = sorted({(s.service, s.name) for s in self.spans})
                    raise AssertionError(f"spans never arrived; received so far: {names}")
                self.changed.wait(left)
            return list(self.spans)

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        with self.changed:
            return [s for s in self.spans if s.trace_id == trace_id]

    def app(self) -> Starlette:
        async def traces(request: Request) -> Response:
            body = await request.body()
            encoding = request.headers.get("content-encoding", "")
            try:
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                if request.headers.get("content-type") != PROTOBUF:
                    return Response("only application/x-protobuf", status_code=415)
                self.take(body)
            except (DecodeError, OSError, zlib.error):
                return Response("undecodable", status_code=400)
            reply = ExportTraceServiceResponse().SerializeToString()
            return Response(reply, media_type=PROTOBUF)

        return Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])])


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    with serve_in_thread(receiver.app()) as server:
        receiver.url = server.base_url
        yield receiver


def children(spans: list[ReceivedSpan], parent: ReceivedSpan) -> list[ReceivedSpan]:
    return [s for s in spans if s.parent_id == parent.span_id and s.trace_id == parent.trace_id]


def render(spans: list[ReceivedSpan], root: ReceivedSpan, width: int = 32) -> str:
    """A trace as text: the tree under ``root``, each span's service, kind and duration,
    and a bar placing it in time (what a tracing UI's waterfall shows)."""
    total = max(root.end_ns - root.start_ns, 1)
    rows: list[tuple[str, ReceivedSpan]] = []

    def walk(span: ReceivedSpan, prefix: str, last: bool, depth: int) -> None:
        branch = "" if depth == 0 else ("└─ " if last else "├─ ")
        rows.append((prefix + branch + span.name, span))
        below = sorted(children(spans, span), key=lambda s: s.start_ns)
        inner = prefix + ("" if depth == 0 else ("   " if last else "│  "))
        for index, child in enumerate(below):
            walk(child, inner, index == len(below) - 1, depth + 1)

    walk(root, "", True, 0)
    name_width = max(len(label) for label, _ in rows)
    lines = []
    for label, span in rows:
        start = round((span.start_ns - root.start_ns) / total * width)
        length = max(1, round((span.end_ns - span.start_ns) / total * width))
        bar = (" " * start + "█" * length)[:width].ljust(width)
        ms = (span.end_ns - span.start_ns) / 1e6
        lines.append(
            f"{label.ljust(name_width)}  {span.service:<10} {span.kind:<6} {ms:7.2f} ms  |{bar}|"
        )
    return "\n".join(lines)
