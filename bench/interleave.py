"""Paired latency: requests to several targets taken in turn, one at a time, over one kept-alive
connection each, so that every target's sample sits next to the others' in time.

A wrk round per target compares targets a second or more apart; when the upstream's own time
drifts by as much as the difference being measured (Pantry's search: about 4 ms, moving by
±0.3 ms between rounds, against a hop of about 0.5 ms), rounds need many repeats and still
scatter. Here a *cycle* sends one request to each target, back to back, starting with the
next target in turn; what a target adds over the baseline is taken per cycle and summarised
by the median over all cycles, so drift slower than a cycle (about 15 ms) cancels. A
bootstrap over cycles gives the estimate's spread.

The client is deliberately thin and the same for every target: pre-built request bytes, a
blocking socket, httptools' C parser, ``perf_counter_ns`` from the first byte sent to the
last byte parsed. It runs in the bench process (one request in flight at a time, like wrk
with one connection).
"""

from __future__ import annotations

import json
import random
import socket
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httptools

BOOTSTRAP_RESAMPLES = 200
RECEIVE_BYTES = 256 * 1024


@dataclass(frozen=True)
class Probe:
    """One target: its URL, request method, headers and body, and a check of each answer's
    body (a raised error ends the run: a fast wrong answer must not count)."""

    url: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    check: Callable[[bytes], None] = lambda body: None


class _Answer:
    """httptools' callbacks for one response."""

    def __init__(self) -> None:
        self.body = bytearray()
        self.complete = False

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.complete = True


class _Connection:
    def __init__(self, probe: Probe, timeout: float) -> None:
        parts = urlsplit(probe.url)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise ValueError(f"need http://host:port/..., not {probe.url}")
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        lines = [f"{probe.method} {target} HTTP/1.1", f"Host: {parts.hostname}:{parts.port}"]
        lines += [f"{name}: {value}" for name, value in probe.headers.items()]
        if probe.body or probe.method != "GET":
            lines.append(f"Content-Length: {len(probe.body)}")
        self.request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + probe.body
        self.check = probe.check
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def exchange(self) -> int:
        """Send the request, read the whole answer; nanoseconds from send to last byte."""
        answer = _Answer()
        parser = httptools.HttpResponseParser(answer)
        started = time.perf_counter_ns()
        self.sock.sendall(self.request)
        while not answer.complete:
            data = self.sock.recv(RECEIVE_BYTES)
            if not data:
                raise ConnectionError("the server closed the connection mid-answer")
            parser.feed_data(data)
        elapsed = time.perf_counter_ns() - started
        if parser.get_status_code() != 200:
            raise RuntimeError(f"answered {parser.get_status_code()}: {bytes(answer.body)[:300]!r}")
        self.check(bytes(answer.body))
        return elapsed

    def close(self) -> None:
        self.sock.close()


def rotated(names: Sequence[str], cycle: int) -> list[str]:
    """Cycle ``cycle``'s order: each cycle starts one target further on."""
    shift = cycle % len(names)
    return [*names[shift:], *names[:shift]]


def cycles(
    probes: Mapping[str, Probe],
    seconds: float,
    *,
    burst: int = 1,
    warmup: int = 20,
    timeout: float = 10.0,
) -> list[dict[str, float]]:
    """Run cycles for ``seconds``; each cycle's latency per target, in milliseconds.

    ``burst`` 1: one request per target and cycle, each target idle while the others
    answer (as a server is between the calls of a conversation). Above 1: ``burst``
    requests back to back per target and cycle, the first left out and the median of the
    rest taken (a server kept busy, as wrk keeps it)."""
    names = list(probes)
    connections = {name: _Connection(probe, timeout) for name, probe in probes.items()}

    def sample(connection: _Connection) -> float:
        times = [connection.exchange() / 1e6 for _ in range(burst)]
        return times[0] if burst == 1 else statistics.median(times[1:])

    try:
        for number in range(warmup):
            for name in rotated(names, number):
                connections[name].exchange()
        samples = []
        deadline = time.monotonic() + seconds
        number = 0
        while time.monotonic() < deadline:
            samples.append({name: sample(connections[name]) for name in rotated(names, number)})
            number += 1
        return samples
    finally:
        for connection in connections.values():
            connection.close()


def added(samples: Sequence[Mapping[str, float]], target: str, baseline: str) -> float:
    """Median over cycles of what ``target`` took beyond ``baseline``, ms."""
    return statistics.median(s[target] - s[baseline] for s in samples)


def multiple(
    samples: Sequence[Mapping[str, float]], target: str, yardstick: str, baseline: str
) -> float:
    """What ``target`` adds over ``baseline``, as a multiple of what ``yardstick`` adds."""
    return added(samples, target, baseline) / max(added(samples, yardstick, baseline), 1e-3)


def spread(
    samples: Sequence[Mapping[str, float]],
    estimate: Callable[[Sequence[Mapping[str, float]]], float],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 20,
) -> tuple[float, float]:
    """A 95% bootstrap interval of ``estimate`` over cycles (resampled with replacement)."""
    chooser = random.Random(seed)
    values = sorted(estimate(chooser.choices(samples, k=len(samples))) for _ in range(resamples))
    return values[int(0.025 * resamples)], values[int(0.975 * resamples) - 1]


def summary(
    samples: Sequence[Mapping[str, float]], target: str, yardstick: str, baseline: str
) -> dict[str, Any]:
    """The paired figures for a report: both added medians, the multiple and its interval."""
    low, high = spread(samples, lambda s: multiple(s, target, yardstick, baseline))
    return {
        "cycles": len(samples),
        "added_p50_ms": round(added(samples, target, baseline), 3),
        "yardstick_added_p50_ms": round(added(samples, yardstick, baseline), 3),
        "multiple": round(multiple(samples, target, yardstick, baseline), 2),
        "multiple_95": [round(low, 2), round(high, 2)],
        "p50_ms": {
            name: round(statistics.median(s[name] for s in samples), 3) for name in samples[0]
        },
    }


def json_body(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()
