"""One worker's metrics, kept in plain dicts (``metric_tallies``), render exactly the text
prometheus-client's own metrics give for the same values, ``_created`` samples included."""

from __future__ import annotations

import re
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

from pantry_mcp.metric_tallies import Tallies, TallyHistogram
from pantry_mcp.metrics import LATENCY_BUCKETS, Metrics, _SharedFamilies

LABELS = st.sampled_from([("tools/call", "ok"), ("tools/list", "ok"), ("tools/call", "error")])
# bounds themselves, between them, zero and past the last (the +Inf bucket)
SECONDS = st.sampled_from([0.0, *LATENCY_BUCKETS, 0.007, 0.3, 42.0]) | st.floats(0, 20)
OPS = st.lists(st.tuples(st.booleans(), LABELS, SECONDS), max_size=40)
CREATED = re.compile(rb"^(\S+_created\{[^}]*\}) \S+$", re.MULTILINE)


def families(store: Tallies | _SharedFamilies) -> tuple[object, object, object]:
    counter = store.counter("demo_requests", "Requests.", ["method", "outcome"])
    histogram = store.histogram("demo_seconds", "Latency.", ["method"], LATENCY_BUCKETS)
    untouched = store.counter("demo_failures", "Never moved.", ["reason"])
    return counter, histogram, untouched


def text(registry: CollectorRegistry) -> bytes:
    return CREATED.sub(rb"\1 <created>", generate_latest(registry))


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(OPS)
def test_tallies_render_what_prometheus_client_renders(
    ops: list[tuple[bool, tuple[str, str], float]],
) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    tallies = Tallies()
    ours.register(tallies)
    mine, reference = families(tallies), families(_SharedFamilies(theirs))
    for count, labels, seconds in ops:
        for counter, histogram, _ in (mine, reference):
            if count:
                counter.inc(labels)  # type: ignore[attr-defined]
            else:
                histogram.observe(labels[:1], seconds)  # type: ignore[attr-defined]
    assert text(ours) == text(theirs)


def test_created_is_when_the_labels_were_first_seen() -> None:
    registry = CollectorRegistry()
    tallies = Tallies()
    registry.register(tallies)
    counter, histogram, _ = families(tallies)
    before = time.time()
    counter.inc(("tools/call", "ok"))  # type: ignore[attr-defined]
    histogram.observe(("tools/call",), 0.01)  # type: ignore[attr-defined]
    after = time.time()
    stamps = [float(line.rsplit(b" ", 1)[1]) for line in generate_latest(registry).splitlines()
              if b"_created{" in line]  # fmt: skip
    assert len(stamps) == 2
    assert all(before <= stamp <= after for stamp in stamps)


def test_a_value_on_a_bound_counts_in_that_bucket() -> None:
    histogram = TallyHistogram("demo_seconds", "Latency.", [], [0.005, 0.01])
    for value in (0.005, 0.0050001, 0.01, 11.0):
        histogram.observe((), value)
    samples = {
        s.labels.get("le"): s.value
        for s in histogram.family().samples
        if s.name.endswith("_bucket")
    }
    assert samples == {"0.005": 1.0, "0.01": 3.0, "+Inf": 4.0}


def test_buckets_must_be_finite_and_increasing() -> None:
    for wrong in ([], [0.1, 0.05], [0.1, float("inf")]):
        with pytest.raises(ValueError, match="buckets"):
            TallyHistogram("demo_seconds", "Latency.", [], wrong)


def test_one_worker_writes_no_prometheus_client_values() -> None:
    """Its families are tallies: nothing takes prometheus-client's per-value locks."""
    metrics = Metrics()
    metrics.mcp_request("tools/call", "search_recipes", "ok", 0.004, [])
    metrics.http_request("/mcp", 200)
    out = metrics.render().decode()
    assert 'pantry_mcp_tool_calls_total{outcome="ok",tool="search_recipes"} 1.0' in out
    assert 'pantry_mcp_request_duration_seconds_bucket{le="0.005",method="tools/call"} 1.0' in out
    assert 'pantry_mcp_http_requests_total{route="/mcp",status="200"} 1.0' in out
    assert type(metrics.tool_calls).__name__ == "TallyCounter"


def test_a_scrape_from_another_thread_sees_whole_values() -> None:
    """PANTRY_MCP_METRICS_ADDRESS scrapes from prometheus-client's server thread while the
    event loop records: the text must always parse and counts never go down."""
    metrics = Metrics()
    stop = threading.Event()

    def record() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            metrics.mcp_request("tools/call", f"tool{n % 300}", "ok", 0.004, [])

    writer = threading.Thread(target=record)
    writer.start()
    try:
        last = 0.0
        for _ in range(50):
            out = metrics.render().decode()
            total = sum(
                float(line.rsplit(" ", 1)[1])
                for line in out.splitlines()
                if line.startswith("pantry_mcp_requests_total{")
            )
            assert total >= last
            last = total
    finally:
        stop.set()
        writer.join()
    assert last > 0
