"""Pantry search latency at the seed catalog's size and at 100,000 recipes.

Both catalogs sit in SQLite files served by the real service over loopback HTTP; the same
query mix runs against each, and the ratio of the two shows how search grows with size.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx2
from tests.support import serve_in_thread

from bench.synthetic import synthetic_recipes
from pantry_api.app import create_app
from pantry_api.config import Settings
from pantry_api.logs import configure as configure_logging
from pantry_api.seed import insert_recipes, load_catalog, seed_if_empty
from pantry_api.store.db import Database

TOKEN = "bench-service-token-0123456789"  # noqa: S105 - a throwaway local token
QUERIES: list[dict[str, Any]] = [
    {"q": "chicken"},
    {"q": "garlic lemon"},
    {"q": "tomato basil pasta"},
    {"q": "curry", "dietary": ["vegan"]},
    {"q": "rice", "max_minutes": 30},
    {"dietary": ["vegetarian", "gluten-free"]},
    {"cuisine": "italian", "max_minutes": 45},
    {"q": "chickpeas", "page": 3},
    {"q": "zzyzx nonsense"},
    {},
]


async def build_database(path: Path, extra: int) -> str:
    url = f"sqlite:///{path}"
    db = Database(url)
    catalog = load_catalog()
    await db.migrate()
    async with db.write() as conn:
        await seed_if_empty(conn, catalog)
    batch: list[dict[str, Any]] = []
    for recipe in synthetic_recipes(catalog, extra):
        batch.append(recipe)
        if len(batch) == 5000:
            async with db.write() as conn:
                await insert_recipes(conn, catalog, batch)
            batch = []
    if batch:
        async with db.write() as conn:
            await insert_recipes(conn, catalog, batch)
    async with db.write() as conn:
        await conn.exec_driver_sql("ANALYZE")
    await db.close()
    return url


async def measure(base_url: str, rounds: int) -> list[float]:
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Pantry-User": "bench"}
    timings: list[float] = []
    async with httpx2.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:
        for query in QUERIES:  # warm up caches and the connection
            (await client.get("/recipes", params=query)).raise_for_status()
        for _ in range(rounds):
            for query in QUERIES:
                started = time.perf_counter()
                response = await client.get("/recipes", params=query)
                timings.append(time.perf_counter() - started)
                response.raise_for_status()
    return timings


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run(size: int = 100_000, rounds: int = 30) -> dict[str, Any]:
    configure_logging("warning")  # the in-thread service's start-up lines are not results
    results: dict[str, Any] = {"queries": len(QUERIES), "rounds": rounds, "catalogs": {}}
    with tempfile.TemporaryDirectory(prefix="pantry-bench-") as folder:
        seed_size = len(load_catalog().recipes)
        for label, extra in (("seed", 0), ("large", size - seed_size)):
            started = time.perf_counter()
            url = asyncio.run(build_database(Path(folder) / f"{label}.db", max(0, extra)))
            built = time.perf_counter() - started
            settings = Settings.from_env(
                {"PANTRY_API_DATABASE_URL": url, "PANTRY_API_RATE_LIMIT": "0"}
            )
            app = create_app(replace(settings, service_token=TOKEN, seed=False))
            with serve_in_thread(app) as server:
                timings = asyncio.run(measure(server.base_url, rounds))
            results["catalogs"][label] = {
                "recipes": seed_size + max(0, extra),
                "build_seconds": round(built, 1),
                "p50_ms": round(statistics.median(timings) * 1000, 2),
                "p99_ms": round(percentile(timings, 0.99) * 1000, 2),
                "mean_ms": round(statistics.fmean(timings) * 1000, 2),
            }
    small, large = results["catalogs"]["seed"], results["catalogs"]["large"]
    results["p50_ratio"] = round(large["p50_ms"] / small["p50_ms"], 2)
    results["p99_ratio"] = round(large["p99_ms"] / small["p99_ms"], 2)
    return results


def table(results: dict[str, Any]) -> str:
    rows = ["| catalog | recipes | p50 ms | p99 ms | mean ms |", "|---|---:|---:|---:|---:|"]
    for label, row in results["catalogs"].items():
        cells = [label, f"{row['recipes']:,}", row["p50_ms"], row["p99_ms"], row["mean_ms"]]
        rows.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    rows.append(f"| ratio large/seed | | {results['p50_ratio']}x | {results['p99_ratio']}x | |")
    return "\n".join(rows)
