"""The cost of tracing: ``search_recipes`` through pantry-mcp in front of Pantry with
OpenTelemetry on (every request sampled, exported to a local receiver) against off, and off
against the code from before tracing existed.

The workload is the hop benchmark's throughput run: the same 2026-07-28 ``tools/call``
(bench.overhead's CALL), wrk at 16 connections, real Pantry (its own process, seeded SQLite
in a temp dir) behind real pantry-mcp (its own process, loopback demo user, no rate limit).
Three targets, each a fresh pair of processes started the same way (the venv's interpreter
running ``<package>.cli.main``), so only the code and the environment differ:

- before: both services from BEFORE_REF, the commit before tracing, unpacked with
  ``git archive`` and put first on PYTHONPATH; no OTEL_* variables;
- off: the current code with no OTEL_* variables (tracing compiled in, never started);
- on: the current code, both services exporting every span (``OTEL_TRACES_SAMPLER=always_on``)
  through the SDK's BatchSpanProcessor to a local OTLP/HTTP receiver.

Each process says which file it imported its package from, and the benchmark checks it: the
old tree for before (which has no ``tracing.py``), the current one for off and on. The
receiver runs in its own process so that its CPU is not the driver's or the services'; it
answers every export 200 with an empty ExportTraceServiceResponse and decodes nothing (a
real collector would sit on another machine), counting requests and bytes per service: each
service is given its own endpoint path, ``/<service>/v1/traces``. An "on" run that exported
nothing from either service fails the benchmark.

The targets alternate in a rotated order for a few rounds (each target once in each
position), because the machine drifts between runs by about as much as the effect sought.
Reported: each target's median requests per second, the ratios off/before (expected: no
measurable difference, i.e. within the same-target spread) and on/off (the target: at least
0.90), each process's CPU time per request, and the spread of each target's runs.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
from tests.support import free_port

from bench.hop import check_mcp, mcp_process, measure
from bench.overhead import CALL, HEADERS, ROOT, lua_script
from bench.plan_latency import pantry_server
from bench.processes import stop

# The last commit before tracing ("README: the preferences read is shared within a
# request"): its services have no tracing code at all, the baseline "off" is held to.
BEFORE_REF = "868d7f1"
TARGETS = ("before", "off", "on")
LABELS = {
    "before": f"before tracing ({BEFORE_REF})",
    "off": "tracing off (no OTEL_* variables)",
    "on": "tracing on (always_on, OTLP/HTTP to a local receiver)",
}
SERVICES = {"pantry": "pantry_api", "pantry-mcp": "pantry_mcp"}  # process name -> package
CONNECTIONS = 16  # as the hop benchmark's throughput run: enough to saturate both services
SECONDS = 10
ROUNDS = 3
WARMUP = 50
TARGET_ON_TO_OFF = 0.90
PROTOBUF = "application/x-protobuf"
MARK = "bench-tracing: imported"
# How each service is started, for every target alike: the venv's interpreter runs the
# package's own entry point, after saying which file the package came from.
LAUNCH = (
    "import sys, {package}.cli as cli; "
    "print({mark!r}, {package!r}, cli.__file__, file=sys.stderr, flush=True); "
    "raise SystemExit(cli.main())"
)


# --- the receiver, in its own process: python -m bench.tracing receive PORT ---------------


class _Counts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_service: dict[str, dict[str, int]] = {}

    def add(self, service: str, size: int) -> None:
        with self.lock:
            counts = self.by_service.setdefault(service, {"requests": 0, "bytes": 0})
            counts["requests"] += 1
            counts["bytes"] += size

    def snapshot(self) -> bytes:
        with self.lock:
            return json.dumps(self.by_service).encode()


class _Receiver(BaseHTTPRequestHandler):
    """POST /<service>/v1/traces: read the body, count it, answer 200 with an empty
    ExportTraceServiceResponse (no fields set encodes as zero bytes). GET /stats: the counts."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the exporter's session expects
    counts = _Counts()

    def do_POST(self) -> None:
        length = self.headers.get("Content-Length")
        service, _, rest = self.path.lstrip("/").partition("/")
        if length is None or rest != "v1/traces":
            self._answer(411 if length is None else 404, b"", "text/plain")
            return
        body = self.rfile.read(int(length))
        self.counts.add(service, len(body))
        self._answer(200, b"", PROTOBUF)

    def do_GET(self) -> None:
        if self.path != "/stats":
            self._answer(404, b"", "text/plain")
            return
        self._answer(200, self.counts.snapshot(), "application/json")

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per export on stderr would cost more than the receiving


def receive(port: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), _Receiver)
    server.daemon_threads = True
    server.serve_forever()


@dataclass(frozen=True)
class Receiver:
    url: str
    pid: int

    def endpoint(self, service: str) -> str:
        """OTEL_EXPORTER_OTLP_ENDPOINT for ``service``: its spans are counted on their own."""
        return f"{self.url}/{service}"

    def counts(self) -> dict[str, dict[str, int]]:
        answer: dict[str, dict[str, int]] = httpx2.get(f"{self.url}/stats", timeout=5).json()
        return answer


@contextmanager
def receiver_process() -> Iterator[Receiver]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.tracing", "receive", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    receiver = Receiver(f"http://127.0.0.1:{port}", process.pid)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the OTLP receiver did not come up")
            try:
                receiver.counts()
                break
            except httpx2.TransportError:
                time.sleep(0.05)
        yield receiver
    finally:
        stop(process)


# --- the targets ---------------------------------------------------------------------------


def before_tree(folder: Path) -> tuple[Path | None, str | None]:
    """BEFORE_REF's src/ unpacked in ``folder``, or None and why not (a shallow clone)."""
    if shutil.which("git") is None:
        return None, "git is not installed"
    found = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{BEFORE_REF}^{{commit}}"],
        capture_output=True,
        check=False,
    )
    if found.returncode != 0:
        return None, f"commit {BEFORE_REF} is not in this clone (shallow?)"
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", BEFORE_REF, "src"],
        capture_output=True,
        check=True,
    )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        if hasattr(tarfile, "data_filter"):  # Python 3.11.4 and later
            tar.extractall(folder, filter="data")
        else:
            tar.extractall(folder)  # noqa: S202 - our own repository's archive
    source = folder / "src"
    for package in SERVICES.values():
        if (source / package / "tracing.py").exists():
            raise RuntimeError(f"{BEFORE_REF} already has {package}/tracing.py: not 'before'")
    return source, None


def environment(
    target: str, old_source: Path | None, receiver: Receiver, service: str
) -> dict[str, str]:
    """The inherited environment without any OTEL_* variable, plus what ``target`` needs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    if target == "before":
        assert old_source is not None
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(old_source), env.get("PYTHONPATH")]))
    if target == "on":
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.endpoint(service)
        env["OTEL_TRACES_SAMPLER"] = "always_on"
    return env


def imported_from(stderr: Path, package: str) -> Path:
    """The file ``package``'s cli module was loaded from, as the process said (LAUNCH)."""
    for line in stderr.read_text().splitlines():
        parts = line.split(" ", 3)
        if line.startswith(MARK) and len(parts) == 4 and parts[2] == package:
            return Path(parts[3])
    raise RuntimeError(f"{stderr.name} does not say where {package} came from")


def check_code(target: str, folder: Path, old_source: Path | None) -> None:
    """Each process runs the code its target names: the old tree, or the current one."""
    for process, package in SERVICES.items():
        stderr = folder / ("pantry-api.stderr" if process == "pantry" else "pantry-mcp.stderr")
        cli = imported_from(stderr, package)
        old = old_source is not None and cli.is_relative_to(old_source)
        has_tracing = (cli.parent / "tracing.py").exists()
        if (target == "before") != old or has_tracing == (target == "before"):
            raise RuntimeError(f"{target}: {package} was imported from {cli}")


def check_result(client: httpx2.Client, url: str) -> None:
    """A real search answer: not an error, and recipes found (hop.check_mcp, plus results)."""
    check_mcp(client, url)
    response = client.post(url, json=CALL, headers=HEADERS)
    structured = response.json()["result"].get("structuredContent") or {}
    if not structured.get("results"):
        raise RuntimeError(f"search_recipes found nothing: {response.text[:300]}")


@dataclass(frozen=True)
class Running:
    url: str
    pids: dict[str, int]


@contextmanager
def services(
    target: str, folder: Path, old_source: Path | None, receiver: Receiver
) -> Iterator[Running]:
    """A fresh Pantry (fresh seeded database) and pantry-mcp for ``target``."""
    folder.mkdir()

    def program(package: str) -> list[str]:
        return [sys.executable, "-c", LAUNCH.format(package=package, mark=MARK)]

    with ExitStack() as stack:
        pantry_url, pantry_pid = stack.enter_context(
            pantry_server(
                folder,
                environ=environment(target, old_source, receiver, "pantry-api"),
                program=program("pantry_api"),
            )
        )
        mcp_url, mcp_pid = stack.enter_context(
            mcp_process(
                pantry_url,
                folder,
                environ=environment(target, old_source, receiver, "pantry-mcp"),
                program=program("pantry_mcp"),
            )
        )
        check_code(target, folder, old_source)
        with httpx2.Client(timeout=10) as client:
            check_result(client, mcp_url)
            for _ in range(WARMUP):  # every warm-up answer is checked, not only the first
                check_mcp(client, mcp_url)
        yield Running(mcp_url, {"pantry": pantry_pid, "pantry-mcp": mcp_pid})


def exported(
    before: Mapping[str, Mapping[str, int]], after: Mapping[str, Mapping[str, int]]
) -> dict[str, dict[str, int]]:
    """What each service exported between two of the receiver's counts (only those that did)."""
    sent = {
        service: {
            key: after[service][key] - before.get(service, {}).get(key, 0)
            for key in ("requests", "bytes")
        }
        for service in after
    }
    return {service: counts for service, counts in sent.items() if counts["requests"]}


def one_run(
    target: str,
    folder: Path,
    old_source: Path | None,
    receiver: Receiver,
    script: Path,
    seconds: int,
) -> dict[str, Any]:
    with services(target, folder, old_source, receiver) as running:
        pids = dict(running.pids)
        if target == "on":
            pids["receiver"] = receiver.pid
        counts = receiver.counts()
        result = measure(running.url, script, seconds, CONNECTIONS, pids)
        sent = exported(counts, receiver.counts())
    if result["errors"] or result["socket_errors"]:
        raise RuntimeError(f"{target}: {result['errors']} non-2xx, {result['socket_errors']}")
    if target == "on":
        silent = [s for s in ("pantry-mcp", "pantry-api") if not sent.get(s, {}).get("requests")]
        if silent:
            raise RuntimeError(f"tracing on, but nothing was exported by {', '.join(silent)}")
        result["exported"] = sent
    elif sent:
        raise RuntimeError(f"{target}: spans were exported with tracing off: {sent}")
    return result


def spread(values: list[float]) -> float:
    """The range of a target's runs, as a fraction of their median."""
    return round((max(values) - min(values)) / statistics.median(values), 3)


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    rates = [r["requests_per_second"] for r in runs]
    cpu = {
        process: round(statistics.median(r["cpu_us_per_request"][process] for r in runs), 1)
        for process in runs[0]["cpu_us_per_request"]
    }
    summary: dict[str, Any] = {
        "requests_per_second": round(statistics.median(rates), 1),
        "runs_requests_per_second": rates,
        "spread": spread(rates),
        "p50_ms": round(statistics.median(r["p50_ms"] for r in runs), 2),
        "p99_ms": round(statistics.median(r["p99_ms"] for r in runs), 2),
        "cpu_us_per_request": cpu,
        "requests": sum(r["requests"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
    }
    if "exported" in runs[0]:
        total: dict[str, dict[str, int]] = {}
        for r in runs:
            for service, counts in r["exported"].items():
                into = total.setdefault(service, {"requests": 0, "bytes": 0})
                for key, value in counts.items():
                    into[key] += value
        summary["exported"] = total
        summary["exported_bytes_per_call"] = round(
            sum(c["bytes"] for c in total.values()) / max(summary["requests"], 1)
        )
    return summary


def run(seconds: int = SECONDS, rounds: int = ROUNDS) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("make bench needs wrk: apt-get install wrk")
    runs: dict[str, list[dict[str, Any]]] = {}
    orders: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="pantry-bench-") as temp, receiver_process() as rx:
        folder = Path(temp)
        old_source, skipped = before_tree(folder / "before-tree")
        if skipped:
            print(f"tracing: no 'before' target: {skipped}", flush=True)
        targets = [t for t in TARGETS if t != "before" or old_source is not None]
        script = lua_script(folder, "mcp", CALL, HEADERS)
        for number in range(rounds):
            order = targets[number % len(targets) :] + targets[: number % len(targets)]
            orders.append(order)
            for target in order:
                where = folder / f"{target}-{number}"
                runs.setdefault(target, []).append(
                    one_run(target, where, old_source, rx, script, seconds)
                )
    results: dict[str, Any] = {name: summarise(runs[name]) for name in targets}
    results["runs"] = runs
    results["orders"] = orders
    results["on_to_off"] = compare(results, "on", "off")
    results["on_to_off"]["target"] = TARGET_ON_TO_OFF
    results["on_to_off"]["met"] = results["on_to_off"]["ratio"] >= TARGET_ON_TO_OFF
    if "before" in results:
        gap = compare(results, "off", "before")
        # "No measurable difference": the gap is within what the same target varies by.
        gap["noise"] = max(results["before"]["spread"], results["off"]["spread"])
        gap["within_noise"] = abs(gap["ratio"] - 1) <= gap["noise"]
        results["off_to_before"] = gap
    results["before_ref"] = BEFORE_REF
    results["before_skipped"] = skipped
    results["seconds"], results["connections"], results["rounds"] = seconds, CONNECTIONS, rounds
    return results


def compare(results: dict[str, Any], new: str, old: str) -> dict[str, Any]:
    """``new`` against ``old``: the ratio of median throughputs, the ratio within each round
    (the two runs closest in time), and each process's CPU per request as a ratio."""
    a, b = results[new], results[old]
    runs = results["runs"]
    return {
        "ratio": round(a["requests_per_second"] / b["requests_per_second"], 3),
        "by_round": [
            round(x["requests_per_second"] / y["requests_per_second"], 3)
            for x, y in zip(runs[new], runs[old], strict=True)
        ],
        "cpu_ratio": {
            process: round(a["cpu_us_per_request"][process] / cpu, 3)
            for process, cpu in b["cpu_us_per_request"].items()
        },
    }


def table(results: dict[str, Any]) -> str:
    rows = [
        "| target | req/s (median) | runs | spread | p50 ms | p99 ms | Pantry CPU µs/req "
        "| pantry-mcp CPU µs/req | errors |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for target in TARGETS:
        r = results.get(target)
        if r is None:
            continue
        cpu = r["cpu_us_per_request"]
        runs = ", ".join(f"{x:.0f}" for x in r["runs_requests_per_second"])
        rows.append(
            f"| {LABELS[target]} | {r['requests_per_second']:.1f} | {runs} "
            f"| {r['spread']:.1%} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {cpu['pantry']} "
            f"| {cpu['pantry-mcp']} | {r['errors']} |"
        )
    if "off_to_before" in results:
        gap = results["off_to_before"]
        verdict = "within" if gap["within_noise"] else "OUTSIDE"
        rows.append(ratio_row("off / before", gap, f"{verdict} noise ({gap['noise']:.1%})"))
    cost = results["on_to_off"]
    met = "met" if cost["met"] else "NOT met"
    rows.append(ratio_row("on / off", cost, f"target >= {cost['target']}: {met}"))
    on = results["on"]
    per_service = ", ".join(
        f"{service} {c['requests']} requests / {c['bytes'] / 1e6:.1f} MB"
        for service, c in sorted(on["exported"].items())
    )
    rows.append(
        f"\nExported while loaded (tracing on, {results['rounds']} runs of "
        f"{results['seconds']} s): {per_service}; {on['exported_bytes_per_call']} bytes per "
        f"tool call; the receiver's CPU {on['cpu_us_per_request'].get('receiver')} µs per "
        f"tool call (its own process)."
    )
    rows.append(
        f"Order of the runs, by round: {' | '.join(', '.join(o) for o in results['orders'])}. "
        f"Spread: (max - min) / median of a target's {results['rounds']} runs of "
        f"{results['seconds']} s at {results['connections']} connections."
    )
    if results.get("before_skipped"):
        rows.append(f"No 'before' target: {results['before_skipped']}.")
    return "\n".join(rows)


def ratio_row(label: str, ratio: dict[str, Any], verdict: str) -> str:
    rounds = ", ".join(f"{x}x" for x in ratio["by_round"])
    cpu = ratio["cpu_ratio"]
    return (
        f"| {label} | {ratio['ratio']}x | {rounds} (by round) | {verdict} | | "
        f"| {cpu['pantry']}x | {cpu['pantry-mcp']}x | |"
    )


if __name__ == "__main__":
    if sys.argv[1:2] != ["receive"] or len(sys.argv) != 3:
        raise SystemExit("usage: python -m bench.tracing receive PORT")
    receive(int(sys.argv[2]))
