"""Where pantry-mcp's time goes under load: the overhead benchmark's server with one piece
of its own work switched off at a time, each as a share of the bare SDK server's rate.

In-process (``inprocess.py``) every call runs with hot caches; under wrk, with the HTTP
server, the client and the kernel sharing two cores, the same work costs several times
more, and not evenly: the per-request log line cost 7 µs in-process and 45 µs under load.
So the pieces are measured where they cost: all servers up at once, wrk rounds
alternating between them, the median share per server.

    python -m bench.ablation [PIECE ...]   (default: all of them; about 20 s per round each)

A piece is switched off by replacing one of pantry-mcp's own functions in the server's
process (never the SDK's): what the share rises to is what the piece costs. This is a
measuring tool only; ``make bench`` does not run it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.issuer import running_issuer
from tests.support import free_port

from bench import overhead
from bench.processes import stop

PIECES = {
    "all": "nothing switched off (pantry-mcp as shipped)",
    "log-line": "the request's log line",
    "request-log": "the MCP request middleware (log fields, metrics, upstream call records)",
    "metrics": "Prometheus counters and histograms",
    "checks": "argument and result validation against the tool's schemas",
    "guards": "Host/Origin, header trimming, the JSON-RPC guard, Last-Event-ID",
}


def switch_off(piece: str) -> None:
    """In the server's process, before it serves: make ``piece`` do nothing."""
    from pantry_mcp import app, jsonrpc_guard, metrics, request_log, resumption, validation
    from pantry_mcp.auth import middleware

    async def passthrough(self: Any, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    async def call_through(self: Any, ctx: Any, call_next: Any) -> Any:
        return await call_next(ctx)

    if piece == "log-line":
        for module in (app, request_log):  # each calls the name it imported
            module.__dict__["info_line"] = lambda *args: None
    elif piece == "request-log":
        request_log.RequestLog.__call__ = call_through  # type: ignore[method-assign]
    elif piece == "metrics":
        metrics.Metrics.http_request = lambda *args: None  # type: ignore[method-assign]
        metrics.Metrics.mcp_request = lambda *args: None  # type: ignore[method-assign]
    elif piece == "checks":
        validation.SchemaCheck.problems = lambda *args: []  # type: ignore[method-assign]
    elif piece == "guards":
        for guard in (
            app.TrimHeaderValues,
            middleware.HostOriginGuard,
            jsonrpc_guard.JsonRpcGuard,
            resumption.IgnoreLastEventId,
        ):
            guard.__call__ = passthrough  # type: ignore[method-assign]


def serve(kind: str, piece: str, port: int) -> None:
    from bench import servers

    app = servers.bare() if kind == "bare" else servers.ours()
    if kind == "ours":
        switch_off(piece)
    servers.serve(app, port)


def run(pieces: list[str], rounds: int = 4, seconds: int = 4) -> dict[str, Any]:
    bare = next(t for t in overhead.TARGETS if t.key == "bare")
    ours = next(t for t in overhead.TARGETS if t.key == "ours")
    rates: dict[str, list[float]] = {"bare": [], **{piece: [] for piece in pieces}}
    with (
        running_issuer() as issuer,
        tempfile.TemporaryDirectory() as folder,
        contextlib.ExitStack() as stack,
    ):
        runs = []
        for name in rates:
            target = bare if name == "bare" else ours
            env, token = overhead.credentials(target, issuer)
            port = free_port()
            process = subprocess.Popen(
                [sys.executable, "-m", "bench.ablation", "--serve", target.server, name, str(port)],
                env={**os.environ, **env},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            stack.callback(stop, process)
            url = f"http://127.0.0.1:{port}/mcp"
            overhead.wait_for(url, process)
            body, headers = overhead.request_for(target, url, token)
            overhead.check_answer(url, body, headers)
            script = overhead.lua_script(Path(folder), name, body, headers)
            overhead.wrk(url, script, 2, 32)  # warm up
            runs.append((name, url, script))
        for _ in range(rounds):
            for name, url, script in runs:
                rates[name].append(overhead.wrk(url, script, seconds, 32)["requests_per_second"])
    base = statistics.median(rates["bare"])
    return {
        "bare_requests_per_second": base,
        "share": {piece: round(statistics.median(rates[piece]) / base, 3) for piece in pieces},
        "rounds": rounds,
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pieces", nargs="*", metavar="PIECE", help=", ".join(PIECES))
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument(
        "--serve", nargs=3, metavar=("KIND", "PIECE", "PORT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        kind, piece, port = args.serve
        serve(kind, piece, int(port))
        return
    pieces = args.pieces or list(PIECES)
    unknown = [piece for piece in pieces if piece not in PIECES]
    if unknown:
        parser.error(f"unknown piece(s) {', '.join(unknown)}; choose from {', '.join(PIECES)}")
    if "all" not in pieces:
        pieces.insert(0, "all")
    result = run(pieces, rounds=args.rounds)
    print("| pantry-mcp with this switched off | share of the bare SDK server |")
    print("|---|---:|")
    for piece in pieces:
        print(f"| {PIECES[piece]} | {result['share'][piece]} |")


if __name__ == "__main__":
    main()
