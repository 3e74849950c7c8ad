"""Pantry search latency at the seed catalog's size and at 100,000 recipes, on each engine.

Each catalog sits in its own database (a SQLite file, or a throwaway PostgreSQL database on
127.0.0.1:5432 that the bench creates and drops) served by the real service over loopback
HTTP; the same query mix runs against each, the two catalogs taking turns, and the ratio of
the two per engine shows how search grows with size.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx2
from tests.support import serve_in_thread

from bench.synthetic import synthetic_recipes
from pantry_api.app import create_app
from pantry_api.config import Settings
from pantry_api.logs import configure as configure_logging
from pantry_api.seed import insert_recipes, load_catalog, seed_if_empty
from pantry_api.store.db import Database

TOKEN = "bench-service-token-0123456789"  # noqa: S105 - a throwaway local token
ENGINES = ("sqlite", "postgresql")
POSTGRES_ADMIN_URL = os.environ.get(
    "PANTRY_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
CONNECT_TIMEOUT = 5  # seconds; an absent server is a skipped engine, not a hung bench
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


async def build_database(url: str, extra: int) -> None:
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
    if db.dialect == "sqlite":
        async with db.write() as conn:
            await conn.exec_driver_sql("ANALYZE")
    await db.close()
    if db.dialect == "postgresql":
        # A settled database, as autovacuum leaves one: statistics gathered and the GIN
        # index's pending list merged (VACUUM cannot run inside a transaction).
        conn = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT)
        try:
            await conn.execute("VACUUM ANALYZE")
        finally:
            await conn.close()


async def _postgres_admin(statement: str) -> None:
    conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=CONNECT_TIMEOUT)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def database_url(engine: str, folder: Path, catalog: str) -> Iterator[str]:
    """An empty database of ``engine``; a PostgreSQL one is dropped when the block ends."""
    if engine == "sqlite":
        yield f"sqlite:///{folder / f'{catalog}.db'}"
        return
    name = f"pantry_bench_{catalog}_{secrets.token_hex(4)}"
    asyncio.run(_postgres_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(_postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def postgres_unreachable() -> str | None:
    try:
        await _postgres_admin("SELECT 1")
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        return f"no PostgreSQL at {POSTGRES_ADMIN_URL}: {error}"
    return None


async def measure(base_urls: dict[str, str], rounds: int) -> dict[str, dict[str, list[float]]]:
    """Seconds per request, by catalog and query. The catalogs take turns, round by round,
    so a burst of load from elsewhere on the machine lands on both alike."""
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Pantry-User": "bench"}
    timings: dict[str, dict[str, list[float]]] = {
        name: {label(query): [] for query in QUERIES} for name in base_urls
    }
    async with AsyncExitStack() as stack:
        clients = {
            name: await stack.enter_async_context(
                httpx2.AsyncClient(base_url=url, headers=headers, timeout=30)
            )
            for name, url in base_urls.items()
        }
        for client in clients.values():
            for query in QUERIES:  # warm up caches and the connection
                (await client.get("/recipes", params=query)).raise_for_status()
        for number in range(rounds):
            turns = list(clients.items())
            for name, client in turns if number % 2 == 0 else reversed(turns):
                for query in QUERIES:
                    started = time.perf_counter()
                    response = await client.get("/recipes", params=query)
                    timings[name][label(query)].append(time.perf_counter() - started)
                    response.raise_for_status()
    return timings


def label(query: dict[str, Any]) -> str:
    return " ".join(f"{key}={value}" for key, value in query.items()) or "(no filters)"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def run_engine(engine: str, size: int, rounds: int) -> dict[str, Any]:
    results: dict[str, Any] = {"catalogs": {}}
    seed_size = len(load_catalog().recipes)
    extras = {"seed": 0, "large": max(0, size - seed_size)}
    with tempfile.TemporaryDirectory(prefix="pantry-bench-") as folder, ExitStack() as stack:
        base_urls, built = {}, {}
        for catalog, extra in extras.items():
            url = stack.enter_context(database_url(engine, Path(folder), catalog))
            started = time.perf_counter()
            asyncio.run(build_database(url, extra))
            built[catalog] = time.perf_counter() - started
            settings = Settings.from_env(
                {"PANTRY_API_DATABASE_URL": url, "PANTRY_API_RATE_LIMIT": "0"}
            )
            app = create_app(replace(settings, service_token=TOKEN, seed=False))
            base_urls[catalog] = stack.enter_context(serve_in_thread(app)).base_url
        measured = asyncio.run(measure(base_urls, rounds))
    for catalog, by_query in measured.items():
        timings = [seconds for values in by_query.values() for seconds in values]
        results["catalogs"][catalog] = {
            "recipes": seed_size + extras[catalog],
            "build_seconds": round(built[catalog], 1),
            "p50_ms": ms(statistics.median(timings)),
            "p99_ms": ms(percentile(timings, 0.99)),
            "mean_ms": ms(statistics.fmean(timings)),
            # Which queries make the tail: each one's median and slowest request.
            "by_query": {
                name: {"p50_ms": ms(statistics.median(values)), "max_ms": ms(max(values))}
                for name, values in by_query.items()
            },
        }
    small, large = results["catalogs"]["seed"], results["catalogs"]["large"]
    results["p50_ratio"] = round(large["p50_ms"] / small["p50_ms"], 2)
    results["p99_ratio"] = round(large["p99_ms"] / small["p99_ms"], 2)
    return results


def run(
    size: int = 100_000, rounds: int = 30, engines: tuple[str, ...] = ENGINES
) -> dict[str, Any]:
    configure_logging("warning")  # the in-thread service's start-up lines are not results
    results: dict[str, Any] = {
        "queries": len(QUERIES),
        "rounds": rounds,
        "query_mix": QUERIES,
        "engines": {},
    }
    for engine in engines:
        skipped = asyncio.run(postgres_unreachable()) if engine == "postgresql" else None
        if skipped is not None:
            results["engines"][engine] = {"skipped": skipped}
            continue
        results["engines"][engine] = run_engine(engine, size, rounds)
    return results


def table(results: dict[str, Any]) -> str:
    rows = [
        "| engine | catalog | recipes | p50 ms | p99 ms | mean ms |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for engine, measured in results["engines"].items():
        if "skipped" in measured:
            rows.append(f"| {engine} | skipped: {measured['skipped']} | | | | |")
            continue
        for catalog, row in measured["catalogs"].items():
            cells = [row["recipes"], row["p50_ms"], row["p99_ms"], row["mean_ms"]]
            rows.append(
                f"| {engine} | {catalog} | {cells[0]:,} | {cells[1]} | {cells[2]} | {cells[3]} |"
            )
        rows.append(
            f"| {engine} | ratio large/seed | | {measured['p50_ratio']}x "
            f"| **{measured['p99_ratio']}x** | |"
        )
    return "\n".join(rows)
