"""What one tools/call costs on each stack, under wrk from a separate process.

Each server runs alone in its own process (uvicorn, httptools, uvloop, one worker) on
127.0.0.1; wrk sends the same 2026-07-28 ``tools/call`` over 32 connections for a fixed
time. Reported: requests per second (and as a ratio to the raw Starlette floor), p50 and
p99 latency, and the server's CPU time per request.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2
from tests.support import free_port

KINDS = ("raw", "bare", "ours")
LABELS = {
    "raw": "raw Starlette JSON endpoint",
    "bare": "mcp low-level Server, stateless JSON",
    "ours": "pantry-mcp search_recipes (logs, metrics, validation; Pantry stubbed)",
}
CALL = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {
        "name": "search_recipes",
        "arguments": {"query": "curry"},
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": {"name": "wrk", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {},
        },
    },
}
HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2026-07-28",
    "Mcp-Method": "tools/call",
    "Mcp-Name": "search_recipes",
}


def lua_script(folder: Path) -> Path:
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(json.dumps(CALL))}"]
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in HEADERS.items()]
    path = folder / "call.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx2.post(url, json=CALL, headers=HEADERS, timeout=2).raise_for_status()
            return
        except (httpx2.TransportError, httpx2.HTTPStatusError):
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def parse_ms(text: str) -> float:
    number, unit = float(re.match(r"([\d.]+)", text).group(1)), re.sub(r"[\d.]", "", text)  # type: ignore[union-attr]
    return number * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def measure(kind: str, script: Path, seconds: int, connections: int) -> dict[str, Any]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    command = [sys.executable, "-m", "bench.servers", kind, str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(url, server)
        for _ in range(50):  # warm up
            httpx2.post(url, json=CALL, headers=HEADERS, timeout=5)
        before = cpu_seconds(server.pid)
        run = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            check=True,
        )
        cpu = cpu_seconds(server.pid) - before
    finally:
        server.terminate()
        server.wait(timeout=20)
    out = run.stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": parse_ms(re.search(r"^\s+50%\s+(\S+)$", out, re.MULTILINE).group(1)),  # type: ignore[union-attr]
        "p99_ms": parse_ms(re.search(r"^\s+99%\s+(\S+)$", out, re.MULTILINE).group(1)),  # type: ignore[union-attr]
        "cpu_us_per_request": round(cpu / max(total, 1) * 1e6, 1),
        "requests": total,
        "errors": int(errors.group(1)) if errors else 0,
    }


def run(seconds: int = 8, connections: int = 32) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("make bench needs wrk: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="pantry-bench-") as folder:
        script = lua_script(Path(folder))
        results: dict[str, Any] = {
            kind: measure(kind, script, seconds, connections) for kind in KINDS
        }
    floor = results["raw"]["requests_per_second"]
    for kind in KINDS:
        results[kind]["ratio_to_raw"] = round(results[kind]["requests_per_second"] / floor, 3)
    results["seconds"], results["connections"] = seconds, connections
    return results


def table(results: dict[str, Any]) -> str:
    rows = [
        "| stack | req/s | ratio to raw | p50 ms | p99 ms | server CPU µs/req | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind in KINDS:
        r = results[kind]
        rows.append(
            f"| {LABELS[kind]} | {r['requests_per_second']:.0f} | {r['ratio_to_raw']} "
            f"| {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['cpu_us_per_request']} | {r['errors']} |"
        )
    return "\n".join(rows)
