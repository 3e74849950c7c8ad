"""The real hop: ``search_recipes`` through pantry-mcp against the same search sent straight
to Pantry's REST endpoint.

bench/overhead.py prices a tools/call with Pantry stubbed out; this one puts the real Pantry
(its own process, seeded SQLite catalog in a temp dir) behind a real pantry-mcp (its own
process, loopback demo user, no rate limit) and asks what a client pays for going through
MCP instead of calling Pantry itself. The direct request is the exact path and query that
pantry-mcp's handler sends Pantry (captured from the handler, not written by hand), so both
targets make Pantry do the same work and the difference is the hop alone: MCP framing,
validation, logging and the second HTTP round trip on loopback.

Each target gets a latency run (wrk, 1 connection: p50 and p99 with no queueing) and a
throughput run (wrk, 16 connections: requests per second). Derived: the p50 and p99 the hop
adds at 1 connection, and MCP throughput as a fraction of direct throughput. Each process's
CPU time per request is reported too, because on a small machine the client, pantry-mcp and
Pantry share the same cores and CPU, not waiting, is what bounds throughput.

The yardstick: a plain Starlette + httpx2 proxy (bench/servers.py ``proxy``, its own
process, the same uvicorn) in front of the same Pantry search. What the MCP hop adds is
reported as a multiple of what that proxy adds. Pantry's own time per search (about 4 ms)
drifts by about as much as the hop costs, and wrk rounds of one target at a time scatter by
±0.3 ms a round, so the headline multiple comes from paired cycles (bench/interleave.py):
requests to direct, proxy and MCP in turn over one kept-alive connection each, thousands
of cycles, the median over cycles of what each adds over the direct request of the same
cycle, with a bootstrap interval. Two regimes: five requests per target and cycle, the
first left out (a busy server, as wrk keeps it: the headline), and one (each server idle
between its calls, as in a conversation). The wrk rounds (15 of 1 s, each starting with
the next target in turn) are still run and reported next to it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from tests.support import child_processes, free_port

from bench import interleave
from bench.overhead import ARGUMENTS, CALL, HEADERS, cpu_seconds, lua_script, wrk
from bench.plan_latency import TOKEN, pantry_process
from bench.processes import stop
from pantry_mcp.client import PantryClient
from pantry_mcp.handlers.recipes import search_recipes

TARGETS = ("direct", "proxy", "mcp")
LABELS = {
    "direct": "Pantry GET /recipes, direct",
    "proxy": "the same GET via a plain Starlette + httpx2 proxy",
    "mcp": "search_recipes via pantry-mcp",
}
USER = "demo"  # the loopback demo user pantry-mcp acts as when no issuer is configured
DIRECT_HEADERS = {
    "Authorization": f"Bearer {TOKEN}",
    "X-Pantry-User": USER,
    "Accept": "application/json",
}
# 1 connection: latency with no queueing anywhere; 16: enough to saturate one worker.
MODES = {"latency": 1, "throughput": 16}
WARMUP = 50
ALTERNATIONS = 15  # rounds of direct, proxy and MCP: each added p50 is the median of them
ROUND_SECONDS = 1  # per target and round: about 250 calls at one connection
PAIRED_SECONDS = 30  # per regime: about 2,000 cycles of one request, 400 of five
# The paired regimes: a request per target and cycle (each server idle between its calls,
# as in a conversation), and five back to back, the first left out (a busy server, as wrk
# keeps it). The headline is the busy one: it is the regime the wrk rounds measure.
REGIMES = {"conversation": 1, "busy": 5}
HEADLINE = "busy"
READY_SECONDS = 30.0


@dataclass(frozen=True)
class Target:
    url: str
    script: Path  # wrk's Lua: method, headers, body
    check: Callable[[httpx2.Client, str], None]  # raises unless the answer is a real result
    pids: dict[str, int]  # the processes each request costs CPU in


def upstream_path() -> str:
    """The path and query pantry-mcp sends Pantry for CALL's arguments, taken from the real
    handler and client over a mock transport, so the direct target cannot drift from it."""
    seen: list[httpx2.Request] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json={"items": [], "page": 1, "total": 0, "has_more": False})

    async def call() -> None:
        client = PantryClient(
            "http://pantry.invalid", TOKEN, transport=httpx2.MockTransport(answer)
        )
        try:
            await search_recipes(client, USER, dict(ARGUMENTS))
        finally:
            await client.aclose()

    asyncio.run(call())
    if len(seen) != 1 or seen[0].method != "GET" or seen[0].url.path != "/recipes":
        raise RuntimeError(f"search_recipes no longer makes one GET /recipes: {seen}")
    request = seen[0]
    # The headers that shape Pantry's answer must match what the direct target sends.
    for name, value in DIRECT_HEADERS.items():
        if request.headers.get(name) != value:
            raise RuntimeError(f"pantry-mcp sends {name}: {request.headers.get(name)!r}")
    return request.url.raw_path.decode("ascii")


@contextmanager
def mcp_process(
    pantry_url: str,
    folder: Path,
    *,
    environ: Mapping[str, str] | None = None,
    program: Sequence[str] | None = None,
) -> Iterator[tuple[str, int]]:
    """pantry-mcp in its own process on 127.0.0.1; yields its /mcp URL and pid.

    ``environ`` replaces the inherited environment (os.environ) under pantry-mcp's settings;
    ``program`` replaces the command that runs ``pantry-mcp`` (the venv's console script).
    """
    port = free_port()
    env = {
        **(os.environ if environ is None else environ),
        "PANTRY_MCP_PANTRY_URL": pantry_url,
        "PANTRY_MCP_PANTRY_TOKEN": TOKEN,
        "PANTRY_MCP_RATE_LIMIT": "0",  # the default limit would turn the load into 429s
        "PANTRY_MCP_LOG_FORMAT": "json",
    }
    command = [
        *(program or [str(Path(sys.executable).parent / "pantry-mcp")]),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    # Logs go to stdout (discarded, as a log shipper would take them); stderr only carries
    # start-up messages, kept in a file so a failed start can say why.
    errors = folder / "pantry-mcp.stderr"
    with errors.open("wb") as stderr:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_SECONDS
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pantry-mcp did not come up:\n{errors.read_text()[-2000:]}")
            try:
                if httpx2.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            time.sleep(0.05)
        yield f"{base}/mcp", process.pid
    finally:
        stop(process)


@contextmanager
def proxy_process(pantry_url: str) -> Iterator[tuple[str, int]]:
    """The yardstick proxy in its own process; yields its base URL and pid."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.servers", "proxy", str(port)],
        env={**os.environ, "PANTRY_BENCH_UPSTREAM": pantry_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_SECONDS
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the proxy did not come up")
            try:
                httpx2.get(f"{base}/healthz", timeout=1)  # any answer: it listens
                break
            except httpx2.TransportError:
                time.sleep(0.05)
        yield base, process.pid
    finally:
        stop(process)


def child_pid(program: str) -> int:
    """The pid of our child process running ``program`` (pantry_process does not say)."""
    for pid, command in child_processes(os.getpid()).items():
        if any(arg.endswith(program.encode()) for arg in command.split(b"\0")[:2]):
            return pid
    raise RuntimeError(f"no child process runs {program}")


def get_script(folder: Path) -> Path:
    lines = ['wrk.method = "GET"']
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in DIRECT_HEADERS.items()]
    path = folder / "direct.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


def direct_answer(body: bytes) -> None:
    """Raises unless ``body`` is a page of search results."""
    if not json.loads(body).get("items"):
        raise RuntimeError(f"direct search found nothing: {body[:300]!r}")


def mcp_answer(body: bytes) -> None:
    """Raises unless ``body`` is a tools/call result that is not an error."""
    result = json.loads(body).get("result")
    if not isinstance(result, dict) or result.get("isError") is not False:
        raise RuntimeError(f"tools/call did not answer a result: {body[:300]!r}")


def answered(response: httpx2.Response, check: Callable[[bytes], None]) -> None:
    if response.status_code != 200:
        raise RuntimeError(f"answered {response.status_code}: {response.text[:300]}")
    check(response.content)


def check_direct(client: httpx2.Client, url: str) -> None:
    answered(client.get(url, headers=DIRECT_HEADERS), direct_answer)


def check_mcp(client: httpx2.Client, url: str) -> None:
    answered(client.post(url, json=CALL, headers=HEADERS), mcp_answer)


def probes(targets: Mapping[str, Target]) -> dict[str, interleave.Probe]:
    """The paired client's requests: the same ones wrk sends each target."""
    return {
        "direct": interleave.Probe(
            targets["direct"].url, headers=DIRECT_HEADERS, check=direct_answer
        ),
        "proxy": interleave.Probe(
            targets["proxy"].url, headers=DIRECT_HEADERS, check=direct_answer
        ),
        "mcp": interleave.Probe(
            targets["mcp"].url,
            "POST",
            HEADERS,
            interleave.json_body(CALL),
            check=mcp_answer,
        ),
    }


def measure(
    url: str, script: Path, seconds: int, connections: int, pids: dict[str, int]
) -> dict[str, Any]:
    """One wrk run (overhead.wrk parses it), plus each process's CPU time per request."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    result = wrk(url, script, seconds, connections)
    used = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
    per_request = {
        name: round(cpu / max(result["requests"], 1) * 1e6, 1) for name, cpu in used.items()
    }
    return {"connections": connections, **result, "cpu_us_per_request": per_request}


def _latency_run(target: Target) -> tuple[str, Path, int, int, dict[str, int]]:
    return target.url, target.script, ROUND_SECONDS, MODES["latency"], target.pids


def run(seconds: int = 6) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("make bench needs wrk: apt-get install wrk")
    started = time.monotonic()
    path = upstream_path()
    with (
        tempfile.TemporaryDirectory(prefix="pantry-bench-") as folder,
        pantry_process(Path(folder)) as pantry_url,
        mcp_process(pantry_url, Path(folder)) as (mcp_url, mcp_pid),
        proxy_process(pantry_url) as (proxy_url, proxy_pid),
    ):
        pantry_pid = child_pid("pantry-api")
        targets = {
            "direct": Target(
                f"{pantry_url}{path}",
                get_script(Path(folder)),
                check_direct,
                {"pantry": pantry_pid},
            ),
            "proxy": Target(
                f"{proxy_url}{path}",
                get_script(Path(folder)),
                check_direct,
                {"pantry": pantry_pid, "proxy": proxy_pid},
            ),
            "mcp": Target(
                mcp_url,
                lua_script(Path(folder), "mcp", CALL, HEADERS),
                check_mcp,
                {"pantry": pantry_pid, "pantry-mcp": mcp_pid},
            ),
        }
        with httpx2.Client(timeout=5) as client:
            for target in targets.values():
                for _ in range(WARMUP):  # every warm-up answer is checked, not only the first
                    target.check(client, target.url)
        results: dict[str, Any] = {
            name: {
                mode: measure(target.url, target.script, seconds, connections, target.pids)
                for mode, connections in MODES.items()
            }
            for name, target in targets.items()
        }
        # Pantry's own time per search drifts between runs by about as much as the hop
        # costs, so what each hop adds is taken from short rounds of direct, proxy and MCP.
        rounds = []
        for number in range(ALTERNATIONS):
            p50 = {}
            for name in interleave.rotated(TARGETS, number):
                r = measure(*_latency_run(targets[name]))
                if r["errors"] or r["socket_errors"]:
                    raise RuntimeError(
                        f"alternating run: {r['errors']} non-2xx, {r['socket_errors']}"
                    )
                p50[name] = r["p50_ms"]
            rounds.append(
                {
                    "proxy_ms": round(p50["proxy"] - p50["direct"], 3),
                    "mcp_ms": round(p50["mcp"] - p50["direct"], 3),
                }
            )
        paired = {
            regime: interleave.cycles(probes(targets), PAIRED_SECONDS, burst=burst)
            for regime, burst in REGIMES.items()
        }
    for name in TARGETS:
        for mode in MODES:
            r = results[name][mode]
            # Timed-out requests get no latency sample, so they would flatter p99.
            if r["errors"] or r["socket_errors"]:
                raise RuntimeError(
                    f"{name} {mode}: {r['errors']} non-2xx, socket errors: {r['socket_errors']}"
                )
    direct, mcp = results["direct"], results["mcp"]
    results["rounds"] = rounds
    results["rounds_added_p50_ms"] = statistics.median(r["mcp_ms"] for r in rounds)
    results["rounds_proxy_added_p50_ms"] = statistics.median(r["proxy_ms"] for r in rounds)
    results["rounds_multiple"] = round(
        results["rounds_added_p50_ms"] / max(results["rounds_proxy_added_p50_ms"], 0.001), 2
    )
    # the yardstick: what MCP adds, as a multiple of what a plain proxy adds
    results["paired"] = {
        regime: {"burst": REGIMES[regime], **interleave.summary(samples, "mcp", "proxy", "direct")}
        for regime, samples in paired.items()
    }
    headline = results["paired"][HEADLINE]
    results["added_p50_ms"] = headline["added_p50_ms"]
    results["proxy_added_p50_ms"] = headline["yardstick_added_p50_ms"]
    results["hop_multiple"] = headline["multiple"]
    results["added_p99_ms"] = round(mcp["latency"]["p99_ms"] - direct["latency"]["p99_ms"], 3)
    results["throughput_ratio"] = round(
        mcp["throughput"]["requests_per_second"] / direct["throughput"]["requests_per_second"], 3
    )
    results["upstream_path"] = path
    results["seconds"] = seconds
    results["wall_seconds"] = round(time.monotonic() - started, 1)
    return results


def table(results: dict[str, Any]) -> str:
    rows = [
        "| target | connections | req/s | p50 ms | p99 ms | Pantry CPU µs/req "
        "| pantry-mcp CPU µs/req | proxy CPU µs/req | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for target in TARGETS:
        for mode in MODES:
            r = results[target][mode]
            cpu = r["cpu_us_per_request"]
            rows.append(
                f"| {LABELS[target]} | {r['connections']} | {r['requests_per_second']:.0f} "
                f"| {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {cpu['pantry']} "
                f"| {cpu.get('pantry-mcp', '')} | {cpu.get('proxy', '')} | {r['errors']} |"
            )
    rows.append(
        f"| the hop (MCP vs direct) | | {results['throughput_ratio']}x at "
        f"{MODES['throughput']} | {results['added_p50_ms']:+.2f} at "
        f"{MODES['latency']} | {results['added_p99_ms']:+.2f} at {MODES['latency']} | | | | |"
    )
    for regime, paired in results["paired"].items():
        low, high = paired["multiple_95"]
        each = (
            "one request to each of direct, proxy and MCP in turn"
            if paired["burst"] == 1
            else f"{paired['burst']} requests to each in turn, the first of each left out"
        )
        figure = f"{paired['multiple']}x what a plain proxy adds"
        rows.append(
            f"\nAdded p50 at one connection, {regime} ({each}; median over {paired['cycles']} "
            f"cycles): MCP {paired['added_p50_ms']:+.3f} ms, plain proxy "
            f"{paired['yardstick_added_p50_ms']:+.3f} ms: the MCP hop costs "
            + (f"**{figure}**" if regime == HEADLINE else figure)
            + f" (95% bootstrap interval {low}x to {high}x)"
        )
    rounds = ", ".join(f"{r['mcp_ms']:+.2f}/{r['proxy_ms']:+.2f}" for r in results["rounds"])
    rows.append(
        f"\nThe same from wrk, median of {len(results['rounds'])} rounds of 1 s (direct, proxy, "
        f"MCP, each first in turn): MCP {results['rounds_added_p50_ms']:+.2f} ms, plain proxy "
        f"{results['rounds_proxy_added_p50_ms']:+.2f} ms, {results['rounds_multiple']}x "
        f"(MCP/proxy per round: {rounds})"
    )
    return "\n".join(rows)
