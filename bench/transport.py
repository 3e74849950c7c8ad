"""The HTTP client under pantry-mcp: httpx2's stock transport against Http1Transport.

pantry-mcp makes one or more HTTP calls to Pantry per tool call, and on a small machine the
client's CPU per call is what the hop costs. This sends the same GET (a search's path and
headers, a search-sized JSON answer) to a tiny Starlette app under uvicorn in its own
process, through ``httpx2.AsyncHTTPTransport`` and through ``pantry_mcp.http1.Http1Transport``
in turn, each request built and read in full as ``PantryClient._send`` does. The bench
process does nothing else, so its CPU time (``time.process_time``) is the client's alone.

Two modes: one request at a time (latency), and 16 at once (a busy replica). Rounds
alternate the two transports so that drift falls on both alike; each figure is the median
of the rounds. Run on uvloop (what uvicorn picks) and on the plain asyncio loop.

``python -m bench.transport serve PORT`` is the server.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

import httpx2
import uvloop
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tests.support import free_port

from bench import servers
from bench.processes import stop
from pantry_mcp.http1 import Http1Transport

TRANSPORTS = ("stock", "http1")
LABELS = {"stock": "httpx2.AsyncHTTPTransport", "http1": "Http1Transport"}
LOOPS = ("uvloop", "asyncio")
MODES = {"sequential": 1, "concurrent": 16}
REQUESTS = 2000  # per transport, mode and round
ROUNDS = 5
WARMUP = 300
PATH = "/recipes?q=chickpea&diet=vegan&max_minutes=30&page_size=10"
HEADERS = {
    "Authorization": "Bearer bench-service-token-0123456789",
    "Accept": "application/json",
    "X-Pantry-User": "demo",
}
TIMEOUTS = httpx2.Timeout(10.0, connect=3.0).as_dict()
# About the size of a Pantry search answer (ten recipes, no ingredients).
ANSWER = json.dumps(
    {
        "items": [
            {
                "id": f"chickpea-curry-{n}",
                "title": f"Chickpea curry {n}",
                "summary": "A quick curry of chickpeas, tomatoes and spinach.",
                "cuisine": "indian",
                "course": "main",
                "total_minutes": 30,
                "dietary": ["vegan", "gluten-free"],
                "owner": "catalog",
                "pantry_coverage": 0.0,
            }
            for n in range(10)
        ],
        "page": 1,
        "page_size": 10,
        "total": 10,
        "has_more": False,
    }
).encode()


def app() -> Starlette:
    async def recipes(request: Request) -> Response:
        return Response(ANSWER, media_type="application/json")

    return Starlette(routes=[Route("/recipes", recipes)])


def serve(port: int) -> None:
    servers.serve(app(), port)


@contextmanager
def server_process() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.transport", "serve", str(port)],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the bench server did not come up")
            try:
                if httpx2.get(f"{base}{PATH}", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                time.sleep(0.05)  # polling a condition, bounded by the deadline
        yield base
    finally:
        stop(process)


def make_transport(name: str) -> httpx2.AsyncBaseTransport:
    limits = httpx2.Limits(max_connections=100, max_keepalive_connections=50)
    if name == "stock":
        return httpx2.AsyncHTTPTransport(limits=limits)
    return Http1Transport(limits=limits)


async def one(transport: httpx2.AsyncBaseTransport, url: str) -> None:
    """One call as PantryClient._send makes it: a fresh request, the body read in full."""
    request = httpx2.Request("GET", url, headers=HEADERS, extensions={"timeout": TIMEOUTS})
    response = await transport.handle_async_request(request)
    try:
        await response.aread()
    finally:
        await response.aclose()
    if response.status_code != 200 or len(response.content) != len(ANSWER):
        raise RuntimeError(f"unexpected answer: {response.status_code}")


async def drive(transport: httpx2.AsyncBaseTransport, url: str, count: int, width: int) -> None:
    """``count`` requests, ``width`` in flight at a time."""

    async def worker(share: int) -> None:
        for _ in range(share):
            await one(transport, url)

    shares = [count // width + (1 if i < count % width else 0) for i in range(width)]
    await asyncio.gather(*(worker(share) for share in shares))


async def measure_all(base: str) -> dict[str, dict[str, list[dict[str, float]]]]:
    url = f"{base}{PATH}"
    transports = {name: make_transport(name) for name in TRANSPORTS}
    samples: dict[str, dict[str, list[dict[str, float]]]] = {
        mode: {name: [] for name in TRANSPORTS} for mode in MODES
    }
    try:
        for transport in transports.values():
            await drive(transport, url, WARMUP, MODES["concurrent"])
        for _ in range(ROUNDS):
            for mode, width in MODES.items():
                for name, transport in transports.items():
                    cpu, wall = time.process_time(), time.perf_counter()
                    await drive(transport, url, REQUESTS, width)
                    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                    samples[mode][name].append(
                        {"cpu_us": cpu / REQUESTS * 1e6, "wall_us": wall / REQUESTS * 1e6}
                    )
    finally:
        for transport in transports.values():
            await transport.aclose()
    return samples


def on_loop(loop: str, make: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return uvloop.run(make()) if loop == "uvloop" else asyncio.run(make())


def run() -> dict[str, Any]:
    started = time.monotonic()
    results: dict[str, Any] = {"requests_per_round": REQUESTS, "rounds": ROUNDS, "loops": {}}
    with server_process() as base:
        for loop in LOOPS:
            samples = on_loop(loop, lambda: measure_all(base))
            per_loop: dict[str, Any] = {}
            for mode, by_name in samples.items():
                row: dict[str, Any] = {
                    name: {
                        "cpu_us": round(statistics.median(s["cpu_us"] for s in runs), 1),
                        "wall_us": round(statistics.median(s["wall_us"] for s in runs), 1),
                    }
                    for name, runs in by_name.items()
                }
                row["cpu_ratio"] = round(row["http1"]["cpu_us"] / row["stock"]["cpu_us"], 3)
                row["wall_ratio"] = round(row["http1"]["wall_us"] / row["stock"]["wall_us"], 3)
                per_loop[mode] = row
            results["loops"][loop] = per_loop
    results["wall_seconds"] = round(time.monotonic() - started, 1)
    return results


def table(results: dict[str, Any]) -> str:
    rows = [
        "| loop | mode | transport | client CPU µs/req | wall µs/req |",
        "|---|---|---|---:|---:|",
    ]
    for loop, per_loop in results["loops"].items():
        for mode, row in per_loop.items():
            for name in TRANSPORTS:
                r = row[name]
                rows.append(
                    f"| {loop} | {mode} ({MODES[mode]}) | {LABELS[name]} "
                    f"| {r['cpu_us']:.1f} | {r['wall_us']:.1f} |"
                )
            rows.append(
                f"| {loop} | {mode} ({MODES[mode]}) | **Http1Transport / stock** "
                f"| **{row['cpu_ratio']}x** | **{row['wall_ratio']}x** |"
            )
    rows.append(
        f"\nMedians of {results['rounds']} alternating rounds of "
        f"{results['requests_per_round']} GETs per transport and mode; the server (uvicorn, "
        "httptools, uvloop) runs in its own process, so CPU is the client's alone."
    )
    return "\n".join(rows)


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(int(sys.argv[2]))
    else:
        print(table(run()))
