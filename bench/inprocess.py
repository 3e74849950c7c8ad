"""One tools/call through a whole server's ASGI app, in-process: no sockets, no uvicorn.

The same servers as the overhead table (``bench/servers.py``: the bare SDK server, and
pantry-mcp as shipped with a real JWT and its Pantry stub), each driven directly through
its ASGI interface on uvloop. What is left is each app's own CPU per call, without the
HTTP server and the client that share the machine under wrk: a steadier ratio, and the
place to profile (``python -m bench.inprocess ours --profile``).

Reported per server: the minimum and median of ten batches' CPU per call.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvloop
from starlette.types import ASGIApp, Message
from tests.issuer import running_issuer

from bench import servers
from bench.overhead import CALL, HEADERS, LEGACY_CALL, LEGACY_HEADERS

AUDIENCE = "http://127.0.0.1/mcp"
BATCHES = 10


async def _lifespan(app: ASGIApp) -> None:
    """Start the app (its lifespan runs on in a task of its own, as under uvicorn)."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    asyncio.get_running_loop().create_task(app(scope, inbox.get, outbox.put))  # type: ignore[arg-type]
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"the app did not start: {started}")


def _caller(app: ASGIApp, token: str | None, legacy: bool) -> Callable[[], Awaitable[bytes]]:
    body = json.dumps(LEGACY_CALL if legacy else CALL).encode()
    fields = LEGACY_HEADERS if legacy else HEADERS
    headers = [(k.lower().encode(), v.encode()) for k, v in fields.items()]
    headers += [(b"host", b"127.0.0.1:8000"), (b"content-length", str(len(body)).encode())]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/mcp",
        "raw_path": b"/mcp",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }
    request = {"type": "http.request", "body": body, "more_body": False}

    async def call() -> bytes:
        sent = False
        out: list[bytes] = []

        async def receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return request
            await asyncio.Event().wait()  # the client stays connected
            raise AssertionError("unreachable")

        async def send(message: Message) -> None:
            if message["type"] == "http.response.body":
                out.append(message.get("body", b""))

        await app({**scope, "state": {}}, receive, send)
        return b"".join(out)

    return call


async def _measure(
    app: ASGIApp, token: str | None, calls: int, profile: bool, legacy: bool
) -> dict[str, Any]:
    await _lifespan(app)
    call = _caller(app, token, legacy)
    answer = json.loads(await call())
    if "result" not in answer or answer["result"].get("isError"):
        raise RuntimeError(f"the tool call failed: {answer}")
    for _ in range(calls // 10):  # warm up: caches, first-use imports
        await call()
    profiler = cProfile.Profile() if profile else None
    if profiler is not None:
        profiler.enable()
    batches = []
    for _ in range(BATCHES):
        started = time.process_time()
        for _ in range(calls // BATCHES):
            await call()
        batches.append((time.process_time() - started) / (calls // BATCHES) * 1e6)
    if profiler is not None:
        profiler.disable()
        if out := os.environ.get("PANTRY_BENCH_PROFILE_OUT"):  # for pstats' callers view
            profiler.dump_stats(out)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(50)
    return {"min_us": round(min(batches), 1), "median_us": round(statistics.median(batches), 1)}


def measure(
    kind: str, calls: int = 5000, *, profile: bool = False, legacy: bool = False
) -> dict[str, Any]:
    """CPU per call of ``bench.servers`` KIND (bare or ours), in this process; ``legacy``:
    a 2025-11-25 stateless call instead of a 2026-07-28 one."""
    with running_issuer() as issuer:
        token = None
        if kind == "ours":
            os.environ.update(
                {"PANTRY_MCP_AUTH_ISSUER": issuer.url, "PANTRY_MCP_RESOURCE_URL": AUDIENCE}
            )
            token = issuer.token("bench-user", audience=AUDIENCE, lifetime=3600)
        app = {"bare": servers.bare, "ours": servers.ours}[kind]()
        return uvloop.run(_measure(app, token, calls, profile, legacy))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=("bare", "ours"))
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the calls")
    parser.add_argument("--legacy", action="store_true", help="2025-11-25 instead of 2026-07-28")
    args = parser.parse_args()
    print(json.dumps(measure(args.kind, args.calls, profile=args.profile, legacy=args.legacy)))


if __name__ == "__main__":
    main()
