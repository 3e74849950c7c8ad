"""Prometheus metrics, one registry per app (so two apps in one process never mix).

What operators watch: HTTP requests by route and status; MCP requests and tool calls by
name and outcome, with latency histograms; upstream Pantry calls by path template and
status; authentication failures by reason; stateful sessions open (in the stateful mode).

Under ``serve --workers N`` (N > 1) every worker writes its values into one directory
(prometheus-client's multiprocess mode, chosen by PROMETHEUS_MULTIPROC_DIR, which the
parent sets before the workers start) and a scrape, whichever worker or the parent answers
it, sums them all. The values then live in per-process files keyed by metric and labels,
not in the registry, so there it is one app per process. One worker renders its own
registry, as it always has, even if PROMETHEUS_MULTIPROC_DIR happens to be set.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector

from pantry_mcp.client import UpstreamCall

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


class Metrics:
    def __init__(self, *, workers: int = 1) -> None:
        """``workers``: the processes serving the port; above one, render all of them."""
        self.registry = CollectorRegistry()
        self._exported = self.registry if workers == 1 else all_workers(shared_directory())
        r = self.registry
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self.http_requests = Counter(
            "pantry_mcp_http_requests",
            "HTTP requests by route and status.",
            ["route", "status"],
            registry=r,
        )
        self.mcp_requests = Counter(
            "pantry_mcp_requests",
            "MCP requests by method and outcome.",
            ["method", "outcome"],
            registry=r,
        )
        self.mcp_latency = Histogram(
            "pantry_mcp_request_duration_seconds",
            "MCP request latency by method.",
            ["method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.tool_calls = Counter(
            "pantry_mcp_tool_calls",
            "Tool calls by tool and outcome (ok, tool_error, error).",
            ["tool", "outcome"],
            registry=r,
        )
        self.tool_latency = Histogram(
            "pantry_mcp_tool_call_duration_seconds",
            "Tool call latency by tool.",
            ["tool"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_calls = Counter(
            "pantry_mcp_upstream_calls",
            "Calls to Pantry by method, path template and status.",
            ["method", "path", "status"],
            registry=r,
        )
        self.upstream_latency = Histogram(
            "pantry_mcp_upstream_duration_seconds",
            "Pantry call latency by path template.",
            ["method", "path"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.auth_failures = Counter(
            "pantry_mcp_auth_failures",
            "Requests refused by the bearer check, by reason.",
            ["reason"],
            registry=r,
        )

        self.elicitations = Counter(
            "pantry_mcp_elicitations",
            "Questions put to the person (preferences), by outcome: asked, accepted, "
            "declined, cancelled, invalid.",
            ["outcome"],
            registry=r,
        )

    def elicitation(self, outcome: str) -> None:
        self._child(self.elicitations, outcome).inc()

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

    def _child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, remembered: every label here comes from a closed set
        (known routes, methods, tools, path templates, statuses), so the cache is bounded,
        and the look-up is several times cheaper than prometheus-client's own."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def http_request(self, path: str, status: int) -> None:
        self._child(self.http_requests, path if path in ROUTES else "other", str(status)).inc()

    def mcp_request(
        self,
        method: str,
        tool: str | None,
        outcome: str,
        seconds: float,
        upstream: Iterable[UpstreamCall],
    ) -> None:
        self._child(self.mcp_requests, method, outcome).inc()
        self._child(self.mcp_latency, method).observe(seconds)
        if method == "tools/call" and tool is not None:
            self._child(self.tool_calls, tool, outcome).inc()
            self._child(self.tool_latency, tool).observe(seconds)
        for call in upstream:
            status = str(call.status) if call.status is not None else "no_answer"
            self._child(self.upstream_calls, call.method, call.path, status).inc()
            latency = self._child(self.upstream_latency, call.method, call.path)
            latency.observe(call.duration_ms / 1000)

    def auth_failure(self, reason: str) -> None:
        self.auth_failures.labels(reason).inc()

    def render(self) -> bytes:
        return generate_latest(self._exported)
