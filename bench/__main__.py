"""``make bench``: every benchmark, each a ratio against a baseline measured in the same run.

Results print as Markdown tables and are written to bench/results/*.json for comparison.
Everything runs on 127.0.0.1 and is bounded in time (about eleven minutes in all).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import hop, overhead, pantry_search, plan_latency, soak, tracing, transport, workers

RESULTS = Path(__file__).parent / "results"
NAMES = ("overhead", "hop", "transport", "plan", "search", "soak", "tracing", "workers")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--size", type=int, default=100_000, help="recipes in the large catalog")
    parser.add_argument("--rounds", type=int, default=30, help="passes over the query mix")
    parser.add_argument("--soak-seconds", type=float, default=60, help="length of the load")
    parser.add_argument("--soak-clients", type=int, default=24, help="concurrent MCP clients")
    parser.add_argument("--only", choices=NAMES, help="run one benchmark instead of all")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    benchmarks: dict[str, tuple[str, str, Callable[[], dict[str, Any]], Callable[..., str]]] = {
        "overhead": (
            "One tools/call on each stack (wrk, 32 connections, one uvicorn worker each)",
            "overhead",
            overhead.run,
            overhead.table,
        ),
        "hop": (
            "The real hop: search_recipes through pantry-mcp vs the same search sent to Pantry",
            "hop",
            hop.run,
            hop.table,
        ),
        "transport": (
            "Pantry's HTTP client: httpx2's stock transport vs ours (Http1Transport), same server",
            "transport",
            transport.run,
            transport.table,
        ),
        "plan": (
            "plan_week_meals with 20 ms on every Pantry call",
            "plan_latency",
            plan_latency.run,
            plan_latency.table,
        ),
        "search": (
            "Pantry search latency, seed vs large catalog (SQLite and PostgreSQL, loopback HTTP)",
            "pantry_search",
            lambda: pantry_search.run(size=args.size, rounds=args.rounds),
            pantry_search.table,
        ),
        "soak": (
            "Load and soak: MCP clients of both eras, a mix of every request, then idle sessions",
            "soak",
            lambda: soak.run(seconds=args.soak_seconds, clients=args.soak_clients),
            soak.table,
        ),
        "tracing": (
            "Tracing on (every request sampled, exported) vs off vs before tracing existed",
            "tracing",
            tracing.run,
            tracing.table,
        ),
        "workers": (
            "Many cores: authenticated 2026-07-28 tools/call with 1 worker and with 2",
            "workers",
            workers.run,
            workers.table,
        ),
    }
    for name in NAMES:
        if args.only not in (None, name):
            continue
        title, file, run, table = benchmarks[name]
        print(f"## {title}\n", flush=True)
        started = time.monotonic()
        results = run()
        results["wall_seconds"] = round(time.monotonic() - started, 1)
        print(table(results) + "\n", flush=True)
        save(file, results)
    return 0


def save(name: str, results: dict[str, Any]) -> None:
    results["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count()}
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
