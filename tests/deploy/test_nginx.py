"""pantry-mcp behind a real nginx that runs the shipped deploy/nginx/pantry-mcp.conf.

Each test starts two pantry-mcp replicas (demo mode, one acting user, in front of the
session's seeded Pantry) and its own nginx: a non-daemon process with a temporary prefix
(``nginx -p TMP -c TMP/nginx.conf -g 'daemon off;'``) whose pid, logs and temp files all
live in TMP. The main config is written here; the server and upstream blocks are the
shipped file with exactly three lines changed (see ``render_site``): the two example
upstream servers become the replicas' ports and ``listen 80`` becomes a free port on
127.0.0.1. Every location directive runs as shipped.

Each replica sits behind ``Replica``, a small pure-ASGI middleware owned by this test: it
records what nginx sent (to count requests per replica and check the forwarded headers),
can hold one POST (to stop a replica while a call is in flight), and answers one probe
path used to test SSE buffering (see ``test_sse_streams_through_unbuffered``).

nginx is not installed by the tests: without ``nginx`` on PATH they skip with the reason
printed, unless PANTRY_TEST_REQUIRE_NGINX=1 (set by .ci/run, which installs it), when
they fail.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx2
import pytest
from mcp import Client
from starlette.types import ASGIApp, Receive, Scope, Send

from pantry_mcp.app import create_app
from tests.support import (
    LISTED_TOOL_NAMES,
    RunningServer,
    free_port,
    mcp_settings,
    serve_in_thread,
    text_of,
    unique,
)

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "pantry-mcp.conf"
EXAMPLE_UPSTREAMS = ("127.0.0.1:8000", "127.0.0.1:8010")
TOOLS = list(LISTED_TOOL_NAMES)
PROBE_PATH = "/mcp/.test-sse-probe"  # under `location /mcp`, answered by Replica itself
WAIT = 10.0  # seconds: the bound on every wait in this file
REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")  # nginx's $request_id
GROCERIES = {
    "changes": [
        {"action": "add", "ingredient": "milk", "quantity": 1, "unit": "l"},
        {"action": "add", "ingredient": "eggs", "quantity": 12, "unit": "piece"},
        {"action": "add", "ingredient": "chickpeas", "quantity": 2, "unit": "can"},
    ]
}


# -- nginx -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nginx_binary() -> str:
    found = shutil.which("nginx")
    if found is None:
        reason = "nginx is not on PATH (Debian: apt-get install nginx-light; .ci/run does)"
        if os.environ.get("PANTRY_TEST_REQUIRE_NGINX") == "1":
            pytest.fail(f"PANTRY_TEST_REQUIRE_NGINX=1 but {reason}")
        pytest.skip(reason)
    return found


def _replace_one_line(text: str, pattern: str, replacement: str) -> str:
    rendered, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    assert count == 1, f"{SHIPPED.name}: expected one line matching {pattern!r}, found {count}"
    return rendered


def render_site(listen_port: int, replica_ports: tuple[int, int]) -> str:
    """The shipped file with its example upstreams and its listen port replaced, nothing else."""
    text = SHIPPED.read_text()
    for example, port in zip(EXAMPLE_UPSTREAMS, replica_ports, strict=True):
        text = _replace_one_line(
            text, rf"^(\s*server\s+){re.escape(example)}(?=[\s;])", rf"\g<1>127.0.0.1:{port}"
        )
    text = _replace_one_line(text, r"^(\s*listen\s+)80;", rf"\g<1>127.0.0.1:{listen_port};")
    listens = re.findall(r"^\s*listen\s+([^\s;]+)", text, flags=re.MULTILINE)
    assert listens == [f"127.0.0.1:{listen_port}"], f"unexpected listen lines: {listens}"
    return text


def main_config(prefix: Path, site: Path) -> str:
    """A minimal nginx.conf that keeps everything in ``prefix`` and includes ``site``."""
    # As root nginx would run its workers as `nobody`, which cannot use a private temp dir.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{
    worker_connections 256;
}}
http {{
    log_format upstreams '$request_method $request_uri $status '
                         '"$upstream_addr" "$upstream_status"';
    access_log {prefix}/access.log upstreams;
    # Like a main config that compresses all it can: events must still stream.
    gzip on;
    gzip_types text/event-stream application/json;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {site};
}}
"""


def nginx_command(binary: str, prefix: Path, *extra: str) -> list[str]:
    return [
        binary,
        "-p",
        f"{prefix}/",
        "-c",
        str(prefix / "nginx.conf"),
        "-e",
        str(prefix / "error.log"),
        *extra,
    ]


@dataclass(frozen=True)
class Nginx:
    url: str
    prefix: Path

    def access_log(self) -> list[str]:
        return (self.prefix / "access.log").read_text().splitlines()

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text() if path.exists() else ""


@contextmanager
def run_nginx(
    binary: str, prefix: Path, listen_port: int, replica_ports: tuple[int, int]
) -> Iterator[Nginx]:
    site = prefix / "conf.d" / "pantry-mcp.conf"
    site.parent.mkdir(parents=True)
    site.write_text(render_site(listen_port, replica_ports))
    (prefix / "nginx.conf").write_text(main_config(prefix, site))
    output = prefix / "nginx.out"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            nginx_command(binary, prefix, "-g", "daemon off;"),
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    nginx = Nginx(url=f"http://127.0.0.1:{listen_port}", prefix=prefix)
    try:
        deadline = time.monotonic() + WAIT
        while True:
            try:
                process.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                pass
            else:
                pytest.fail(
                    f"nginx exited with {process.returncode}: "
                    f"{output.read_text()}{nginx.error_log()}"
                )
            try:
                socket.create_connection(("127.0.0.1", listen_port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"nginx is not listening after {WAIT:g}s: {nginx.error_log()}")
        yield nginx
    finally:
        process.terminate()  # SIGTERM: fast shutdown of the master and its worker
        try:
            process.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=WAIT)


# -- replicas ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """One request as it reached a replica."""

    method: str
    path: str
    http_version: str
    headers: dict[str, str]


class Hold:
    """Once armed, the first POST to reach either replica waits here until released."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed = False
        self.holder: Replica | None = None
        self.claimed = threading.Event()
        self.released = threading.Event()

    def arm(self) -> None:
        with self._lock:
            self._armed = True

    def replica(self) -> Replica:
        assert self.holder is not None, "no replica holds a request"
        return self.holder

    def claim(self, replica: Replica) -> bool:
        with self._lock:
            if not self._armed:
                return False
            self._armed = False
            self.holder = replica
        self.claimed.set()
        return True


class Replica:
    """Pure ASGI middleware in front of one pantry-mcp app (it does not buffer)."""

    def __init__(self, app: ASGIApp, hold: Hold, probe_release: threading.Event) -> None:
        self.app = app
        self.hold = hold
        self.probe_release = probe_release
        self._lock = threading.Lock()
        self._seen: list[Seen] = []
        self.port = 0

    def seen(self, path: str = "/mcp") -> list[Seen]:
        with self._lock:
            return [s for s in self._seen if s.path == path]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == PROBE_PATH:
            await self._probe(send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        with self._lock:
            self._seen.append(
                Seen(
                    scope["method"],
                    scope["path"],
                    scope["http_version"],
                    headers,
                )
            )
        if scope["method"] == "POST" and self.hold.claim(self):
            await anyio.to_thread.run_sync(self.hold.released.wait, WAIT)
        await self.app(scope, receive, send)

    async def _probe(self, send: Send) -> None:
        """An SSE response that sends one event, then stays open until the test says so.

        Unlike the SDK's responses it carries no ``X-Accel-Buffering: no``, so only the
        location's own settings decide whether nginx passes the event on at once. It
        declares its whole length up front instead of using chunks, so nginx cannot pass the
        event on at a chunk boundary either: only a location that forwards bytes as they
        arrive (``proxy_buffering off``) lets the first event out before the last one.
        """
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream"),
                    (b"cache-control", b"no-cache"),
                    (
                        b"content-length",
                        str(
                            len(b"event: probe\ndata: first\n\n")
                            + len(b"event: probe\ndata: last\n\n")
                        ).encode(),
                    ),
                ],
            }
        )
        await send(
            {
                "type": "http.response.body",
                "body": b"event: probe\ndata: first\n\n",
                "more_body": True,
            }
        )
        await anyio.to_thread.run_sync(self.probe_release.wait, WAIT)
        await send({"type": "http.response.body", "body": b"event: probe\ndata: last\n\n"})


@dataclass
class Deployment:
    nginx: Nginx
    replicas: list[Replica]
    hold: Hold
    probe_release: threading.Event
    _stacks: list[ExitStack] = field(default_factory=list)

    @property
    def mcp_url(self) -> str:
        return f"{self.nginx.url}/mcp"

    def stop(self, replica: Replica) -> None:
        """Stop one replica the way uvicorn does on SIGTERM: in-flight requests finish."""
        self._stacks[self.replicas.index(replica)].close()


@pytest.fixture
def deployment(
    nginx_binary: str, pantry_server: RunningServer, tmp_path: Path
) -> Iterator[Deployment]:
    user = unique("nginx-user")  # both replicas act as the same user: any may serve any call
    hold, probe_release = Hold(), threading.Event()
    with ExitStack() as outer:
        replicas: list[Replica] = []
        stacks: list[ExitStack] = []
        for _ in range(2):
            # nginx forwards `Host: $host`, the name without the port, so "127.0.0.1" is the
            # one Host the replicas accept: a request that skipped nginx would get 421.
            settings = mcp_settings(
                pantry_server.base_url, user, PANTRY_MCP_ALLOWED_HOSTS="127.0.0.1"
            )
            replica = Replica(create_app(settings), hold, probe_release)
            stack = outer.enter_context(ExitStack())
            server: RunningServer = stack.enter_context(serve_in_thread(replica))
            replica.port = server.port
            replicas.append(replica)
            stacks.append(stack)
        nginx = outer.enter_context(
            run_nginx(
                nginx_binary,
                tmp_path / "nginx",
                free_port(),
                (replicas[0].port, replicas[1].port),
            )
        )
        try:
            yield Deployment(nginx, replicas, hold, probe_release, stacks)
        finally:
            hold.released.set()  # never leave a replica waiting at teardown
            probe_release.set()


def established_to(port: int) -> int:
    """Open TCP connections to ``port`` on 127.0.0.1 (Linux: from /proc/net/tcp)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        count += state == "01" and int(local.rsplit(":", 1)[1], 16) == port  # ESTABLISHED
    return count


def ok(result: Any) -> Any:
    assert not result.is_error, text_of(result.content[0])
    return result.structured_content


# -- tests -------------------------------------------------------------------------------


def test_shipped_file_passes_nginx_t(nginx_binary: str, tmp_path: Path) -> None:
    site = tmp_path / "conf.d" / "pantry-mcp.conf"
    site.parent.mkdir()
    shutil.copyfile(SHIPPED, site)  # as shipped: port 80, example upstreams
    (tmp_path / "nginx.conf").write_text(main_config(tmp_path, site))
    checked = subprocess.run(
        nginx_command(nginx_binary, tmp_path, "-t"),
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_a_week_with_pantry_through_nginx(deployment: Deployment, mode: str) -> None:
    async with Client(deployment.mcp_url, mode=mode) as client:
        assert client.protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
        assert [t.name for t in (await client.list_tools()).tools] == TOOLS
        found = ok(await client.call_tool("search_recipes", {"query": "curry"}))
        assert found["results"], found
        assert ok(await client.call_tool("update_pantry", GROCERIES))["applied"] == 3
        plan = ok(await client.call_tool("plan_week_meals", {"start_date": "2026-11-30"}))
        assert len(plan["days"]) == 7
        shopping = ok(await client.call_tool("get_shopping_list", {"plan_id": plan["plan_id"]}))
        assert shopping["item_count"] > 0
        pantry = text_of((await client.read_resource("pantry://current")).contents[0])
        assert "3 items." in pantry and "- milk: " in pantry, pantry
    # Round robin: both replicas answered part of one client's work (so a plan made on
    # one was read back on the other, through the shared Pantry).
    served = [len(replica.seen()) for replica in deployment.replicas]
    assert all(count > 0 for count in served), served


@pytest.mark.anyio
async def test_nginx_forwards_what_pantry_mcp_expects(deployment: Deployment) -> None:
    async with Client(deployment.mcp_url, mode="2026-07-28") as client:
        for _ in range(4):
            ok(await client.call_tool("search_recipes", {"query": "soup"}))
    for replica in deployment.replicas:
        seen = replica.seen()
        assert len(seen) >= 2, f"replica on {replica.port} saw {len(seen)} requests"
        for request in seen:
            assert request.http_version == "1.1"
            assert "connection" not in request.headers  # `Connection ""`: keep-alive upstream
            assert request.headers["host"] == "127.0.0.1"
            assert request.headers["x-forwarded-for"] == "127.0.0.1"
            assert request.headers["x-forwarded-proto"] == "http"
            assert request.headers["x-forwarded-host"] == "127.0.0.1"
            assert REQUEST_ID.match(request.headers["x-request-id"])
        # `keepalive 32`: the connections nginx used stay open, idle, for the next request.
        # (uvicorn's proxy-header support hides the peer's port from the app, hence /proc.)
        assert established_to(replica.port) >= 1, "nginx keeps no connection to the replica"

    async with httpx2.AsyncClient(base_url=deployment.nginx.url, timeout=WAIT) as http:
        health = await http.get("/healthz")
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        ready = await http.get("/readyz")
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
        # Demo mode serves no discovery documents: the replica's own 404 proves the proxying.
        discovery = await http.get("/.well-known/oauth-protected-resource/mcp")
        assert discovery.status_code == 404
        assert any(r.seen("/.well-known/oauth-protected-resource/mcp") for r in deployment.replicas)
        # pantry-mcp echoes the X-Request-ID nginx made up for the request.
        assert REQUEST_ID.match(health.headers["x-request-id"])

        # client_max_body_size 1m: nginx refuses the body before any replica sees it.
        before = sum(len(r.seen()) for r in deployment.replicas)
        too_big = await http.post(
            "/mcp",
            content=b"x" * (1024 * 1024 + 1),
            headers={"Content-Type": "application/json"},
        )
        assert too_big.status_code == 413
        assert sum(len(r.seen()) for r in deployment.replicas) == before


@pytest.mark.anyio
async def test_sse_streams_through_unbuffered(deployment: Deployment) -> None:
    """Two checks, each deterministic.

    1. A real 2025-11-25 tools/call comes through nginx as one JSON body carrying the
       JSON-RPC result (pantry-mcp answers POSTs with JSON: its tools send no
       notifications). The only event streams pantry-mcp sends are a stateful session's
       GET, with ``X-Accel-Buffering: no``, which turns nginx's buffering off for that
       response whatever the location says; they cannot show the location's own settings.
    2. So the probe (``Replica._probe``), behind the same ``location /mcp`` without that
       header, sends one event and then stays open until this test has read that event
       through nginx. Had nginx buffered it (``proxy_buffering on``), nothing, not even the
       headers, would arrive before the end of the response, which waits for this test:
       the read gives up after WAIT / 2 seconds and fails instead of hanging. The main
       config here gzips event streams, so this also shows compression does not hold
       events back.
    """
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "search_recipes", "arguments": {"query": "soup"}},
    }
    headers = {
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
    }
    async with httpx2.AsyncClient(base_url=deployment.nginx.url, timeout=WAIT) as http:
        answered = await http.post("/mcp", json=call, headers=headers)
        assert answered.status_code == 200, answered.text
        assert answered.headers["content-type"] == "application/json"
        message = answered.json()
        assert message["id"] == 1
        assert message["result"]["structuredContent"]["results"], message

        async with AsyncExitStack() as stack:
            first: list[str] = []
            with anyio.move_on_after(WAIT / 2) as waited:  # the replica holds for WAIT
                probe = await stack.enter_async_context(http.stream("GET", PROBE_PATH))
                lines = probe.aiter_lines()
                async for line in lines:
                    first.append(line)
                    if line == "data: first":
                        break
            assert not waited.cancelled_caught, (
                f"nginx held the probe's first event back for {WAIT / 2:g}s (buffered): got {first}"
            )
            assert probe.headers["content-type"] == "text/event-stream"
            deployment.probe_release.set()
            rest = [line async for line in lines]
        assert "data: last" in rest


@pytest.mark.anyio
async def test_stopping_a_replica_mid_run_loses_no_call(deployment: Deployment) -> None:
    """A replica stops while a client is working through nginx; every call succeeds.

    The stop is made deterministic: one call is held inside a replica, that replica is
    stopped (its listener closes at once, the held call is still in flight), then the call
    is let go. uvicorn finishes it before the replica exits. The calls after it all reach
    the other replica: the first one nginx sends to the stopped replica meets a refused
    connection, which nginx retries on the survivor (`proxy_next_upstream error`); the
    request was never sent, so it is retried although it is a POST.

    What nginx cannot retry, and this test does not pretend to: a POST already written to
    a replica's socket when the replica closes that connection. That is why the shipped
    file says to mark a replica `down` and reload before stopping it.
    """
    async with Client(deployment.mcp_url, mode="legacy") as client:
        for _ in range(4):
            ok(await client.call_tool("search_recipes", {"query": "soup"}))
        assert all(replica.seen() for replica in deployment.replicas)

        held: list[Any] = []

        async def held_call() -> None:
            held.append(await client.call_tool("update_pantry", GROCERIES))

        deployment.hold.arm()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(held_call)
            assert await anyio.to_thread.run_sync(deployment.hold.claimed.wait, WAIT)
            stopping = deployment.hold.replica()
            tasks.start_soon(anyio.to_thread.run_sync, partial(deployment.stop, stopping))
            await _until_refused(stopping.port)  # its listener has closed
            deployment.hold.released.set()
        # The replica has exited (stop() joined its thread) and the held call got its answer.
        assert ok(held[0])["applied"] == 3
        survivor = next(r for r in deployment.replicas if r is not stopping)
        stopped_count, survivor_count = len(stopping.seen()), len(survivor.seen())

        for day in range(1, 7):
            plan = ok(
                await client.call_tool(
                    "plan_week_meals", {"start_date": f"2026-12-0{day}", "days": 1}
                )
            )
            ok(await client.call_tool("get_shopping_list", {"plan_id": plan["plan_id"]}))

    assert len(stopping.seen()) == stopped_count
    assert len(survivor.seen()) >= survivor_count + 12
    dead, alive = f"127.0.0.1:{stopping.port}", f"127.0.0.1:{survivor.port}"
    retried = [line for line in deployment.nginx.access_log() if f'"{dead}, {alive}"' in line]
    assert retried, "\n".join(deployment.nginx.access_log())
    assert all(line.startswith("POST /mcp 200 ") for line in retried), retried
    assert "Connection refused" in deployment.nginx.error_log()


async def _until_refused(port: int) -> None:
    """Poll, for at most WAIT seconds, until nothing accepts connections on ``port``."""
    with anyio.fail_after(WAIT):
        while True:
            try:
                stream = await anyio.connect_tcp("127.0.0.1", port)
            except OSError:
                return
            await stream.aclose()
            await anyio.sleep(0.02)
