"""``pantry-mcp serve --workers N``: real processes sharing one port, as operators run them.

Which worker served a request is read where each worker writes its metrics (one file per
process in the parent's metrics directory), so the tests see calls land on every worker
and then check what must hold whichever worker answers: totals in /metrics, one rate-limit
budget per user (Redis), questions to the person opened by another worker than the one
that asked them, and a stop on SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.e2e.test_preferences_question import ANSWER, saved_preferences
from tests.e2e.test_serve_process import wait_until_refused
from tests.e2e.test_shared_rate_limit import redis_url  # noqa: F401 - a fixture
from tests.issuer import Issuer
from tests.support import (
    SERVICE_TOKEN,
    RunningServer,
    child_processes,
    eventually,
    free_port,
    serve_in_thread,
    unique,
    wait_until_up,
)

pytestmark = pytest.mark.anyio
PANTRY_MCP = str(Path(sys.executable).parent / "pantry-mcp")
SEARCH = {"query": "soup"}
GRACEFUL_SECONDS = 5  # cli.py's timeout_graceful_shutdown


@dataclass
class Workers:
    process: subprocess.Popen[bytes]
    port: int
    url: str
    tmp: Path  # the server's TMPDIR: its metrics directory is made there

    @property
    def metrics_dir(self) -> Path:
        found = list(self.tmp.glob("pantry-mcp-metrics-*"))
        assert len(found) == 1, found
        return found[0]

    def pids(self) -> set[int]:
        """The worker processes running now (uvicorn spawns them; exited ones are gone)."""
        children = child_processes(self.process.pid)
        return {pid for pid, command in children.items() if b"spawn_main" in command}

    def counted(self, name: str, **labels: str) -> dict[int, float]:
        """``name`` summed over ``labels`` per worker pid, read from each worker's own file
        (a worker writes it before its answer is sent)."""
        counts: dict[int, float] = {}
        for path in self.metrics_dir.glob("counter_*.db"):
            pid = int(path.stem.split("_")[1])
            metrics = MultiProcessCollector.merge([str(path)])  # type: ignore[no-untyped-call]
            counts[pid] = sum(
                sample.value
                for metric in metrics
                for sample in metric.samples
                if sample.name == name and labels.items() <= sample.labels.items()
            )
        return counts

    def busy(self, name: str = "pantry_mcp_tool_calls_total", **labels: str) -> set[int]:
        return {pid for pid, n in self.counted(name, **labels).items() if n}


@contextmanager
def serving(
    pantry_url: str,
    tmp: Path,
    env: dict[str, str] | None = None,
    *,
    workers: str = "2",
    port: int | None = None,
) -> Iterator[Workers]:
    port = port or free_port()
    (tmp / "tmp").mkdir()
    log = tmp / "pantry-mcp.log"
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "TMPDIR": str(tmp / "tmp"),
        "PANTRY_MCP_PANTRY_URL": pantry_url,
        "PANTRY_MCP_PANTRY_TOKEN": SERVICE_TOKEN,
        "PANTRY_MCP_LOG_FORMAT": "json",
        **(env or {}),
    }
    command = [PANTRY_MCP, "serve", "--port", str(port), "--workers", workers]
    with log.open("wb") as out:  # a file, not a pipe: a full pipe would stall the workers
        process = subprocess.Popen(command, env=environ, stdout=out, stderr=subprocess.STDOUT)
    try:
        healthz = f"http://127.0.0.1:{port}/healthz"
        try:
            wait_until_up(healthz, process, timeout=60)
        except AssertionError as error:
            raise AssertionError(f"{error}:\n{log.read_text()[-2000:]}") from None
        server = Workers(process, port, f"http://127.0.0.1:{port}/mcp", tmp / "tmp")
        if workers != "1":  # /healthz answers once one worker is up; wait for every worker
            deadline = time.monotonic() + 60
            while len(server.busy("pantry_mcp_http_requests_total", route="/healthz")) < int(
                workers
            ):
                assert time.monotonic() < deadline, log.read_text()[-2000:]
                httpx2.get(healthz, headers={"Connection": "close"}, timeout=5)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


async def until(done: Callable[[], bool], send: Callable[[], Awaitable[None]]) -> None:
    """``send`` again and again until ``done()``; a minute at most."""
    with anyio.fail_after(60):
        while not done():
            await send()


async def official_calls(url: str, clients: int = 4) -> int:
    """One tool call from each of ``clients`` official MCP clients at once: each has its
    own connection, which either worker may accept."""

    async def one() -> None:
        async with Client(url, mode="2026-07-28") as client:
            result = await client.call_tool("search_recipes", SEARCH)
        assert not result.is_error, result

    async with anyio.create_task_group() as group:
        for _ in range(clients):
            group.start_soon(one)
    return clients


def scrape(url: str, name: str, **labels: str) -> float:
    """A sample from /metrics at ``url``, over a new connection (so any worker answers)."""
    response = httpx2.get(url, timeout=10, headers={"Connection": "close"})
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


async def test_two_workers_share_the_port_and_metrics_sum_them(
    pantry_server: RunningServer, tmp_path: Path
) -> None:
    with serving(pantry_server.base_url, tmp_path, {"PANTRY_MCP_RATE_LIMIT": "0"}) as server:
        sent = 0

        async def send() -> None:
            nonlocal sent
            sent += await official_calls(server.url)

        await until(lambda: len(server.busy()) == 2, send)
        workers = server.pids()
        assert len(workers) == 2 and server.busy() == workers
        ok = {"tool": "search_recipes", "outcome": "ok"}
        assert sum(server.counted("pantry_mcp_tool_calls_total", **ok).values()) == sent
        metrics = server.url.replace("/mcp", "/metrics")
        for _ in range(6):  # whichever worker answers the scrape, it shows every worker's calls
            assert scrape(metrics, "pantry_mcp_tool_calls_total", **ok) == sent

        # A worker that dies is replaced; its calls still count, and the live gauges it
        # would have left (none today: that mode has no gauge) are dropped by the parent.
        victim = min(workers)
        live = server.metrics_dir / f"gauge_livesum_{victim}.db"
        gauge = MmapedDict(str(live))  # type: ignore[no-untyped-call]
        key = mmap_key("test_live", "test_live", [], [], "a live gauge")
        gauge.write_value(key, 1.0, 0.0)  # type: ignore[no-untyped-call]
        gauge.close()  # type: ignore[no-untyped-call]
        os.kill(victim, signal.SIGKILL)
        await eventually(lambda: victim not in (now := server.pids()) and len(now) == 2)
        await eventually(lambda: not live.exists())
        assert scrape(metrics, "pantry_mcp_tool_calls_total", **ok) == sent
        sent += await official_calls(server.url, clients=2)
        assert scrape(metrics, "pantry_mcp_tool_calls_total", **ok) == sent
        directory = server.metrics_dir
    assert server.process.returncode in (0, -signal.SIGTERM)
    assert not directory.exists()  # removed by the parent on its way out


async def test_the_rate_limit_is_one_budget_across_workers(
    pantry_server: RunningServer,
    tmp_path: Path,
    redis_url: str,  # noqa: F811 - the fixture
) -> None:
    """Two calls a minute for the user, whichever worker takes them: both workers refuse
    calls beyond the budget, and only two succeed in all."""
    user = unique("workers-budget")
    env = {"PANTRY_MCP_USER": user, "PANTRY_MCP_REDIS_URL": redis_url, "PANTRY_MCP_RATE_LIMIT": "2"}
    with serving(pantry_server.base_url, tmp_path, env) as server:
        outcomes: list[bool] = []

        async def send() -> None:
            async with Client(server.url, mode="2026-07-28") as client:  # a new connection
                outcomes.append((await client.call_tool("search_recipes", SEARCH)).is_error)

        # The budget refills one call per 30 s; this takes a few seconds.
        await until(lambda: len(server.busy(outcome="tool_error")) == 2, send)
        assert outcomes.count(False) == 2, outcomes
        assert outcomes[:2] == [False, False]
        assert server.busy(outcome="tool_error") == server.pids()


async def test_a_question_asked_by_one_worker_is_answered_through_another(
    pantry_server: RunningServer, tmp_path: Path, issuer: Issuer
) -> None:
    """No PANTRY_MCP_REQUEST_STATE_KEY: the parent makes one for all workers, so the sealed
    requestState of the preferences question opens on whichever worker takes the answer."""
    port = free_port()
    resource = f"http://127.0.0.1:{port}/mcp"
    env = {
        "PANTRY_MCP_AUTH_ISSUER": issuer.url,
        "PANTRY_MCP_RESOURCE_URL": resource,
        "PANTRY_MCP_RATE_LIMIT": "0",
    }
    with serving(pantry_server.base_url, tmp_path, env, port=port) as server:
        crossed = rounds = 0

        def served() -> dict[int, float]:
            return server.counted("pantry_mcp_requests_total", method="tools/call")

        async def call(token: str, params: dict[str, Any]) -> tuple[dict[str, Any], int]:
            """One tools/call on a new connection; its answer and the worker that gave it."""
            before = served()
            body = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {
                    **params,
                    "_meta": {
                        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}},
                    },
                },
            }
            headers = {
                "Authorization": f"Bearer {token}",
                "MCP-Protocol-Version": "2026-07-28",
                "Mcp-Method": "tools/call",
                "Mcp-Name": params["name"],
                "Accept": "application/json, text/event-stream",
                "Content-Type": "application/json",
            }
            async with httpx2.AsyncClient(timeout=30) as http:
                response = await http.post(server.url, content=json.dumps(body), headers=headers)
            assert response.status_code == 200, response.text
            after = served()
            (worker,) = [pid for pid, n in after.items() if n != before.get(pid, 0)]
            answer: dict[str, Any] = response.json()
            return answer, worker

        async def one_round() -> None:
            nonlocal crossed, rounds
            user = unique("asked-by-one")
            token = issuer.token(user, audience=resource)
            call_params = {"name": "whats_for_dinner", "arguments": {"count": 2}}
            asked, asker = await call(token, call_params)
            question = asked["result"]
            assert question["resultType"] == "input_required", asked
            answer = {
                **call_params,
                "requestState": question["requestState"],
                "inputResponses": {"preferences": {"action": "accept", "content": ANSWER}},
            }
            answered, answerer = await call(token, answer)
            assert "result" in answered and not answered["result"].get("isError"), answered
            assert (await saved_preferences(pantry_server, user))["servings"] == 2
            rounds += 1
            crossed += asker != answerer

        await until(lambda: crossed >= 3, one_round)
    assert rounds >= crossed >= 3


def test_sigterm_stops_every_worker_within_the_graceful_timeout(
    pantry_server: RunningServer, tmp_path: Path
) -> None:
    """Two calls in flight when SIGTERM reaches the parent: the one Pantry answers in time
    gets its answer; the one Pantry never answers is given up after the graceful timeout;
    then every worker and the parent are gone, and so is the metrics directory. Metrics
    are served once, by the parent, on their own address."""
    held: list[threading.Event] = [threading.Event(), threading.Event()]
    arrived = threading.Semaphore(0)
    order = iter(range(2))

    async def slow_pantry(request: Request) -> Response:
        release = held[next(order)]
        arrived.release()
        await anyio.to_thread.run_sync(release.wait, 60)
        async with httpx2.AsyncClient(base_url=pantry_server.base_url) as upstream:
            answer = await upstream.get(
                request.url.path, params=request.query_params, headers=dict(request.headers)
            )
        return Response(answer.content, answer.status_code, media_type="application/json")

    proxy = Starlette(routes=[Route("/{path:path}", slow_pantry, methods=["GET"])])
    metrics_port = free_port()
    env = {
        "PANTRY_MCP_RATE_LIMIT": "0",
        "PANTRY_MCP_METRICS_ADDRESS": f"127.0.0.1:{metrics_port}",
    }
    with serve_in_thread(proxy) as slow, serving(slow.base_url, tmp_path, env) as server:
        assert httpx2.get(server.url.replace("/mcp", "/metrics")).status_code == 404
        metrics = f"http://127.0.0.1:{metrics_port}/metrics"
        healthz = {"route": "/healthz", "status": "200"}
        deadline = time.monotonic() + 10  # a worker counts a request just after answering it
        while not scrape(metrics, "pantry_mcp_http_requests_total", **healthz):
            assert time.monotonic() < deadline
            time.sleep(0.05)  # polling a condition, bounded by the deadline
        workers, directory = server.pids(), server.metrics_dir
        assert len(workers) == 2

        def call() -> str:
            body = {
                "jsonrpc": "2.0",
                "id": 7,
                "method": "tools/call",
                "params": {"name": "search_recipes", "arguments": SEARCH},
            }
            headers = {
                "Accept": "application/json, text/event-stream",
                "MCP-Protocol-Version": "2025-11-25",
            }
            try:
                response = httpx2.post(server.url, json=body, headers=headers, timeout=60)
            except httpx2.TransportError:
                return "dropped"
            return "answered" if '"isError":false' in response.text else response.text

        with ThreadPoolExecutor(2) as pool:
            answers = [pool.submit(call), pool.submit(call)]
            assert arrived.acquire(timeout=30) and arrived.acquire(timeout=30)
            server.process.send_signal(signal.SIGTERM)
            stopping = time.monotonic()
            wait_until_refused(server.port)
            held[0].set()
            assert server.process.wait(timeout=GRACEFUL_SECONDS + 15) in (0, -signal.SIGTERM)
            stopped = time.monotonic() - stopping
            results = [answer.result(timeout=30) for answer in answers]
        held[1].set()
    # The call Pantry answered got its result; the other's worker gave up on it when the
    # grace ran out.
    assert results.count("answered") == 1, results
    assert GRACEFUL_SECONDS <= stopped < GRACEFUL_SECONDS + 15
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    assert not directory.exists()


@pytest.mark.parametrize(
    ("arguments", "env", "says"),
    [
        (["--workers", "0"], {}, "--workers must be a whole number from 1 to 512, got '0'"),
        (["--workers", "two"], {}, "--workers must be a whole number from 1 to 512, got 'two'"),
        ([], {"PANTRY_MCP_WORKERS": "-1"}, "PANTRY_MCP_WORKERS must be a whole number"),
        (
            ["--workers", "2"],
            {"PANTRY_MCP_RATE_LIMIT": "0", "PANTRY_MCP_STATEFUL": "true"},
            "--workers=2 cannot serve PANTRY_MCP_STATEFUL=true",
        ),
        (
            [],
            {"PANTRY_MCP_WORKERS": "3"},
            "PANTRY_MCP_WORKERS=3 with a rate limit needs PANTRY_MCP_REDIS_URL",
        ),
    ],
)
def test_what_workers_cannot_share_stops_start_up_with_one_line(
    arguments: list[str], env: dict[str, str], says: str
) -> None:
    environ = {"PATH": "", "PANTRY_MCP_PANTRY_TOKEN": SERVICE_TOKEN, **env}
    result = subprocess.run(
        [PANTRY_MCP, "serve", "--port", str(free_port()), *arguments],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pantry-mcp: "), lines
    assert says in lines[0]


def test_the_limit_error_names_every_fix() -> None:
    result = subprocess.run(
        [PANTRY_MCP, "serve", "--port", str(free_port()), "--workers", "2"],
        env={"PATH": "", "PANTRY_MCP_PANTRY_TOKEN": SERVICE_TOKEN, "PANTRY_MCP_RATE_LIMIT": "60"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    for fix in ("PANTRY_MCP_REDIS_URL", "PANTRY_MCP_RATE_LIMIT=0", "--workers 1"):
        assert fix in result.stderr


async def test_one_worker_is_one_process_and_writes_no_metrics_files(
    pantry_server: RunningServer, tmp_path: Path
) -> None:
    with serving(pantry_server.base_url, tmp_path, workers="1") as server:
        async with Client(server.url, mode="2026-07-28") as client:
            assert not (await client.call_tool("search_recipes", SEARCH)).is_error
        assert server.pids() == set()
        assert list(server.tmp.iterdir()) == []
        metrics = server.url.replace("/mcp", "/metrics")
        assert scrape(metrics, "pantry_mcp_tool_calls_total", tool="search_recipes", outcome="ok")
