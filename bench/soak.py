"""Load and soak: many concurrent MCP clients of both protocol eras, then idle sessions.

pantry-mcp runs as operators run it (``pantry-mcp serve``, its own process, stateful so
2025-11-25 clients get sessions, a short session idle timeout, OAuth against a real local
issuer) in front of the real Pantry on SQLite, everything on 127.0.0.1. Half the clients
speak 2025-11-25 (initialize, a session per connection), half 2026-07-28 (no session);
each acts as its own user with its own token, and loops over the mix of user requests
(search, a recipe, the pantry, dinner ideas, a week's plan, a swap, the shopping list,
substitutes, a prompt, two deliberately invalid calls) until time runs out, on a fresh
connection for each pass (one conversation, one session), so sessions are opened and
closed all along. The clients' response cache is off: every call reaches the server.

Measured, and why:

* calls and failures per era: a failure is an exception or an ``isError`` result that was
  not asked for (the invalid calls are counted apart, as expected errors); must be zero;
* p50 and p99 latency per era and per operation, as the client sees it (the client event
  loop's own lag is reported too, so a saturated client is not mistaken for a slow server);
* the server's resident memory (VmRSS), sampled twice a second against the number of calls
  made: after a warm-up (a third of the run, 10-60 s, stated in the table), growth per
  1000 calls is the slope fitted to every sample, by least squares and by Theil-Sen (the
  median of the slopes between all pairs of samples), and the least-squares slope of each
  half on its own. A leak per request grows RSS steadily, so every one of these agrees and
  the second half's slope is as steep as the first's. Settling shows as a few steps instead
  (an allocator arena, a buffer or table reaching this load's high-water mark): they carry
  the least-squares slope but hardly move Theil-Sen's, and they end (a flat second half);
  the steps are counted and the largest reported. Sessions grow with calls here (one per
  2025-11-25 connection), so per 1000 sessions is the same slope scaled;
* idle sessions: batches of 2025-11-25 sessions that initialize and then go quiet, without
  a DELETE, as clients that vanish do. Their cost per session, that every one of them
  answers 404 once the idle timeout has passed (how the SDK answers an unknown session),
  and RSS after they expired. CPython rarely hands freed memory back to the OS, so more
  batches follow: if they cost no new RSS, the first batch's memory was freed and reused
  (the first batch after the load also reuses memory the load freed: a lower bound; on a
  fresh server an idle session costs about 40 KB, see bench/overhead.py). A
  leak raises every batch's peak by about the same amount; the allocator taking one more
  arena is a single step that later batches do not repeat.
* CPU used by the client process, pantry-mcp and Pantry during the load, to tell which one
  is the bottleneck on the machine.

RSS moves in steps (arenas, pages), and the 5 s warm-up this benchmark used to have left
most of them inside the measurement: a single 1 MB step in a 30 s half read as 400 KB per
1000 calls. Read the fitted slopes with the step count and the absolute growth next to them.
Every phase has a deadline; with the defaults the whole run takes about two minutes.
"""

from __future__ import annotations

import asyncio
import glob
import itertools
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import uvloop
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, GetPromptResult, ReadResourceResult
from tests.issuer import Issuer, running_issuer
from tests.support import LISTED_TOOL_NAMES, free_port

from bench.plan_latency import TOKEN, pantry_process
from bench.processes import stop

T = TypeVar("T")
LEGACY, MODERN = "2025-11-25", "2026-07-28"
ERAS = (LEGACY, MODERN)
MODES = {LEGACY: "legacy", MODERN: MODERN}
IDLE_TIMEOUT = 5.0  # PANTRY_MCP_SESSION_IDLE_TIMEOUT: short, so expiry fits in the run
SAMPLE_EVERY = 0.5  # seconds between RSS samples
STEP_KB = 64  # a rise of RSS between two samples at least this big counts as a step
CALL_TIMEOUT = 30.0  # one call; a hung call is a failure, not a hung benchmark
ROUNDS_PER_CONNECTION = 1  # a conversation per connection: sessions churn all along
FAILURE_TEXTS = 5
QUERIES = ("curry", "chicken", "soup", "pasta", "tofu", "salad", "rice", "lentil", "noodle")
GROCERIES = (
    ("eggs", 6, "piece"),
    ("milk", 1, "l"),
    ("chickpeas", 2, "can"),
    ("butter", 250, "g"),
    ("onion", 3, "piece"),
    ("garlic", 1, "piece"),
    ("spinach", 200, "g"),
    ("lemon", 2, "piece"),
)
SUBSTITUTABLE = ("butter", "buttermilk", "eggs", "milk", "cream")
STATUS_HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
}


def rss_kb(pid: int) -> int:
    """Resident set size now (VmRSS), in KB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """Busy and total CPU seconds of the whole machine since boot (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    ticks = os.sysconf("SC_CLK_TCK")
    return (sum(fields) - idle) / ticks, sum(fields) / ticks


def child_pid(name: str) -> int | None:
    """Our child process whose command line mentions ``name`` (Pantry: pantry_process
    does not hand out its pid)."""
    for path in glob.glob(f"/proc/{os.getpid()}/task/*/children"):
        for pid in Path(path).read_text().split():
            try:
                if name in Path(f"/proc/{pid}/cmdline").read_text():
                    return int(pid)
            except OSError:
                continue
    return None


def quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile, in ms."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))] * 1000


@contextmanager
def mcp_process(folder: Path, pantry_url: str, issuer_url: str) -> Iterator[tuple[str, int]]:
    """``pantry-mcp serve`` as its own process; yields the /mcp URL and its pid."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    # Only our settings: a PANTRY_MCP_* or AUTHKIT_DOMAIN of the caller must not leak in.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PANTRY_MCP_") and k != "AUTHKIT_DOMAIN"
    }
    env.update(
        {
            "PANTRY_MCP_PANTRY_URL": pantry_url,
            "PANTRY_MCP_PANTRY_TOKEN": TOKEN,
            "PANTRY_MCP_STATEFUL": "1",
            "PANTRY_MCP_SESSION_IDLE_TIMEOUT": str(IDLE_TIMEOUT),
            "PANTRY_MCP_RATE_LIMIT": "0",
            "PANTRY_MCP_LOG_FORMAT": "json",
            "PANTRY_MCP_AUTH_ISSUER": issuer_url,
            "PANTRY_MCP_RESOURCE_URL": url,
        }
    )
    command = [str(Path(sys.executable).parent / "pantry-mcp"), "serve", "--port", str(port)]
    errors_path = folder / "pantry-mcp.stderr"
    with errors_path.open("wb") as errors:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=errors)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                # /readyz: Pantry reachable and the issuer's keys loaded
                ready = httpx2.get(url.replace("/mcp", "/readyz"), timeout=2)
                if ready.status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            time.sleep(0.1)  # polling a condition, bounded by the deadline
        else:
            raise RuntimeError(f"pantry-mcp did not come up: {errors_path.read_text()[-2000:]}")
        yield url, process.pid
    finally:
        stop(process)


@dataclass
class EraStats:
    clients: int = 0
    connections: int = 0
    calls: int = 0
    expected_errors: int = 0
    failures: int = 0
    failure_texts: list[str] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=dict)  # seconds, measured only


@dataclass
class Load:
    stop_at: float
    measuring: bool = False
    eras: dict[str, EraStats] = field(default_factory=lambda: {era: EraStats() for era in ERAS})
    lags: list[float] = field(default_factory=list)
    samples: list[tuple[int, int]] = field(default_factory=list)  # (calls, RSS KB), measured
    warmup_samples: list[tuple[int, int]] = field(default_factory=list)  # the same, warm-up
    session_samples: list[tuple[int, int]] = field(default_factory=list)  # (sessions, RSS KB)

    def over(self) -> bool:
        return time.monotonic() >= self.stop_at

    def calls(self) -> int:
        return sum(s.calls for s in self.eras.values())

    def sessions(self) -> int:
        """Stateful sessions opened so far: only 2025-11-25 connections have one."""
        return self.eras[LEGACY].connections


def tool_problem(
    result: CallToolResult, expect: Callable[[dict[str, Any]], str | None]
) -> str | None:
    if result.is_error:
        text = getattr(result.content[0], "text", "") if result.content else ""
        return f"isError: {text[:300]}"
    if not isinstance(result.structured_content, dict):
        return "no structured content"
    return expect(result.structured_content)


def markdown(result: ReadResourceResult) -> str | None:
    text = getattr(result.contents[0], "text", None) if result.contents else None
    return (
        None if isinstance(text, str) and text.startswith("#") else f"not markdown: {text!r:.200}"
    )


class User:
    """One client: its own user and token, one era, looping over the request mix."""

    def __init__(self, load: Load, era: str, index: int, url: str, token: str) -> None:
        self.load, self.era, self.url, self.token = load, era, url, token
        self.stats = load.eras[era]
        self.rng = random.Random(index)  # reproducible mix per client
        self.broken = False  # a call failed: open a fresh connection before going on

    def fail(self, op: str, problem: str) -> None:
        self.stats.failures += 1
        self.broken = True
        if len(self.stats.failure_texts) < FAILURE_TEXTS:
            self.stats.failure_texts.append(f"{op}: {problem}"[:500])

    def record(self, op: str, seconds: float) -> None:
        self.stats.calls += 1
        if self.load.measuring:
            self.stats.latencies.setdefault(op, []).append(seconds)

    async def call(
        self,
        op: str,
        make: Callable[[], Awaitable[T]],
        check: Callable[[T], str | None],
        *,
        expected_error: bool = False,
    ) -> T | None:
        """Time one call; None when it failed (counted, first texts kept)."""
        started = time.perf_counter()
        try:
            result = await make()
        except Exception as error:  # any exception is a failed call
            self.record(op, time.perf_counter() - started)
            self.fail(op, f"{type(error).__name__}: {error}")
            return None
        self.record(op, time.perf_counter() - started)
        try:
            problem = check(result)
        except (KeyError, IndexError, TypeError) as error:  # an answer of the wrong shape
            problem = f"unexpected answer: {type(error).__name__}: {error}"
        if problem is not None:
            self.fail(op, problem)
            return None
        if expected_error:
            self.stats.expected_errors += 1
        return result

    async def tool(
        self,
        client: Client,
        name: str,
        arguments: dict[str, Any],
        expect: Callable[[dict[str, Any]], str | None] = lambda _: None,
    ) -> dict[str, Any] | None:
        result = await self.call(
            name,
            lambda: client.call_tool(name, arguments),
            lambda r: tool_problem(r, expect),
        )
        return result.structured_content if result is not None else None

    @asynccontextmanager
    async def connected(self, http: httpx2.AsyncClient) -> AsyncIterator[Client]:
        transport = streamable_http_client(self.url, http_client=http)
        # cache=None: every listing is a round trip, as the server would see a fresh client
        client = Client(
            transport, mode=MODES[self.era], cache=None, read_timeout_seconds=CALL_TIMEOUT
        )
        started = time.perf_counter()
        async with client:  # 2025-11-25: initialize; leaving sends DELETE
            if self.era == LEGACY:  # 2026-07-28 connects without a request
                self.record("initialize", time.perf_counter() - started)
            self.stats.connections += 1
            yield client

    async def run(self, delay: float) -> None:
        await asyncio.sleep(delay)  # spread the first connections out
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx2.AsyncClient(headers=headers, timeout=CALL_TIMEOUT) as http:
            while not self.load.over():
                self.broken = False
                try:
                    async with self.connected(http) as client:
                        for _ in range(ROUNDS_PER_CONNECTION):
                            if self.load.over() or self.broken:
                                break
                            await self.round(client)
                except Exception as error:  # connecting or closing failed
                    self.fail("connect/close", f"{type(error).__name__}: {error}")
                    await asyncio.sleep(0.2)  # do not spin on a server that refuses

    async def round(self, client: Client) -> None:
        """One pass over the mix, in the order a user's conversation would make them."""
        rng = self.rng
        await self.call(
            "tools/list",
            client.list_tools,
            # the model's tools, then the two only MCP Apps views call
            lambda r: None if [t.name for t in r.tools] == list(LISTED_TOOL_NAMES) else "tool list",
        )
        found = await self.tool(
            client,
            "search_recipes",
            {"query": rng.choice(QUERIES)},
            lambda s: None if s["results"] else "no hits",
        )
        recipe_id = found["results"][0]["id"] if found else "chana-masala"
        await self.call(
            "read recipe://", lambda: client.read_resource(f"recipe://{recipe_id}"), markdown
        )
        bought = rng.sample(GROCERIES, 2)
        adds = [{"action": "add", "ingredient": n, "quantity": q, "unit": u} for n, q, u in bought]
        await self.tool(client, "update_pantry", {"changes": adds}, all_applied(len(adds)))
        await self.tool(
            client,
            "whats_for_dinner",
            {"count": 3},
            lambda s: None if s["suggestions"] else "no suggestions",
        )
        start = (date(2026, 11, 30) + timedelta(days=rng.randrange(365))).isoformat()
        days = rng.randint(2, 7)
        plan = await self.tool(
            client,
            "plan_week_meals",
            {"start_date": start, "days": days},
            lambda s: None if len(s["days"]) == days else f"{len(s['days'])} days",
        )
        if plan is not None:
            plan_id = plan["plan_id"]
            await self.tool(
                client,
                "add_recipe_to_plan",
                {
                    "plan_id": plan_id,
                    "recipe_id": recipe_id,
                    "date": rng.choice(plan["days"])["date"],
                },
            )
            await self.tool(client, "get_shopping_list", {"plan_id": plan_id})
            await self.call(
                "read meal-plan://",
                lambda: client.read_resource(f"meal-plan://{plan_id}"),
                markdown,
            )
        await self.call(
            "read pantry://", lambda: client.read_resource("pantry://current"), markdown
        )
        await self.tool(client, "suggest_substitutes", {"ingredient": rng.choice(SUBSTITUTABLE)})
        await self.call(
            "prompts/get",
            lambda: client.get_prompt("weekly_meal_planning", {"start_date": start}),
            prompt_problem,
        )
        removes = [{"action": "remove", "ingredient": n} for n, _, _ in bought]
        await self.tool(client, "update_pantry", {"changes": removes}, all_applied(len(removes)))
        # Deliberately invalid: an agent's mistake must come back as a useful error.
        await self.call(
            "invalid search (expected error)",
            lambda: client.call_tool("search_recipes", {"query": "soup", "max_minutes": 0}),
            lambda r: None if r.is_error else "an invalid call was accepted",
            expected_error=True,
        )
        await self.call(
            "unknown recipe:// (expected error)",
            lambda: refused(client.read_resource("recipe://no-such-dish")),
            lambda m: None if "search_recipes" in m else f"expected not-found, got {m!r:.200}",
            expected_error=True,
        )


def all_applied(count: int) -> Callable[[dict[str, Any]], str | None]:
    def check(s: dict[str, Any]) -> str | None:
        return None if s["applied"] == count and s["failed"] == 0 else s["summary"][:300]

    return check


def prompt_problem(result: GetPromptResult) -> str | None:
    return None if result.messages else "no messages"


async def refused(read: Awaitable[ReadResourceResult]) -> str:
    """The error message of a read that must fail; "" if it succeeded."""
    try:
        await read
    except MCPError as error:
        return error.error.message
    return ""


async def rss_sampler(load: Load, pid: int) -> None:
    """RSS against calls (and sessions) every SAMPLE_EVERY seconds, warm-up included:
    a slope fitted to many samples is steadier than two points."""
    while not load.over():
        calls, sessions, kb = load.calls(), load.sessions(), rss_kb(pid)
        if load.measuring:
            load.samples.append((calls, kb))
            load.session_samples.append((sessions, kb))
        else:
            load.warmup_samples.append((calls, kb))
        await asyncio.sleep(SAMPLE_EVERY)


def slope_per_1000(samples: list[tuple[int, int]]) -> float:
    """Least-squares KB of RSS per 1000 calls (or whatever x counts)."""
    if len(samples) < 3:
        return float("nan")
    n = len(samples)
    mean_x = sum(x for x, _ in samples) / n
    mean_y = sum(y for _, y in samples) / n
    spread = sum((x - mean_x) ** 2 for x, _ in samples)
    if spread == 0:
        return float("nan")
    return round(sum((x - mean_x) * (y - mean_y) for x, y in samples) / spread * 1000, 1)


def theil_sen_per_1000(samples: list[tuple[int, int]], most: int = 600) -> float:
    """The median of the slopes between every pair of samples, KB per 1000: a few steps
    (an arena, a table doubling) barely move it, steady growth does. Long runs are thinned
    to ``most`` evenly spaced samples (the pairs grow with the square)."""
    if len(samples) > most:
        samples = [samples[i * (len(samples) - 1) // (most - 1)] for i in range(most)]
    slopes = sorted(
        (y2 - y1) / (x2 - x1)
        for i, (x1, y1) in enumerate(samples)
        for x2, y2 in samples[i + 1 :]
        if x2 != x1
    )
    if not slopes:
        return float("nan")
    middle = len(slopes) // 2
    median = slopes[middle] if len(slopes) % 2 else (slopes[middle - 1] + slopes[middle]) / 2
    return round(median * 1000, 1)


def steps(samples: list[tuple[int, int]]) -> tuple[int, int]:
    """How many times RSS rose by at least STEP_KB between two samples, and the largest rise."""
    rises = [b - a for (_, a), (_, b) in itertools.pairwise(samples)]
    big = [rise for rise in rises if rise >= STEP_KB]
    return len(big), max(rises, default=0)


def memory_growth(load: Load, start: Snapshot, mid: Snapshot, end: Snapshot) -> dict[str, Any]:
    """RSS growth after the warm-up: fitted slopes, halves, steps (see the module doc)."""
    samples = load.samples
    first = [(c, kb) for c, kb in samples if c <= mid.calls]
    second = [(c, kb) for c, kb in samples if c >= mid.calls]
    count, largest = steps(samples)
    warm = load.warmup_samples

    def per_1000(a: Snapshot, b: Snapshot, what: str) -> float:
        made: int = getattr(b, what) - getattr(a, what)
        return round((b.rss_kb - a.rss_kb) / max(made, 1) * 1000, 1)

    return {
        "rss_start_mb": round(start.rss_kb / 1024, 1),
        "rss_mid_mb": round(mid.rss_kb / 1024, 1),
        "rss_end_mb": round(end.rss_kb / 1024, 1),
        "warmup_calls": start.calls,
        "warmup_rss_growth_kb": (warm[-1][1] - warm[0][1]) if warm else 0,
        "samples": len(samples),
        "sample_every_s": SAMPLE_EVERY,
        "rss_growth_kb": end.rss_kb - start.rss_kb,
        "measured_calls": end.calls - start.calls,
        "measured_sessions": end.sessions - start.sessions,
        # the headline: fitted to every sample after the warm-up
        "kb_per_1000_calls_fit": slope_per_1000(samples),
        "kb_per_1000_calls_theil_sen": theil_sen_per_1000(samples),
        "kb_per_1000_calls_fit_first_half": slope_per_1000(first),
        "kb_per_1000_calls_fit_second_half": slope_per_1000(second),
        "kb_per_1000_sessions_fit": slope_per_1000(load.session_samples),
        "rss_steps": count,
        "rss_largest_step_kb": largest,
        # two points each (as this benchmark used to report): noisy, kept for comparison
        "kb_per_1000_calls": per_1000(start, end, "calls"),
        "kb_per_1000_calls_first_half": per_1000(start, mid, "calls"),
        "kb_per_1000_calls_second_half": per_1000(mid, end, "calls"),
        "halves": [
            {
                "calls": b.calls - a.calls,
                "sessions": b.sessions - a.sessions,
                "rss_growth_kb": b.rss_kb - a.rss_kb,
            }
            for a, b in ((start, mid), (mid, end))
        ],
        "rss_samples": [[calls, kb] for calls, kb in samples],  # (calls, RSS KB)
    }


async def lag_ticker(load: Load) -> None:
    """How late the client loop wakes up: a busy loop inflates every latency it measures."""
    while not load.over():
        started = time.perf_counter()
        await asyncio.sleep(0.05)
        if load.measuring:
            load.lags.append(time.perf_counter() - started - 0.05)


@dataclass
class Snapshot:
    at: float
    rss_kb: int
    calls: int
    sessions: int
    cpu_client: float
    cpu_mcp: float
    cpu_pantry: float
    busy: float
    total: float

    @classmethod
    def take(cls, load: Load, mcp_pid: int, pantry_pid: int | None) -> Snapshot:
        busy, total = machine_busy()
        return cls(
            time.monotonic(),
            rss_kb(mcp_pid),
            load.calls(),
            load.sessions(),
            time.process_time(),
            cpu_seconds(mcp_pid),
            cpu_seconds(pantry_pid) if pantry_pid else float("nan"),
            busy,
            total,
        )


async def drive(
    url: str, issuer: Issuer, mcp_pid: int, clients: int, seconds: float, warmup: float
) -> dict[str, Any]:
    load = Load(stop_at=time.monotonic() + warmup + seconds)
    pantry_pid = child_pid("pantry-api")
    users = []
    for index in range(clients):
        era = LEGACY if index % 2 == 0 else MODERN
        # Tokens outlive the run: an expiry mid-run would be a failure we caused.
        token = issuer.token(f"soak-user-{index}", audience=url, lifetime=int(seconds) + 900)
        users.append(User(load, era, index, url, token))
        load.eras[era].clients += 1
    tasks = [asyncio.create_task(u.run(i * 0.05)) for i, u in enumerate(users)]
    watchers = [
        asyncio.create_task(lag_ticker(load)),
        asyncio.create_task(rss_sampler(load, mcp_pid)),
    ]
    await asyncio.sleep(warmup)  # connections, caches and allocator arenas settle first
    load.measuring = True
    start = Snapshot.take(load, mcp_pid, pantry_pid)
    await asyncio.sleep(seconds / 2)
    mid = Snapshot.take(load, mcp_pid, pantry_pid)
    await asyncio.sleep(max(0.0, load.stop_at - time.monotonic()))
    end = Snapshot.take(load, mcp_pid, pantry_pid)  # before the last sessions close
    load.measuring = False
    _, stuck = await asyncio.wait(tasks, timeout=CALL_TIMEOUT + 15)
    for task, user in zip(tasks, users, strict=True):
        if task in stuck:
            task.cancel()
            user.fail("stop", "the client did not stop within its deadline")
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise RuntimeError("a client crashed") from task.exception()
    await asyncio.gather(*watchers)
    wall = end.at - start.at
    eras: dict[str, Any] = {}
    for era, stats in load.eras.items():
        every = [x for values in stats.latencies.values() for x in values]
        eras[era] = {
            "clients": stats.clients,
            "connections": stats.connections,
            "calls": stats.calls,
            "measured_calls": len(every),
            "calls_per_second": round(len(every) / wall, 1),
            "expected_errors": stats.expected_errors,
            "failures": stats.failures,
            "failure_texts": stats.failure_texts,
            "p50_ms": round(quantile(every, 0.50), 2),
            "p99_ms": round(quantile(every, 0.99), 2),
            "operations": {
                op: {
                    "calls": len(values),
                    "p50_ms": round(quantile(values, 0.50), 2),
                    "p99_ms": round(quantile(values, 0.99), 2),
                }
                for op, values in sorted(stats.latencies.items())
            },
        }

    return {
        "eras": eras,
        "memory": {"warmup_s": round(warmup, 1), **memory_growth(load, start, mid, end)},
        "cpu_cores": {
            "client process": round((end.cpu_client - start.cpu_client) / wall, 2),
            "pantry-mcp": round((end.cpu_mcp - start.cpu_mcp) / wall, 2),
            "Pantry": round((end.cpu_pantry - start.cpu_pantry) / wall, 2),
            "whole machine": round(
                (end.busy - start.busy) / (end.total - start.total) * (os.cpu_count() or 1), 2
            ),
        },
        "client_loop_lag_ms": {
            "p50": round(quantile(load.lags, 0.50), 1),
            "p99": round(quantile(load.lags, 0.99), 1),
        },
    }


def initialize(number: int) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": number,
        "method": "initialize",
        "params": {
            "protocolVersion": LEGACY,
            "capabilities": {},
            "clientInfo": {"name": "soak-idle", "version": "1"},
        },
    }


async def open_idle_sessions(http: httpx2.AsyncClient, url: str, count: int) -> list[str]:
    """``count`` sessions that complete the handshake and then say nothing, ever."""
    gate = asyncio.Semaphore(16)

    async def one(number: int) -> str:
        async with gate:
            opened = await http.post(url, json=initialize(number), headers=STATUS_HEADERS)
            opened.raise_for_status()
            session = opened.headers["mcp-session-id"]
            done = await http.post(
                url,
                json={"jsonrpc": "2.0", "method": "notifications/initialized"},
                headers={
                    **STATUS_HEADERS,
                    "Mcp-Session-Id": session,
                    "MCP-Protocol-Version": LEGACY,
                },
            )
            if done.status_code != 202:
                raise RuntimeError(f"initialized notification answered {done.status_code}")
            return session

    return list(await asyncio.wait_for(asyncio.gather(*map(one, range(count))), 60))


async def statuses(http: httpx2.AsyncClient, url: str, sessions: list[str]) -> list[int]:
    """HTTP status of a ping on each session (404: the server no longer knows it)."""
    gate = asyncio.Semaphore(16)

    async def one(session: str) -> int:
        async with gate:
            answer = await http.post(
                url,
                json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                headers={
                    **STATUS_HEADERS,
                    "Mcp-Session-Id": session,
                    "MCP-Protocol-Version": LEGACY,
                },
            )
            return answer.status_code

    return list(await asyncio.wait_for(asyncio.gather(*map(one, sessions)), 60))


async def idle_batch(url: str, token: str, pid: int, count: int) -> dict[str, Any]:
    """Open ``count`` idle sessions, wait out the idle timeout, check they are gone."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=CALL_TIMEOUT) as http:
        before = rss_kb(pid)
        sessions = await open_idle_sessions(http, url, count)
        opened_at = time.monotonic()
        await asyncio.sleep(0.5)  # let the session tasks settle before reading RSS
        with_idle = rss_kb(pid)
        # A ping to a live session would restart its idle clock, so probe only once the
        # last one opened is past the timeout; retry the few still alive, bounded.
        alive = sessions
        waited_until = opened_at + IDLE_TIMEOUT + 1.0
        for _ in range(3):
            await asyncio.sleep(max(0.0, waited_until - time.monotonic()))
            answers = await statuses(http, url, alive)
            alive = [s for s, status in zip(alive, answers, strict=True) if status != 404]
            if not alive:
                break
            waited_until = time.monotonic() + IDLE_TIMEOUT + 1.0
        expired_after = time.monotonic() - opened_at
        await asyncio.sleep(1.0)  # the expired sessions' tasks wind down
        after = rss_kb(pid)
    return {
        "sessions": count,
        "expired": count - len(alive),
        "expired_within_s": round(expired_after, 1),
        "rss_before_mb": round(before / 1024, 1),
        "rss_with_idle_mb": round(with_idle / 1024, 1),
        "kb_per_idle_session": round((with_idle - before) / count, 1),
        "rss_after_expiry_mb": round(after / 1024, 1),
    }


def warmup_for(seconds: float) -> float:
    """Load before measuring: caches fill, connection pools and the allocator approach this
    load's high-water mark. A third of the run, 10-60 s: in 60 s runs most of RSS's rise
    came in the first 20-25 s (a 5 s warm-up left it inside the measurement); a rarer step
    can still land later, which Theil-Sen's slope and the step count make plain."""
    return min(60.0, max(10.0, seconds / 3))


async def soak(
    url: str,
    issuer: Issuer,
    pid: int,
    seconds: float,
    clients: int,
    idle_sessions: int,
    idle_batches: int,
) -> dict[str, Any]:
    results = await drive(url, issuer, pid, clients, seconds, warmup_for(seconds))
    await asyncio.sleep(1.0)  # the load's last sessions were closed by DELETE
    results["memory"]["rss_after_load_mb"] = round(rss_kb(pid) / 1024, 1)
    token = issuer.token("soak-idle", audience=url, lifetime=900)
    batches = [await idle_batch(url, token, pid, idle_sessions) for _ in range(idle_batches)]
    results["idle"] = batches
    memory = results["memory"]
    memory["kb_per_idle_session"] = batches[0]["kb_per_idle_session"]
    memory["rss_after_expiry_mb"] = batches[0]["rss_after_expiry_mb"]
    memory["rss_after_last_expiry_mb"] = batches[-1]["rss_after_expiry_mb"]
    return results


def run(
    seconds: float = 60, clients: int = 24, *, idle_sessions: int = 200, idle_batches: int = 4
) -> dict[str, Any]:
    if seconds <= 0 or clients < 2 or idle_sessions < 1 or not 1 <= idle_batches <= 10:
        raise ValueError(
            "need seconds > 0, clients >= 2 (one per era), idle_sessions >= 1, 1-10 batches"
        )
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="pantry-soak-") as folder,
        running_issuer() as issuer,
        pantry_process(Path(folder)) as pantry_url,
        mcp_process(Path(folder), pantry_url, issuer.url) as (url, pid),
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
    ):
        results = runner.run(soak(url, issuer, pid, seconds, clients, idle_sessions, idle_batches))
    results.update(
        seconds=seconds,
        clients=clients,
        idle_timeout_s=IDLE_TIMEOUT,
        wall_s=round(time.monotonic() - started, 1),
    )
    return results


def table(results: dict[str, Any]) -> str:
    eras, memory, idle = results["eras"], results["memory"], results["idle"]
    rows = [
        f"{results['clients']} clients for {results['seconds']:g} s "
        f"(after {memory['warmup_s']:g} s of warm-up), wall {results['wall_s']} s\n",
        "| era | clients | connections | calls | calls/s | expected errors | failures "
        "| p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for era in ERAS:
        e = eras[era]
        rows.append(
            f"| {era} | {e['clients']} | {e['connections']} | {e['calls']} "
            f"| {e['calls_per_second']} | {e['expected_errors']} | {e['failures']} "
            f"| {e['p50_ms']} | {e['p99_ms']} |"
        )
    rows += [
        "",
        f"| operation | {LEGACY} p50 ms | p99 ms | {MODERN} p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    ops = sorted({op for era in ERAS for op in eras[era]["operations"]})
    for op in ops:
        cells = []
        for era in ERAS:
            o = eras[era]["operations"].get(op, {"p50_ms": "", "p99_ms": ""})
            cells += [str(o["p50_ms"]), str(o["p99_ms"])]
        rows.append(f"| {op} | " + " | ".join(cells) + " |")
    rows += [
        "",
        "| pantry-mcp memory (VmRSS) | value |",
        "|---|---:|",
        f"| warm-up: seconds, calls, RSS growth | {memory['warmup_s']:g}, "
        f"{memory['warmup_calls']}, {memory['warmup_rss_growth_kb']:+d} KB |",
        f"| after warm-up / half way / end of load, MB | {memory['rss_start_mb']} / "
        f"{memory['rss_mid_mb']} / {memory['rss_end_mb']} |",
        f"| measured: calls, {LEGACY} sessions opened and closed, RSS growth "
        f"| {memory['measured_calls']}, {memory['measured_sessions']}, "
        f"{memory['rss_growth_kb']:+d} KB |",
        f"| **growth per 1000 calls after warm-up, KB**: least squares / Theil-Sen "
        f"({memory['samples']} samples, every {memory['sample_every_s']:g} s) "
        f"| **{memory['kb_per_1000_calls_fit']}** / {memory['kb_per_1000_calls_theil_sen']} |",
        f"| the same, fitted to each half: first / second "
        f"| {memory['kb_per_1000_calls_fit_first_half']} / "
        f"{memory['kb_per_1000_calls_fit_second_half']} |",
        f"| RSS steps of {STEP_KB} KB or more, largest step "
        f"| {memory['rss_steps']}, {memory['rss_largest_step_kb']} KB |",
        f"| growth per 1000 sessions, KB (least squares) | {memory['kb_per_1000_sessions_fit']} |",
        f"| after the load's sessions closed, MB | {memory['rss_after_load_mb']} |",
    ]
    rows += [
        "",
        f"| idle {LEGACY} sessions (timeout {results['idle_timeout_s']:g} s) | sessions "
        "| RSS before MB | all open MB | KB per session (reusing freed memory: a lower bound) "
        "| answer 404 | after expiry MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for number, batch in enumerate(idle, 1):
        rows.append(
            f"| batch {number} | {batch['sessions']} | {batch['rss_before_mb']} "
            f"| {batch['rss_with_idle_mb']} | {batch['kb_per_idle_session']} "
            f"| {batch['expired']} within {batch['expired_within_s']} s "
            f"| {batch['rss_after_expiry_mb']} |"
        )
    cpu, lag = results["cpu_cores"], results["client_loop_lag_ms"]
    rows += [
        "",
        "| CPU during the load, cores | value |",
        "|---|---:|",
        *(f"| {name} | {value} |" for name, value in cpu.items()),
        f"| client event-loop lag p50 / p99, ms | {lag['p50']} / {lag['p99']} |",
    ]
    texts = [f"{era}: {t}" for era in ERAS for t in eras[era]["failure_texts"]]
    if texts:
        rows += ["", "First failures:", *(f"- {t}" for t in texts)]
    return "\n".join(rows)
