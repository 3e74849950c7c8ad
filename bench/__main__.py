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

from bench import pantry_search

RESULTS = Path(__file__).parent / "results"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--size", type=int, default=100_000, help="recipes in the large catalog")
    parser.add_argument("--rounds", type=int, default=30, help="passes over the query mix")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    print("## Pantry search latency, seed catalog vs large catalog (SQLite, loopback HTTP)\n")
    results = pantry_search.run(size=args.size, rounds=args.rounds)
    results["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count()}
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    print(pantry_search.table(results))
    (RESULTS / "pantry_search.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
