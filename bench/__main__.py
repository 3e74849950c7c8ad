"""``make bench``: every benchmark, each a ratio against a baseline measured in the same run.

Results print as Markdown tables and are written to bench/results/*.json for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

from bench import overhead, pantry_search, plan_latency

RESULTS = Path(__file__).parent / "results"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--size", type=int, default=100_000, help="recipes in the large catalog")
    parser.add_argument("--rounds", type=int, default=30, help="passes over the query mix")
    parser.add_argument(
        "--only", choices=["overhead", "search", "plan"], help="run one benchmark instead of all"
    )
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    if args.only in (None, "overhead"):
        print("## One tools/call on each stack (wrk, 32 connections, one uvicorn worker each)\n")
        cost = overhead.run()
        print(overhead.table(cost) + "\n")
        save("overhead", cost)
    if args.only in (None, "plan"):
        print("## plan_week_meals with 20 ms on every Pantry call\n")
        plan = plan_latency.run()
        print(plan_latency.table(plan) + "\n")
        save("plan_latency", plan)
    if args.only in (None, "search"):
        print("## Pantry search latency, seed catalog vs large catalog (SQLite, loopback HTTP)\n")
        search = pantry_search.run(size=args.size, rounds=args.rounds)
        print(pantry_search.table(search) + "\n")
        save("pantry_search", search)
    return 0


def save(name: str, results: dict[str, object]) -> None:
    results["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count()}
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
