"""Many cores: authenticated 2026-07-28 ``tools/call`` per second from pantry-mcp with one
worker and with two (``serve --workers 2``), in the same run.

Both servers are pantry-mcp as shipped (a real RS256 JWT from a local issuer on every
request, JSON logs, metrics, validation), with Pantry answered by the in-process stub of
bench/servers.py, so what is measured is pantry-mcp's own work: the part more workers can
multiply (a real Pantry on the same machine would be the bottleneck first, see
bench/hop.py). One worker is served exactly as ``serve`` does it (the app object in one
process); two are started by the real parent, ``pantry_mcp.workers``, so their shared
request-state key and multiprocess metrics files are part of the cost.

wrk (one thread, the same CALL and HEADERS as bench/overhead.py) runs on the same machine
and takes part of the CPU the workers would use; each run reports how much, with the
servers' CPU time per call and, for two workers, how the load split between them (uvicorn's
workers share one listening socket, and a kept-alive connection stays on the worker that
accepted it), and how much CPU other processes on the machine took meanwhile. Runs
alternate (one worker, two, one, two, ...) and the table gives medians: ratios on this
machine drift by 10-20% between runs.

``python -m bench.workers PORT N`` serves one of the two (this module is also that entry).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import uvicorn
from tests.issuer import running_issuer
from tests.support import child_processes, free_port

from bench.overhead import CALL, HEADERS, check_answer, cpu_seconds, lua_script, wrk
from bench.processes import stop

WORKERS = (1, 2)
AUDIENCE = "http://127.0.0.1/mcp"  # Host checks allow 127.0.0.1 on any port
READY_SECONDS = 60
WARM_SECONDS = 2


@dataclass(frozen=True)
class Server:
    workers: int
    url: str
    pid: int  # the process we started: the only one with one worker, the parent with two

    def processes(self) -> dict[int, str]:
        """Our process and its descendants (workers, multiprocessing's resource tracker),
        each named by role."""
        found = {self.pid: "server" if self.workers == 1 else "parent"}
        waiting = [self.pid]
        while waiting:
            for pid, command in child_processes(waiting.pop()).items():
                found[pid] = "worker" if b"spawn_main" in command else "helper"
                waiting.append(pid)
        return found


@contextmanager
def server(workers: int, env: dict[str, str], folder: Path) -> Iterator[Server]:
    port = free_port()
    errors = folder / f"workers-{workers}.stderr"
    with errors.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.workers", str(port), str(workers)],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    running = Server(workers, f"http://127.0.0.1:{port}/mcp", process.pid)
    try:
        deadline = time.monotonic() + READY_SECONDS
        while not _up(running.url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{workers} worker(s) did not come up:\n{errors.read_text()}")
            time.sleep(0.1)  # polling, bounded by the deadline
        yield running
    finally:
        stop(process)


def _up(url: str) -> bool:
    try:
        return httpx2.get(url.removesuffix("/mcp") + "/healthz", timeout=1).status_code == 200
    except httpx2.TransportError:
        return False


def warm(running: Server, script: Path, connections: int) -> None:
    """Load until every worker has taken a fair part of it: /healthz answers as soon as one
    worker is up, and a worker still starting accepts no connection."""
    for _ in range(READY_SECONDS // WARM_SECONDS):
        roles = running.processes()
        workers = [pid for pid, role in roles.items() if role in ("server", "worker")]
        before = {pid: cpu_seconds(pid) for pid in workers}
        wrk(running.url, script, WARM_SECONDS, connections)
        used = [cpu_seconds(pid) - before[pid] for pid in workers]
        if len(workers) == running.workers and min(used) > 0.1 * sum(used):
            return
    raise RuntimeError(f"{running.workers} workers never all took load")


def machine_cpu_seconds() -> float:
    """CPU time every process on the machine has used (/proc/stat): what is not ours or
    wrk's is someone else's load, which a 2-core machine cannot hide."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def wrk_cpu_seconds() -> float:
    """CPU time of the children we have waited for: around one wrk run, wrk's own."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(running: Server, script: Path, seconds: int, connections: int) -> dict[str, Any]:
    roles = running.processes()
    before = {pid: cpu_seconds(pid) for pid in roles}
    wrk_before, machine_before = wrk_cpu_seconds(), machine_cpu_seconds()
    started = time.monotonic()
    result = wrk(running.url, script, seconds, connections)
    wall = time.monotonic() - started
    if result["errors"] or result["socket_errors"]:
        raise RuntimeError(
            f"{running.workers} worker(s): {result['errors']} non-2xx, "
            f"socket errors: {result['socket_errors']}"
        )
    used = {pid: cpu_seconds(pid) - before[pid] for pid in roles}
    machine = machine_cpu_seconds() - machine_before
    wrk_used = wrk_cpu_seconds() - wrk_before
    calls = max(result["requests"], 1)
    workers = sorted((used[pid] for pid, role in roles.items() if role == "worker"), reverse=True)
    return {
        **result,
        "server_cpu_us_per_request": round(sum(used.values()) / calls * 1e6, 1),
        "server_cores_busy": round(sum(used.values()) / wall, 2),
        "wrk_cores_busy": round(wrk_used / wall, 2),
        "other_cores_busy": round(max(0.0, machine - sum(used.values()) - wrk_used) / wall, 2),
        # the busiest worker's share of the workers' CPU: 0.5 is an even split
        "busiest_worker_share": round(workers[0] / sum(workers), 2) if workers else None,
    }


def run(seconds: int = 6, connections: int = 32, rounds: int = 5) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("make bench needs wrk: apt-get install wrk")
    runs: dict[int, list[dict[str, Any]]] = {n: [] for n in WORKERS}
    with (
        running_issuer() as issuer,
        tempfile.TemporaryDirectory(prefix="pantry-bench-") as name,
    ):
        folder = Path(name)
        env = {"PANTRY_MCP_AUTH_ISSUER": issuer.url, "PANTRY_MCP_RESOURCE_URL": AUDIENCE}
        token = issuer.token("bench-user", audience=AUDIENCE, lifetime=3600)
        headers = {**HEADERS, "Authorization": f"Bearer {token}"}
        script = lua_script(folder, "workers", CALL, headers)
        with server(1, env, folder) as one, server(2, env, folder) as two:
            servers = {1: one, 2: two}
            for running in servers.values():
                check_answer(running.url, CALL, headers)
                warm(running, script, connections)
            for _ in range(rounds):
                for n, running in servers.items():
                    runs[n].append(measure(running, script, seconds, connections))
    results: dict[str, Any] = {"runs": {str(n): r for n, r in runs.items()}}
    for n in WORKERS:
        results[str(n)] = {
            key: statistics.median(r[key] for r in runs[n])
            for key in (
                "requests_per_second",
                "p50_ms",
                "p99_ms",
                "server_cpu_us_per_request",
                "server_cores_busy",
                "wrk_cores_busy",
                "other_cores_busy",
            )
        }
        shares = [r["busiest_worker_share"] for r in runs[n] if r["busiest_worker_share"]]
        results[str(n)]["busiest_worker_share"] = statistics.median(shares) if shares else None
    results["ratio"] = round(
        results["2"]["requests_per_second"] / results["1"]["requests_per_second"], 2
    )
    results["ratios_per_round"] = [
        round(b["requests_per_second"] / a["requests_per_second"], 2)
        for a, b in zip(runs[1], runs[2], strict=True)
    ]
    results.update(seconds=seconds, connections=connections, rounds=rounds, cpus=os.cpu_count())
    return results


def table(results: dict[str, Any]) -> str:
    rows = [
        "| workers | req/s | p50 ms | p99 ms | server CPU µs/req | server cores busy "
        "| wrk cores busy | other cores busy | busiest worker's share |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in WORKERS:
        r = results[str(n)]
        share = r["busiest_worker_share"]
        rows.append(
            f"| {n} | {r['requests_per_second']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} "
            f"| {r['server_cpu_us_per_request']:.0f} | {r['server_cores_busy']:.2f} "
            f"| {r['wrk_cores_busy']:.2f} | {r['other_cores_busy']:.2f} "
            f"| {'-' if share is None else f'{share:.2f}'} |"
        )
    per_round = ", ".join(f"{ratio:.2f}" for ratio in results["ratios_per_round"])
    rows.append(
        f"\n2 workers / 1 worker: **{results['ratio']:.2f}x** (median of {results['rounds']} "
        f"alternating rounds of {results['seconds']} s, {results['connections']} connections, "
        f"on {results['cpus']} CPUs; per round {per_round})"
    )
    return "\n".join(rows)


def main() -> None:
    """Serve pantry-mcp with Pantry stubbed (bench.servers.ours) on PORT with N workers."""
    from bench.servers import ours
    from pantry_mcp.config import Settings
    from pantry_mcp.workers import serve

    port, workers = int(sys.argv[1]), int(sys.argv[2])
    options: dict[str, Any] = {
        "log_config": None,
        "access_log": False,
        "http": "httptools",
        "loop": "uvloop",
    }
    if workers == 1:
        app = ours()
        logging.disable(logging.CRITICAL)
        uvicorn.run(app, host="127.0.0.1", port=port, workers=1, **options)
        return
    logging.disable(logging.CRITICAL)
    env = {"PANTRY_MCP_PANTRY_TOKEN": "bench-token-0123456789", "PANTRY_MCP_RATE_LIMIT": "0"}
    env.update({k: v for k, v in os.environ.items() if k.startswith("PANTRY_MCP_")})
    settings = dataclasses.replace(Settings.from_env(env, tty=False), workers=workers)
    raise SystemExit(
        serve(settings, host="127.0.0.1", port=port, options=options, app="bench.servers:ours")
    )


if __name__ == "__main__":
    main()
