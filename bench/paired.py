"""One change's cost or saving, in-process, against the code before it: paired batches.

On this 2-core machine two runs of the same code differ by up to 10% in CPU per call, and
wrk rounds by more (the machine's own speed drifts), so a change worth 2-3% cannot be told
from noise by runs one after the other. Here two processes, each with pantry-mcp's
overhead-table server built in it (``bench/servers.py``, driven through ASGI as in
``inprocess.py``), take turns: a batch of calls in one, then a batch in the other, the
first of each pair alternating. Both see the same drift within a pair, so the ratio of a
pair's two batches is steady; reported is the median ratio over the pairs and a 95%
bootstrap interval.

    python -m bench.paired REV [--pairs 60] [--calls 200]

``REV`` is any git revision: its ``src/`` is checked out into a temporary worktree and put
first on ``PYTHONPATH``; the harness (``bench/``, ``tests/issuer.py``) and the virtual
environment are this checkout's, so ``REV`` must run on the packages installed now. A
ratio below 1 means the working tree spends less CPU per call than ``REV``. Not part of
``make bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent


def worker(calls: int) -> None:
    """In the server's process: build the app, then on each line read, run ``calls``
    calls and write their CPU per call in µs."""
    import uvloop
    from tests.issuer import running_issuer

    from bench import servers
    from bench.inprocess import AUDIENCE, _caller, _lifespan

    async def serve_batches() -> None:
        app = servers.ours()
        await _lifespan(app)
        call = _caller(app, token, legacy=False)
        answer = json.loads(await call())
        if "result" not in answer or answer["result"].get("isError"):
            raise RuntimeError(f"the tool call failed: {answer}")
        for _ in range(calls * 2):  # warm up: caches, first-use imports
            await call()
        print("ready", flush=True)
        for _ in sys.stdin:
            started = time.process_time()
            for _ in range(calls):
                await call()
            print((time.process_time() - started) / calls * 1e6, flush=True)

    with running_issuer() as issuer:
        os.environ.update(
            {"PANTRY_MCP_AUTH_ISSUER": issuer.url, "PANTRY_MCP_RESOURCE_URL": AUDIENCE}
        )
        token = issuer.token("bench-user", audience=AUDIENCE, lifetime=3600)
        uvloop.run(serve_batches())


def _start(tree: Path, calls: int) -> subprocess.Popen[str]:
    """A worker serving ``tree``'s pantry_mcp (ahead of the installed one) with our harness."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.paired", "--worker", "--calls", str(calls)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    if _line(process.stdout) != "ready":
        raise RuntimeError(f"the server in {tree} did not start")
    return process


def _line(stream: IO[str] | None) -> str:
    if stream is None:
        raise RuntimeError("no pipe")
    return stream.readline().strip()


def _batch(process: subprocess.Popen[str]) -> float:
    assert process.stdin is not None
    process.stdin.write("go\n")
    process.stdin.flush()
    return float(_line(process.stdout))


def compare(rev: str, pairs: int, calls: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        before = Path(folder) / "before"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "-q", str(before), rev], cwd=ROOT, check=True
        )
        processes: list[subprocess.Popen[str]] = []
        try:
            processes = [_start(before, calls), _start(ROOT, calls)]
            old, new, ratios = [], [], []
            for pair in range(pairs):
                order = processes if pair % 2 == 0 else processes[::-1]
                times = {id(p): _batch(p) for p in order}
                old.append(times[id(processes[0])])
                new.append(times[id(processes[1])])
                ratios.append(new[-1] / old[-1])
        finally:
            for process in processes:
                process.kill()
                process.wait(timeout=10)
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(before)], cwd=ROOT, check=True
            )
    medians = sorted(statistics.median(random.choices(ratios, k=len(ratios))) for _ in range(2000))
    return {
        "rev": rev,
        "pairs": pairs,
        "calls_per_batch": calls,
        "before_us": round(statistics.median(old), 1),
        "after_us": round(statistics.median(new), 1),
        "ratio": round(statistics.median(ratios), 4),
        "ratio_95": [round(medians[49], 4), round(medians[1949], 4)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev", nargs="?", default="HEAD", help="the code to compare against")
    parser.add_argument("--pairs", type=int, default=60)
    parser.add_argument("--calls", type=int, default=200, help="calls per batch")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.calls)
        return
    result = compare(args.rev, args.pairs, args.calls)
    low, high = result["ratio_95"]
    print(
        f"CPU per call, {result['rev']} -> working tree: {result['before_us']} -> "
        f"{result['after_us']} µs; paired ratio {result['ratio']} (95%: {low}-{high}), "
        f"{result['pairs']} pairs of {result['calls_per_batch']} calls"
    )


if __name__ == "__main__":
    main()
