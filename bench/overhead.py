"""What one tools/call costs on each stack, under wrk from a separate process.

Each server runs alone in its own process (uvicorn, httptools, uvloop, one worker) on
127.0.0.1; wrk sends the same ``tools/call`` over 32 connections for a fixed time. The
stacks: a raw Starlette JSON endpoint (the floor), the SDK's bare low-level Server with a
trivial tool, fastmcp 4.x with a search_recipes equivalent to ours, and pantry-mcp as
shipped (a real JWT from a local issuer checked on every request, JSON logs, metrics,
argument and result validation) on the 2026-07-28 path and on both 2025-11-25 paths.
Pantry is answered by an in-process stub transport in fastmcp and in ours, so only the
servers' own cost is measured. Reported: requests per second (and as a ratio to the raw
floor), p50 and p99 latency, the server's CPU time per request, and, for pantry-mcp,
memory: idle, after the load, and per idle legacy session. Then the same two servers'
CPU per call driven in-process with no HTTP server at all (``inprocess.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from tests.issuer import Issuer, running_issuer
from tests.support import free_port

from bench import sdk_kernel
from bench.processes import stop

ROOT = Path(__file__).resolve().parent.parent
# fastmcp has an environment of its own (make bench builds it), so ours runs without it
FASTMCP_PYTHON = Path(
    os.environ.get("PANTRY_BENCH_FASTMCP_PYTHON", ROOT / ".venv-fastmcp/bin/python")
)
MODERN = "2026-07-28"
LEGACY = "2025-11-25"
ARGUMENTS = {"query": "curry"}
CALL = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {
        "name": "search_recipes",
        "arguments": ARGUMENTS,
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientInfo": {"name": "wrk", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {},
        },
    },
}
HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": MODERN,
    "Mcp-Method": "tools/call",
    "Mcp-Name": "search_recipes",
}
LEGACY_CALL = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {"name": "search_recipes", "arguments": ARGUMENTS},
}
LEGACY_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": LEGACY,
}
IDLE_SESSIONS = 500


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    server: str  # the KIND of ``python -m bench.servers KIND PORT``
    legacy: bool = False
    stateful: bool = False
    authenticated: bool = False
    env: dict[str, str] = field(default_factory=dict)


TARGETS = (
    Target("raw", "raw Starlette JSON endpoint", "raw"),
    Target("bare", "mcp low-level Server, 2026-07-28 JSON, trivial tool", "bare"),
    Target("fastmcp", "fastmcp 4.2.3, 2026-07-28 JSON, search_recipes", "fastmcp"),
    Target("ours", "pantry-mcp, 2026-07-28", "ours", authenticated=True),
    Target("ours_legacy", "pantry-mcp, 2025-11-25 stateless", "ours", True, False, True),
    Target(
        "ours_stateful",
        "pantry-mcp, 2025-11-25 stateful session",
        "ours",
        True,
        True,
        True,
        {"PANTRY_MCP_STATEFUL": "1"},
    ),
)
KINDS = tuple(target.key for target in TARGETS)


def lua_script(folder: Path, name: str, body: dict[str, Any], headers: dict[str, str]) -> Path:
    """wrk's request: ``body`` with a new JSON-RPC id each time (a stateful session routes
    answers by id, so a fixed id would hand one connection another's answer)."""
    marker = 987654321
    prefix, _, suffix = json.dumps({**body, "id": marker}).partition(str(marker))
    lines = [
        'wrk.method = "POST"',
        *(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()),
        "local counter = 0",
        "request = function()",
        "  counter = counter + 1",
        f"  local body = {json.dumps(prefix)} .. counter .. {json.dumps(suffix)}",
        "  return wrk.format(nil, nil, nil, body)",
        "end",
    ]
    path = folder / f"{name}.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for {pid}")


def parse_ms(text: str) -> float:
    number, unit = float(re.match(r"([\d.]+)", text).group(1)), re.sub(r"[\d.]", "", text)  # type: ignore[union-attr]
    return number * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, script: Path, seconds: int, connections: int) -> dict[str, Any]:
    run = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    )
    out = run.stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": parse_ms(re.search(r"^\s+50%\s+(\S+)$", out, re.MULTILINE).group(1)),  # type: ignore[union-attr]
        "p99_ms": parse_ms(re.search(r"^\s+99%\s+(\S+)$", out, re.MULTILINE).group(1)),  # type: ignore[union-attr]
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "errors": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else None,
    }


@contextmanager
def server_process(
    target: Target, env: dict[str, str]
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    python = FASTMCP_PYTHON if target.server == "fastmcp" else Path(sys.executable)
    if not python.exists():
        raise SystemExit(f"{python} is missing: `make bench` creates it")
    process = subprocess.Popen(
        [str(python), "-m", "bench.servers", target.server, str(port)],
        env={**os.environ, **env, **target.env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process, f"http://127.0.0.1:{port}/mcp"
    finally:
        stop(process)


def wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx2.get(url.removesuffix("/mcp") + "/healthz", timeout=2)
            return
        except httpx2.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def open_session(url: str, headers: dict[str, str]) -> str:
    """A legacy session: initialize, then the initialized notification; its id."""
    initialize = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": LEGACY,
            "capabilities": {},
            "clientInfo": {"name": "wrk", "version": "1"},
        },
    }
    with httpx2.Client(timeout=10) as http:
        answer = http.post(url, json=initialize, headers=headers)
        answer.raise_for_status()
        session = answer.headers["mcp-session-id"]
        done = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        http.post(url, json=done, headers={**headers, "Mcp-Session-Id": session}).raise_for_status()
    return str(session)


def request_for(
    target: Target, url: str, token: str | None
) -> tuple[dict[str, Any], dict[str, str]]:
    headers = dict(LEGACY_HEADERS if target.legacy else HEADERS)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if target.stateful:
        headers["Mcp-Session-Id"] = open_session(url, headers)
    return (LEGACY_CALL if target.legacy else CALL), headers


def check_answer(url: str, body: dict[str, Any], headers: dict[str, str]) -> None:
    answer = httpx2.post(url, json=body, headers=headers, timeout=10)
    answer.raise_for_status()
    if answer.headers.get("content-type", "").startswith("text/event-stream"):
        # a stateful session answers a tool call on an SSE stream: its last data line
        data = [line[5:] for line in answer.text.splitlines() if line.startswith("data:")]
        result = json.loads(data[-1])["result"]
    else:
        result = answer.json()["result"]
    if result.get("isError"):
        raise RuntimeError(f"{url}: the tool call failed: {result}")


def credentials(target: Target, issuer: Issuer) -> tuple[dict[str, str], str | None]:
    """The server's environment and the bearer token for ``target`` (none if it has no auth)."""
    if not target.authenticated:
        return {}, None
    port_hint = "http://127.0.0.1/mcp"  # the audience; Host checks allow 127.0.0.1
    env = {"PANTRY_MCP_AUTH_ISSUER": issuer.url, "PANTRY_MCP_RESOURCE_URL": port_hint}
    return env, issuer.token("bench-user", audience=port_hint, lifetime=3600)


def measure(
    target: Target, folder: Path, issuer: Issuer, seconds: int, connections: int
) -> dict[str, Any]:
    env, token = credentials(target, issuer)
    with server_process(target, env) as (process, url):
        wait_for(url, process)
        idle = rss_mb(process.pid)
        body, headers = request_for(target, url, token)
        check_answer(url, body, headers)
        script = lua_script(folder, target.key, body, headers)
        with httpx2.Client(timeout=10) as http:
            for _ in range(100):  # warm up: caches, imports, code paths
                http.post(url, json=body, headers=headers)
        warm = rss_mb(process.pid)
        before = cpu_seconds(process.pid)
        result = wrk(url, script, seconds, connections)
        cpu = cpu_seconds(process.pid) - before
        result["cpu_us_per_request"] = round(cpu / max(result["requests"], 1) * 1e6, 1)
        if target.server == "ours":
            after_first = rss_mb(process.pid)
            second = wrk(url, script, seconds, connections)  # the same load again: any growth?
            result["memory"] = {
                "idle_rss_mb": idle,
                "warm_rss_mb": warm,
                "after_run_rss_mb": after_first,
                "after_second_run_rss_mb": rss_mb(process.pid),
                "requests_between": second["requests"],
            }
            if target.stateful:
                result["memory"].update(idle_sessions(url, process, headers))
    return result


def alternating_share(
    folder: Path, issuer: Issuer, connections: int, rounds: int = 5, seconds: int = 4
) -> dict[str, Any]:
    """Our share of the bare SDK server's rate again, from rounds that alternate the two
    (both servers up throughout), so a slow spell of the machine falls on both: the median
    of the rounds' ratios, and each round's."""
    pair = [next(t for t in TARGETS if t.key == key) for key in ("bare", "ours")]
    with contextlib.ExitStack() as stack:
        runs = []
        for target in pair:
            env, token = credentials(target, issuer)
            process, url = stack.enter_context(server_process(target, env))
            wait_for(url, process)
            body, headers = request_for(target, url, token)
            check_answer(url, body, headers)
            script = lua_script(folder, f"{target.key}-alternating", body, headers)
            wrk(url, script, 2, connections)  # warm up
            runs.append((url, script))
        ratios = []
        for _ in range(rounds):
            bare, ours = (wrk(url, script, seconds, connections) for url, script in runs)
            ratios.append(round(ours["requests_per_second"] / bare["requests_per_second"], 3))
    return {"median": statistics.median(ratios), "rounds": ratios, "seconds": seconds}


def idle_sessions(
    url: str, process: subprocess.Popen[bytes], headers: dict[str, str]
) -> dict[str, Any]:
    """RSS per idle legacy session: open many, leave them idle, divide the growth."""
    plain = {k: v for k, v in headers.items() if k != "Mcp-Session-Id"}
    for _ in range(20):  # the first sessions pay for one-off allocations
        open_session(url, plain)
    before = rss_mb(process.pid)
    for _ in range(IDLE_SESSIONS):
        open_session(url, plain)
    after = rss_mb(process.pid)
    return {
        "idle_sessions": IDLE_SESSIONS,
        "kb_per_idle_session": round((after - before) * 1024 / IDLE_SESSIONS, 1),
    }


def run(seconds: int = 8, connections: int = 32, only: tuple[str, ...] = KINDS) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("make bench needs wrk: apt-get install wrk")
    results: dict[str, Any] = {}
    with running_issuer() as issuer, tempfile.TemporaryDirectory(prefix="pantry-bench-") as folder:
        for target in TARGETS:
            if target.key in only:
                results[target.key] = measure(target, Path(folder), issuer, seconds, connections)
        if "bare" in results and "ours" in results:
            results["ours_share_alternating"] = alternating_share(Path(folder), issuer, connections)
    floor = results["raw"]["requests_per_second"] if "raw" in results else None
    for key in KINDS:
        if key in results and floor:
            results[key]["ratio_to_raw"] = round(results[key]["requests_per_second"] / floor, 3)
    if "bare" in results and "ours" in results:
        # the yardstick for what is ours alone: our rate as a share of the bare SDK's
        results["ours_share_of_bare"] = round(
            results["ours"]["requests_per_second"] / results["bare"]["requests_per_second"], 3
        )
        results["sdk_kernel"] = sdk_kernel.run()
        results["in_process"] = in_process()
    if "ours" in results and "fastmcp" in results:
        ours, peer = (
            results["ours"]["requests_per_second"],
            results["fastmcp"]["requests_per_second"],
        )
        results["ours_to_fastmcp"] = round(ours / peer, 2)
    results["seconds"], results["connections"] = seconds, connections
    return results


def in_process() -> dict[str, Any]:
    """The bare SDK server's and ours CPU per call without HTTP (``bench/inprocess.py``),
    each in a process of its own, and our share of the bare one's rate from them."""
    measured = {}
    for kind in ("bare", "ours"):
        out = subprocess.run(
            [sys.executable, "-m", "bench.inprocess", kind],
            capture_output=True,
            check=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("PANTRY_MCP_")},
            timeout=300,
        )
        measured[kind] = json.loads(out.stdout.decode().strip().splitlines()[-1])
    bare, ours = measured["bare"]["min_us"], measured["ours"]["min_us"]
    return {**measured, "ours_share_of_bare": round(bare / ours, 3)}


def table(results: dict[str, Any]) -> str:
    rows = [
        "| stack | req/s | ratio to raw | p50 ms | p99 ms | server CPU µs/req | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for target in TARGETS:
        r = results.get(target.key)
        if r is None:
            continue
        rows.append(
            f"| {target.label} | {r['requests_per_second']:.0f} | {r.get('ratio_to_raw', '-')} "
            f"| {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['cpu_us_per_request']} | {r['errors']} |"
        )
    if "ours_to_fastmcp" in results:
        rows.append(f"\npantry-mcp 2026-07-28 vs fastmcp: {results['ours_to_fastmcp']}x")
    if "ours_share_of_bare" in results:
        rows.append(
            f"\npantry-mcp 2026-07-28 (JWT, logs, metrics, validation, a stubbed Pantry call) "
            f"as a share of the bare SDK server's rate: {results['ours_share_of_bare']}"
        )
    if "ours_share_alternating" in results:
        alternating = results["ours_share_alternating"]
        rounds = ", ".join(str(r) for r in alternating["rounds"])
        rows.append(
            f"\nThe same share from {len(alternating['rounds'])} rounds of "
            f"{alternating['seconds']} s alternating the two servers: median "
            f"**{alternating['median']}** (by round {rounds})"
        )
    if "sdk_kernel" in results:
        rows.append("\n" + sdk_kernel.lines(results["sdk_kernel"]))
    if "in_process" in results:
        measured = results["in_process"]
        rows.append(
            f"\nIn-process, no HTTP server (`bench/inprocess.py`, CPU per call, least of ten "
            f"batches): bare SDK server {measured['bare']['min_us']} µs, pantry-mcp "
            f"{measured['ours']['min_us']} µs: a share of {measured['ours_share_of_bare']}"
        )
    memory = results.get("ours", {}).get("memory")
    stateful = results.get("ours_stateful", {}).get("memory", {})
    if memory:
        line = (
            f"\npantry-mcp memory: idle {memory['idle_rss_mb']} MB, "
            f"warm {memory['warm_rss_mb']} MB, "
            f"after {results['ours']['requests']} calls {memory['after_run_rss_mb']} MB, "
            f"after {memory['requests_between']} more {memory['after_second_run_rss_mb']} MB"
        )
        if "kb_per_idle_session" in stateful:
            line += (
                f"; {stateful['kb_per_idle_session']} KB per idle legacy session "
                f"({stateful['idle_sessions']} opened)"
            )
        rows.append(line)
    return "\n".join(rows)
