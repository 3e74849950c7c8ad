"""OpenTelemetry traces, configured only by the standard ``OTEL_*`` environment variables.

Off unless an OTLP endpoint is named (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_ENDPOINT``): then no SDK is imported, no exporter thread starts, and
nothing on the request path looks at tracing at all. When on, the official SDK reads the
rest itself: ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER``
(and its argument), ``OTEL_EXPORTER_OTLP_*`` headers, timeout and compression,
``OTEL_BSP_*`` batching, ``OTEL_PROPAGATORS``.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from opentelemetry import trace

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

SERVICE_NAME = "pantry-mcp"
SUPPORTED_PROTOCOL = "http/protobuf"


def wanted(env: Mapping[str, str]) -> bool:
    """Whether the environment asks for traces; ValueError for what we cannot honour."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
    if exporter == "none":
        return False
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if not endpoint:
        return False
    parts = urlsplit(endpoint.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # Not echoed: an endpoint URL may carry credentials.
        raise ValueError("the OTLP endpoint must be an http:// or https:// URL with a host")
    if exporter != "otlp":
        raise ValueError(
            f"OTEL_TRACES_EXPORTER={exporter!r} is not supported: use otlp (or none to turn "
            "traces off)"
        )
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or SUPPORTED_PROTOCOL
    ).strip()
    if protocol.lower() != SUPPORTED_PROTOCOL:
        raise ValueError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported: traces are sent as "
            "OTLP over HTTP (http/protobuf, a collector's port 4318)"
        )
    return True


@dataclass(frozen=True)
class Tracing:
    """The process's tracer provider while traces are on."""

    provider: TracerProvider

    def settle(self) -> None:
        """Once start-up is done: what exists now lives as long as the process, so the
        collector stops walking it. Spans waiting in the export queue outlive the young
        generations and make full collections frequent; each would otherwise walk every
        schema, model and module again (bench/tracing.py measures the difference)."""
        gc.collect()
        gc.freeze()

    def shutdown(self) -> None:
        """Send what is still batched, then stop the export thread."""
        self.provider.shutdown()


def start(version: str) -> Tracing:
    """The SDK with an OTLP/HTTP exporter, installed as the global provider (the SDK's own
    spans, such as a request the server sends the client, use it)."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.version": version})
    # Resource.create lets our attributes win over the environment's, so the default name
    # is added only when OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES gave none.
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": SERVICE_NAME}))
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return Tracing(provider)


def add_trace_ids(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor: a line written inside a span names its trace and span."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event["trace_id"] = format(context.trace_id, "032x")
        event["span_id"] = format(context.span_id, "016x")
    return event
