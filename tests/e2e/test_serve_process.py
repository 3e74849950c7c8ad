"""``pantry-mcp serve`` as operators run it: a real process, metrics on their own port,
and a graceful stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2

from tests.support import SERVICE_TOKEN, RunningServer, free_port


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx2.get(url, timeout=1).status_code == 200:
                return
        except httpx2.TransportError:
            time.sleep(0.1)  # polling a condition, bounded by the deadline
    raise AssertionError(f"{url} did not come up")


def test_metrics_on_their_own_address_and_sigterm_stops_gracefully(
    pantry_server: RunningServer,
) -> None:
    port, metrics_port = free_port(), free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PANTRY_MCP_PANTRY_URL": pantry_server.base_url,
        "PANTRY_MCP_PANTRY_TOKEN": SERVICE_TOKEN,
        "PANTRY_MCP_METRICS_ADDRESS": f"127.0.0.1:{metrics_port}",
        "PANTRY_MCP_LOG_FORMAT": "json",
    }
    command = [str(Path(sys.executable).parent / "pantry-mcp"), "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
        metrics = httpx2.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)
        assert metrics.status_code == 200
        assert "pantry_mcp_http_requests_total" in metrics.text
        assert httpx2.get(f"http://127.0.0.1:{port}/metrics", timeout=5).status_code == 404
        process.send_signal(signal.SIGTERM)
        # uvicorn finishes in-flight work, then re-raises the signal it caught
        assert process.wait(timeout=20) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    out = process.stdout.read().decode() if process.stdout else ""
    assert '"event": "Application shutdown complete."' in out
    assert '"event": "Finished server process' in out
