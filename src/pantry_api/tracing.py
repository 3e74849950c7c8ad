"""OpenTelemetry tracing of the Pantry service, off unless the standard variables ask for it.

Only the standard ``OTEL_*`` variables configure it: an OTLP endpoint turns it on,
``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none`` keep it off. The SDK and the
exporter are imported in :func:`start` only, so a service without tracing loads neither
and starts no export thread.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from opentelemetry import trace

from pantry_api.config import ConfigError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from sqlalchemy.ext.asyncio import AsyncEngine

DEFAULT_SERVICE_NAME = "pantry-api"
SUPPORTED_PROTOCOL = "http/protobuf"
_ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_PROTOCOLS = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")


def wanted(environ: Mapping[str, str]) -> bool:
    """Whether the environment asks for traces; ConfigError for what we cannot honour."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    endpoint = next(
        ((name, environ[name].strip()) for name in _ENDPOINTS if environ.get(name, "").strip()),
        None,
    )
    if endpoint is None:
        return False
    if exporter not in ("", "otlp"):
        raise ConfigError(
            f"OTEL_TRACES_EXPORTER must be otlp or none, got {environ['OTEL_TRACES_EXPORTER']!r}"
        )
    name, url = endpoint
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # Not echoed: an endpoint URL may carry credentials.
        raise ConfigError(f"{name} must be an http:// or https:// URL with a host")
    for variable in _PROTOCOLS:
        protocol = environ.get(variable, "").strip()
        if protocol:
            if protocol.lower() != SUPPORTED_PROTOCOL:
                raise ConfigError(
                    f"{variable} must be http/protobuf (OTLP over HTTP, usually port 4318): "
                    f"only http/protobuf is supported, got {protocol!r}"
                )
            break
    return True


@dataclass(frozen=True)
class Tracing:
    """The tracer provider Pantry's spans go to, and the tracer of its request spans."""

    provider: TracerProvider
    tracer: trace.Tracer

    @classmethod
    def using(cls, provider: TracerProvider, version: str) -> Tracing:
        """Trace into ``provider`` without making it the global one (tests hand theirs in)."""
        return cls(provider, provider.get_tracer("pantry_api", version))

    def instrument(self, engine: AsyncEngine) -> None:
        """A CLIENT span for every SQL statement run on ``engine`` (pantry_api.traced_sql)."""
        from pantry_api.traced_sql import trace_statements

        trace_statements(engine.sync_engine, self.tracer)

    def settle(self) -> None:
        """Once start-up is done: what exists now lives as long as the process, so the
        collector stops walking it. Spans waiting in the export queue outlive the young
        generations and make full collections frequent; each would otherwise walk the
        whole catalog of models and modules again."""
        gc.collect()
        gc.freeze()

    def shutdown(self) -> None:
        """Export what is still queued, then stop the export thread."""
        self.provider.shutdown()


def start(version: str) -> Tracing:
    """The global tracer provider, configured from the standard OTEL_* variables."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # Resource.create reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; attributes
    # passed to it win over those, so the default name is merged in only when unnamed.
    resource = Resource.create({SERVICE_VERSION: version})
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
    # The sampler (OTEL_TRACES_SAMPLER) and the exporter's endpoint, headers, timeout and
    # compression come from the environment, read by the SDK itself.
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return Tracing.using(provider, version)


def add_trace_ids(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    """structlog processor: the current span's trace and span ids, to find a line's trace."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict["trace_id"] = trace.format_trace_id(context.trace_id)
        event_dict["span_id"] = trace.format_span_id(context.span_id)
    return event_dict
