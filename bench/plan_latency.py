"""plan_week_meals with a fixed latency on every Pantry call: our concurrent order against
the naive sequential one (pantry, preferences, search, create, then one add per day).

Both run through the same latency-injecting proxy in front of the real Pantry, in the same
run; the table reports wall time and the sequential round trips on the critical path.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tests.support import free_port, serve_in_thread

from pantry_mcp.client import PantryClient
from pantry_mcp.handlers.meal_plans import plan_week_meals

TOKEN = "bench-service-token-0123456789"  # noqa: S105 - a throwaway local token
LATENCY = 0.020
Spans = list[tuple[float, float]]


def delaying_proxy(upstream: str, spans: Spans) -> Starlette:
    """Forwards every request to Pantry after LATENCY, over one kept-alive client."""
    clients: list[httpx2.AsyncClient] = []

    async def forward(request: Request) -> Response:
        if not clients:  # created inside the proxy's own event loop
            clients.append(httpx2.AsyncClient(base_url=upstream))
        started = time.perf_counter()
        await asyncio.sleep(LATENCY)
        answer = await clients[0].request(
            request.method,
            request.url.path,
            params=request.query_params,
            content=await request.body(),
            headers={k: v for k, v in request.headers.items() if k != "host"},
        )
        spans.append((started, time.perf_counter()))
        return Response(
            answer.content, answer.status_code, headers={"content-type": "application/json"}
        )

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(routes=[Route("/{path:path}", forward, methods=methods)])


@contextmanager
def pantry_process(folder: Path) -> Iterator[str]:
    """The real Pantry in its own process, as in production (not sharing our GIL)."""
    with pantry_server(folder) as (url, _pid):
        yield url


@contextmanager
def pantry_server(
    folder: Path,
    *,
    environ: Mapping[str, str] | None = None,
    program: Sequence[str] | None = None,
) -> Iterator[tuple[str, int]]:
    """Pantry in its own process on 127.0.0.1, its data in ``folder``; yields its URL and pid.

    ``environ`` replaces the inherited environment (os.environ) under Pantry's settings;
    ``program`` replaces the command that runs ``pantry-api`` (the venv's console script).
    """
    port = free_port()
    env = {
        **(os.environ if environ is None else environ),
        "PANTRY_API_DATA_DIR": str(folder),
        "PANTRY_API_SERVICE_TOKEN": TOKEN,
        "PANTRY_API_RATE_LIMIT": "0",
        "PANTRY_API_LOG_LEVEL": "warning",
    }
    command = [
        *(program or [str(Path(sys.executable).parent / "pantry-api")]),
        "serve",
        "--port",
        str(port),
        "--no-access-log",
    ]
    # stderr only carries start-up messages, kept in a file so a failed start can say why.
    errors = folder / "pantry-api.stderr"
    with errors.open("wb") as stderr:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"Pantry did not come up on {url}:\n{errors.read_text()[-2000:]}"
                )
            try:
                if httpx2.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            time.sleep(0.1)  # polling, bounded by the deadline
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=20)


def waves(spans: Spans) -> int:
    """Upstream calls that overlap in time are one round trip on the critical path."""
    count, end = 0, float("-inf")
    for start, stop in sorted(spans):
        if start >= end:
            count += 1
        end = max(end, stop)
    return count


async def naive(client: PantryClient, user: str, start: str, days: int) -> None:
    await client.list_pantry(user)
    await client.get_preferences(user)
    found = await client.search_recipes(user, course="main", sort="pantry", page_size=50)
    plan = await client.create_plan(
        user, {"start_date": start, "days": days}, idempotency_key=f"n-{user}"
    )
    for day, hit in enumerate(found["items"][:days], 1):
        body = {"recipe_id": hit["id"], "day": day}
        await client.add_plan_entry(user, plan["id"], body, idempotency_key=f"n-{user}-{day}")


async def measure(base_url: str, spans: Spans, rounds: int) -> dict[str, Any]:
    client = PantryClient(base_url, TOKEN)
    results: dict[str, Any] = {}
    try:
        for label in ("naive", "pantry-mcp"):
            walls, trips, calls = [], [], []
            for round_number in range(rounds):
                user = f"bench-{label}-{round_number}"
                spans.clear()
                started = time.perf_counter()
                if label == "naive":
                    await naive(client, user, "2026-11-30", 7)
                else:
                    await plan_week_meals(client, user, {"start_date": "2026-11-30", "days": 7})
                walls.append(time.perf_counter() - started)
                trips.append(waves(spans))
                calls.append(len(spans))
            results[label] = {
                "wall_ms": round(statistics.median(walls) * 1000, 1),
                "round_trips": statistics.median(trips),
                "calls": statistics.median(calls),
            }
    finally:
        await client.aclose()
    results["speedup"] = round(results["naive"]["wall_ms"] / results["pantry-mcp"]["wall_ms"], 2)
    return results


def run(rounds: int = 5) -> dict[str, Any]:
    spans: Spans = []
    with (
        tempfile.TemporaryDirectory(prefix="pantry-bench-") as folder,
        pantry_process(Path(folder)) as upstream,
        serve_in_thread(delaying_proxy(upstream, spans)) as proxy,
    ):
        results = asyncio.run(measure(proxy.base_url, spans, rounds))
    results["latency_ms"] = LATENCY * 1000
    return results


def table(results: dict[str, Any]) -> str:
    rows = [
        f"| order (7 days, {results['latency_ms']:.0f} ms per Pantry call) | wall ms "
        "| sequential round trips | calls |",
        "|---|---:|---:|---:|",
    ]
    for label in ("naive", "pantry-mcp"):
        row = results[label]
        rows.append(f"| {label} | {row['wall_ms']} | {row['round_trips']} | {row['calls']} |")
    rows.append(f"| speed-up | {results['speedup']}x | | |")
    return "\n".join(rows)
