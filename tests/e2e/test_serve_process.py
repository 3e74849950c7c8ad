"""``pantry-mcp serve`` as operators run it: a real process, metrics on their own port,
and a graceful stop on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support import SERVICE_TOKEN, RunningServer, free_port, serve_in_thread, wait_until_up


def wait_until_refused(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
        except OSError:
            return
        time.sleep(0.05)  # polling a condition, bounded by the deadline
    raise AssertionError(f"port {port} still accepts connections")


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
    events = [json.loads(line)["event"] for line in out.splitlines()]  # every line is JSON
    assert "Application shutdown complete." in events
    assert any(event.startswith("Finished server process") for event in events)


def test_sigterm_lets_an_in_flight_call_finish(pantry_server: RunningServer) -> None:
    """A tool call that is waiting on a slow Pantry when SIGTERM arrives still gets its
    answer; the process then exits and takes no new connections."""
    started = threading.Event()
    release = threading.Event()

    async def slow_pantry(request: Request) -> Response:
        started.set()
        await anyio.to_thread.run_sync(release.wait, 20)  # held until the signal has been sent
        async with httpx2.AsyncClient(base_url=pantry_server.base_url) as upstream:
            answer = await upstream.get(
                request.url.path, params=request.query_params, headers=dict(request.headers)
            )
        return Response(answer.content, answer.status_code, media_type="application/json")

    proxy = Starlette(routes=[Route("/{path:path}", slow_pantry, methods=["GET"])])
    port = free_port()
    with serve_in_thread(proxy) as slow:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PANTRY_MCP_PANTRY_URL": slow.base_url,
            "PANTRY_MCP_PANTRY_TOKEN": SERVICE_TOKEN,
            "PANTRY_MCP_LOG_FORMAT": "json",
        }
        command = [str(Path(sys.executable).parent / "pantry-mcp"), "serve", "--port", str(port)]
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
            url = f"http://127.0.0.1:{port}/mcp"

            def call_a_tool() -> bool:
                """One 2025-11-25 stateless tools/call, raw: nothing else is sent afterwards."""
                call = {
                    "jsonrpc": "2.0",
                    "id": 7,
                    "method": "tools/call",
                    "params": {"name": "search_recipes", "arguments": {"query": "soup"}},
                }
                headers = {
                    "Accept": "application/json, text/event-stream",
                    "MCP-Protocol-Version": "2025-11-25",
                }
                response = httpx2.post(url, json=call, headers=headers, timeout=30)
                return response.status_code == 200 and '"isError":false' in response.text

            with ThreadPoolExecutor(1) as pool:
                answer = pool.submit(call_a_tool)
                assert started.wait(20)
                process.send_signal(signal.SIGTERM)
                wait_until_refused(port)  # shutting down: new connections are refused
                release.set()
                assert answer.result(timeout=30) is True
            assert process.wait(timeout=20) in (0, -signal.SIGTERM)
            with pytest.raises(httpx2.TransportError):
                httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
        finally:
            release.set()
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def test_forwarded_for_is_believed_only_from_trusted_proxies(pantry_server: RunningServer) -> None:
    def client_seen(trusted: str) -> str | None:
        port = free_port()
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PANTRY_MCP_PANTRY_URL": pantry_server.base_url,
            "PANTRY_MCP_PANTRY_TOKEN": SERVICE_TOKEN,
            "PANTRY_MCP_LOG_FORMAT": "json",
            "PANTRY_MCP_TRUSTED_PROXIES": trusted,
        }
        command = [str(Path(sys.executable).parent / "pantry-mcp"), "serve", "--port", str(port)]
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        try:
            wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
            httpx2.get(
                f"http://127.0.0.1:{port}/readyz", headers={"X-Forwarded-For": "203.0.113.7"}
            )
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        out = process.stdout.read().decode() if process.stdout else ""
        for line in out.splitlines():
            record = json.loads(line)
            if record.get("path") == "/readyz":
                return str(record["client"])
        return None

    assert client_seen("127.0.0.1") == "203.0.113.7"
    assert client_seen("192.0.2.1") == "127.0.0.1"
