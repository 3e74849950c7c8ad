"""Prometheus metrics, one registry per app (so two apps in one process never mix).

What operators watch: HTTP requests by route and status; MCP requests and tool calls by
name and outcome, with latency histograms; upstream Pantry calls by path template and
status; authentication failures by reason; stateful sessions open (in the stateful mode).

One worker keeps its values in plain dicts (``metric_tallies``: a tenth of the cost of
prometheus-client's locked metrics on every request) and renders them at a scrape, even if
PROMETHEUS_MULTIPROC_DIR happens to be set. Under ``serve --workers N`` (N > 1) every
worker writes its values into one directory instead (prometheus-client's multiprocess
mode, chosen by PROMETHEUS_MULTIPROC_DIR, which the parent sets before the workers start)
and a scrape, whichever worker or the parent answers it, sums them all. The values then
live in per-process files keyed by metric and labels, not in the registry, so there it is
one app per process. Either way the families, their labels and their text are the same.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector

from pantry_mcp.client import UpstreamCall
from pantry_mcp.metric_tallies import Labels, Tallies

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ROUTES = frozenset(
    {
        "/mcp",
        "/healthz",
        "/readyz",
        "/metrics",
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    }
)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def shared_directory() -> str:
    """The directory every worker writes its values into. The mode is fixed when
    prometheus-client is first imported, so it is asked, not the environment alone."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory or not getattr(values.ValueClass, "_multiprocess", False):
        raise RuntimeError(
            "several workers need PROMETHEUS_MULTIPROC_DIR set before prometheus_client is "
            "imported (pantry_mcp.workers does it)"
        )
    return directory


def all_workers(directory: str) -> CollectorRegistry:
    """A registry whose every collection reads and sums the files of all workers, live and
    exited (a counter must not go down when a worker is replaced)."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return registry


class CounterFamily(Protocol):
    def inc(self, labels: Labels, amount: float = 1.0) -> None: ...


class HistogramFamily(Protocol):
    def observe(self, labels: Labels, value: float) -> None: ...


class _Shared:
    """prometheus-client's own metrics (in multiprocess mode, each worker's values in its
    files), behind the interface the tallies have; children are looked up once per labels."""

    def __init__(self, metric: Any) -> None:
        self._metric = metric
        self._children: dict[Labels, Any] = {}

    def _child(self, labels: Labels) -> Any:
        child = self._children.get(labels)
        if child is None:  # every label here is from a closed set: the cache is bounded
            child = self._children[labels] = self._metric.labels(*labels)
        return child

    def inc(self, labels: Labels, amount: float = 1.0) -> None:
        self._child(labels).inc(amount)

    def observe(self, labels: Labels, value: float) -> None:
        self._child(labels).observe(value)


class _SharedFamilies:
    """Families as prometheus-client metrics registered in ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def counter(self, name: str, documentation: str, labelnames: Sequence[str]) -> _Shared:
        return _Shared(Counter(name, documentation, labelnames, registry=self._registry))

    def histogram(
        self, name: str, documentation: str, labelnames: Sequence[str], buckets: Sequence[float]
    ) -> _Shared:
        metric = Histogram(
            name, documentation, labelnames, buckets=buckets, registry=self._registry
        )
        return _Shared(metric)


class Metrics:
    def __init__(self, *, workers: int = 1) -> None:
        """``workers``: the processes serving the port; above one, render all of them."""
        self.registry = CollectorRegistry()
        families: Tallies | _SharedFamilies
        if workers == 1:
            self._exported = self.registry
            families = Tallies()
            self.registry.register(families)
        else:
            self._exported = all_workers(shared_directory())
            families = _SharedFamilies(self.registry)
        self.http_requests: CounterFamily = families.counter(
            "pantry_mcp_http_requests", "HTTP requests by route and status.", ["route", "status"]
        )
        self.mcp_requests: CounterFamily = families.counter(
            "pantry_mcp_requests", "MCP requests by method and outcome.", ["method", "outcome"]
        )
        self.mcp_latency: HistogramFamily = families.histogram(
            "pantry_mcp_request_duration_seconds",
            "MCP request latency by method.",
            ["method"],
            LATENCY_BUCKETS,
        )
        self.tool_calls: CounterFamily = families.counter(
            "pantry_mcp_tool_calls",
            "Tool calls by tool and outcome (ok, tool_error, error).",
            ["tool", "outcome"],
        )
        self.tool_latency: HistogramFamily = families.histogram(
            "pantry_mcp_tool_call_duration_seconds",
            "Tool call latency by tool.",
            ["tool"],
            LATENCY_BUCKETS,
        )
        self.upstream_calls: CounterFamily = families.counter(
            "pantry_mcp_upstream_calls",
            "Calls to Pantry by method, path template and status.",
            ["method", "path", "status"],
        )
        self.upstream_latency: HistogramFamily = families.histogram(
            "pantry_mcp_upstream_duration_seconds",
            "Pantry call latency by path template.",
            ["method", "path"],
            LATENCY_BUCKETS,
        )
        self.auth_failures: CounterFamily = families.counter(
            "pantry_mcp_auth_failures",
            "Requests refused by the bearer check, by reason.",
            ["reason"],
        )
        self.elicitations: CounterFamily = families.counter(
            "pantry_mcp_elicitations",
            "Questions put to the person (preferences), by outcome: asked, accepted, "
            "declined, cancelled, invalid.",
            ["outcome"],
        )

    def elicitation(self, outcome: str) -> None:
        self.elicitations.inc((outcome,))

    def watch_sessions(self, count: Callable[[], int]) -> None:
        """Report the stateful sessions open now, read from ``count`` at every scrape."""
        if self._exported is not self.registry:
            # A function gauge is read in-process, which a sum over files cannot do; and
            # stateful sessions cannot be split between workers anyway (config.with_workers).
            raise RuntimeError("stateful sessions need one worker: no multiprocess metrics")
        sessions = Gauge(
            "pantry_mcp_sessions_open",
            "Stateful 2025-11-25 sessions open now (each holds memory until it ends or idles out).",
            registry=self.registry,
        )
        sessions.set_function(count)

    def http_request(self, path: str, status: int) -> None:
        self.http_requests.inc((path if path in ROUTES else "other", str(status)))

    def mcp_request(
        self,
        method: str,
        tool: str | None,
        outcome: str,
        seconds: float,
        upstream: Iterable[UpstreamCall],
    ) -> None:
        self.mcp_requests.inc((method, outcome))
        self.mcp_latency.observe((method,), seconds)
        if method == "tools/call" and tool is not None:
            self.tool_calls.inc((tool, outcome))
            self.tool_latency.observe((tool,), seconds)
        for call in upstream:
            status = str(call.status) if call.status is not None else "no_answer"
            self.upstream_calls.inc((call.method, call.path, status))
            self.upstream_latency.observe((call.method, call.path), call.duration_ms / 1000)

    def auth_failure(self, reason: str) -> None:
        self.auth_failures.inc((reason,))

    def render(self) -> bytes:
        return generate_latest(self._exported)
