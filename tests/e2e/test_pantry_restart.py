"""Data safety of Pantry: a restart mid-load loses no acknowledged write.

The real ``pantry-api serve`` runs as its own process (SQLite in a temporary data
directory, or a fresh PostgreSQL database). Eight writers, each acting as its own user,
save recipes, add pantry items and create meal plans with entries, straight against the
REST API. Once enough writes have been acknowledged, Pantry is killed mid-load (SIGKILL:
no shutdown code runs; SIGTERM as the graceful variant) and started again on the same
data. The writers carry on against the new process; then everything is read back.

Proven, per user: every write answered 2xx is present exactly once and whole (a meal plan
with all its entries, a pantry quantity added once); every write refused at connect time
is absent; a write cut off mid-flight (unknown outcome) is either wholly there or wholly
absent, and re-sending it with its Idempotency-Key replays it when it is there and applies
it once when it is not; nothing exists that no writer attempted.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio
import httpx2
import pytest

from tests.support import (
    SERVICE_TOKEN,
    create_postgres_database,
    drop_postgres_database,
    free_port,
    postgres_reachable,
    unique,
)

pytestmark = pytest.mark.anyio

WRITERS = 8
ACKS_BEFORE_KILL = 40  # the kill lands while the other writers still have requests in flight
ACKS_AFTER_RESTART = 40
KILL_JITTER = 0.05  # seconds, at most: see where the kill happens
START_TIMEOUT = 20.0  # start-up is ~1.5 s (migrations and seed on the first start)
PHASE_TIMEOUT = 20.0  # reaching an ack count, or the writers draining
REQUEST_TIMEOUT = 10.0
PLAN_START = "2031-03-03"
PLAN_SLOTS = ("lunch", "dinner")
PLAN_DAYS = 3

Kind = Literal["recipe", "pantry", "plan"]
# acked: a 2xx answer. refused: the connection was never made, so Pantry never saw it.
# unknown: cut off after sending (reset, closed, timed out). rejected: a non-2xx answer.
Outcome = Literal["pending", "acked", "refused", "unknown", "rejected"]
EntryKey = tuple[int, str, str]  # (day, slot, recipe_id)


# ---- Pantry as a process ------------------------------------------------------------------


@dataclass
class PantryProcess:
    """``pantry-api serve`` on a fixed 127.0.0.1 port, restartable on the same data."""

    env: dict[str, str]
    logs: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self) -> str:
        path = self.logs / f"pantry-{self.starts}.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    async def start(self) -> None:
        self.starts += 1
        command = [
            str(Path(sys.executable).parent / "pantry-api"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-access-log",
        ]
        self.process = self._spawn(command)
        deadline = time.monotonic() + START_TIMEOUT
        async with httpx2.AsyncClient(timeout=1) as probe:
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    if (await probe.get(f"{self.url}/healthz")).status_code == 200:
                        return
                except httpx2.TransportError:
                    pass
                await anyio.sleep(0.05)  # polling a condition, bounded by the deadline
        raise AssertionError(
            f"pantry-api start #{self.starts} did not come up on {self.url} "
            f"(exit code {self.process.poll()}):\n{self.log_tail()}"
        )

    def _spawn(self, command: list[str]) -> subprocess.Popen[bytes]:
        with open(self.logs / f"pantry-{self.starts}.log", "wb") as log:
            return subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    async def stop(self, how: signal.Signals) -> int:
        assert self.process is not None
        self.process.send_signal(how)
        code = await anyio.to_thread.run_sync(self.process.wait, 20.0)
        self.process = None
        return code

    def kill(self) -> None:
        """For finally blocks: whatever happened, leave no process behind."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


# ---- the writers --------------------------------------------------------------------------


@dataclass
class Attempt:
    """One POST: what was sent, and what the writer learnt of its fate."""

    kind: Kind
    path: str
    body: dict[str, Any]
    key: str  # the Idempotency-Key, to re-send an unknown outcome safely
    label: str  # recipe title, pantry ingredient id, or meal plan name
    epoch: int  # 0: sent to the first process, 1: to the restarted one
    outcome: Outcome = "pending"
    status: int | None = None
    error: str = ""
    resource_id: str | None = None  # the id Pantry gave the recipe or plan

    def expected_entries(self) -> set[EntryKey]:
        return {(e["day"], e["slot"], e["recipe_id"]) for e in self.body.get("entries", [])}


@dataclass
class Load:
    """Shared by the writers and the test: when Pantry is up, and how many acks so far."""

    up: anyio.Event = field(default_factory=anyio.Event)  # replaced by a fresh one while down
    epoch: int = 0
    stopping: bool = False
    acks: list[int] = field(default_factory=lambda: [0, 0])  # per epoch
    _changed: anyio.Event = field(default_factory=anyio.Event)

    def acked(self, epoch: int) -> None:
        self.acks[epoch] += 1
        self._changed.set()
        self._changed = anyio.Event()

    async def reach(self, epoch: int, count: int) -> None:
        with anyio.move_on_after(PHASE_TIMEOUT):
            while self.acks[epoch] < count:
                await self._changed.wait()
        if self.acks[epoch] < count:
            raise AssertionError(
                f"only {self.acks[epoch]} of {count} acks in epoch {epoch} within {PHASE_TIMEOUT} s"
            )


def headers(user: str, key: str | None = None) -> dict[str, str]:
    sent = {"Authorization": f"Bearer {SERVICE_TOKEN}", "X-Pantry-User": user}
    if key is not None:
        sent["Idempotency-Key"] = key
    return sent


@dataclass
class Writer:
    index: int
    user: str
    marker: str  # in every title and plan name, so nothing else can be mistaken for ours
    pantry_url: str
    ingredient_ids: list[str]  # a pantry write uses each at most once: a repeat would merge
    catalog_recipes: list[str]
    attempts: list[Attempt] = field(default_factory=list)

    def next_attempt(self, seq: int, epoch: int) -> Attempt:
        label = f"{self.marker} w{self.index} n{seq}"
        key = f"{self.marker}-w{self.index}-n{seq}"
        kinds: tuple[Kind, ...] = ("recipe", "pantry", "plan")
        kind = kinds[seq % 3]
        pantry_writes = sum(a.kind == "pantry" for a in self.attempts)
        if kind == "pantry" and pantry_writes >= len(self.ingredient_ids):
            kind = "recipe"
        if kind == "recipe":
            body: dict[str, Any] = {
                "title": label,
                "total_minutes": 10 + seq % 50,
                "ingredients": [{"name": "salt", "quantity": 2, "unit": "g"}],
                "steps": [f"Step of {label}."],
            }
            return Attempt(kind, "/recipes", body, key, label, epoch)
        if kind == "pantry":
            ingredient = self.ingredient_ids[pantry_writes]
            # A distinct quantity per write: applied twice, the item would hold double.
            body = {"ingredient_id": ingredient, "quantity": float(seq + 1), "unit": "g"}
            return Attempt(kind, "/pantry/items", body, key, ingredient, epoch)
        entries = [
            {"day": day, "slot": slot, "recipe_id": self.catalog_recipes[(seq + n) % 40]}
            for n, (day, slot) in enumerate(
                (d, s) for d in range(1, PLAN_DAYS + 1) for s in PLAN_SLOTS
            )
        ]
        own = [a.resource_id for a in self.attempts if a.kind == "recipe" and a.resource_id]
        if own:  # a recipe acknowledged earlier, perhaps by the killed process, must be there
            entries.append({"day": 1, "slot": "breakfast", "recipe_id": own[-1]})
        body = {"start_date": PLAN_START, "days": PLAN_DAYS, "name": label, "entries": entries}
        return Attempt(kind, "/meal-plans", body, key, label, epoch)

    async def run(self, load: Load) -> None:
        async with httpx2.AsyncClient(base_url=self.pantry_url, timeout=REQUEST_TIMEOUT) as http:
            seq = 0
            while True:
                await load.up.wait()  # Pantry is down between the kill and the restart
                if load.stopping:
                    return
                attempt = self.next_attempt(seq, load.epoch)
                self.attempts.append(attempt)
                seq += 1
                await send(http, self.user, attempt)
                if attempt.outcome == "acked":
                    load.acked(attempt.epoch)


async def send(http: httpx2.AsyncClient, user: str, attempt: Attempt) -> httpx2.Response | None:
    try:
        response = await http.post(
            attempt.path, json=attempt.body, headers=headers(user, attempt.key)
        )
    except (httpx2.ConnectError, httpx2.ConnectTimeout) as error:
        attempt.outcome, attempt.error = "refused", type(error).__name__
        return None
    except httpx2.TransportError as error:
        attempt.outcome, attempt.error = "unknown", type(error).__name__
        return None
    attempt.status = response.status_code
    if not response.is_success:
        attempt.outcome, attempt.error = "rejected", response.text[:200]
        return response
    attempt.outcome = "acked"
    if attempt.kind != "pantry":
        attempt.resource_id = response.json()["id"]
    return response


# ---- reading back -------------------------------------------------------------------------


@dataclass
class Stored:
    """What Pantry holds for one user."""

    recipes: list[tuple[str, str]]  # (title, id) of the user's own recipes
    saved_recipes: int  # GET /users/me's count, a second path to the same rows
    pantry: list[tuple[str, float | None]]  # (ingredient id, quantity)
    plans: list[tuple[str, str, int, set[EntryKey]]]  # (name, id, entry_count, entries)


async def read_back(http: httpx2.AsyncClient, user: str) -> Stored:
    async def pages(path: str, size: int, **params: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in range(1, 100):
            answer = await http.get(
                path, params={**params, "page": page, "page_size": size}, headers=headers(user)
            )
            assert answer.status_code == 200, f"GET {path}: {answer.status_code} {answer.text}"
            body = answer.json()
            items.extend(body["items"])
            if not body["has_more"]:
                return items
        raise AssertionError(f"GET {path} never ran out of pages")

    hits = await pages("/recipes", 50, sort="title")
    me = (await http.get("/users/me", headers=headers(user))).json()
    pantry = (await http.get("/pantry", headers=headers(user))).json()
    plans = []
    for summary in await pages("/meal-plans", 100):
        plan = (await http.get(f"/meal-plans/{summary['id']}", headers=headers(user))).json()
        entries = {
            (e["day"], e["slot"], e["recipe_id"]) for day in plan["days"] for e in day["entries"]
        }
        plans.append((summary["name"], summary["id"], summary["entry_count"], entries))
    return Stored(
        recipes=[(hit["title"], hit["id"]) for hit in hits if hit["owner"] == "me"],
        saved_recipes=me["saved_recipes"],
        pantry=[(item["ingredient_id"], item["quantity"]) for item in pantry["items"]],
        plans=plans,
    )


def problems_of(writer: Writer, stored: Stored) -> list[str]:
    """Every way the stored state contradicts what the writer was told."""
    found: list[str] = []
    who = f"writer {writer.index}"
    by_label = {(a.kind, a.label): a for a in writer.attempts}
    seen: dict[Kind, Counter[str]] = {
        "recipe": Counter(title for title, _ in stored.recipes),
        "pantry": Counter(ingredient for ingredient, _ in stored.pantry),
        "plan": Counter(name for name, *_ in stored.plans),
    }
    for kind, counts in seen.items():
        for label, times in counts.items():
            attempt = by_label.get((kind, label))
            if times > 1:
                found.append(f"{who}: {kind} {label!r} stored {times} times")
            if attempt is None:
                found.append(f"{who}: {kind} {label!r} stored but never attempted")
            elif attempt.outcome in ("refused", "rejected"):
                found.append(
                    f"{who}: {kind} {label!r} stored though it was {attempt.outcome} "
                    f"({attempt.status or attempt.error})"
                )
    for attempt in writer.attempts:
        if attempt.outcome == "acked" and seen[attempt.kind][attempt.label] == 0:
            found.append(
                f"{who}: acknowledged {attempt.kind} {attempt.label!r} "
                f"(epoch {attempt.epoch}, HTTP {attempt.status}) is missing"
            )
    recipe_ids = dict(stored.recipes)
    for attempt in writer.attempts:
        acked_recipe = attempt.kind == "recipe" and attempt.outcome == "acked"
        if (
            acked_recipe
            and recipe_ids.get(attempt.label, attempt.resource_id) != attempt.resource_id
        ):
            found.append(f"{who}: recipe {attempt.label!r} has another id than acknowledged")
    if stored.saved_recipes != len(stored.recipes):
        found.append(
            f"{who}: /users/me counts {stored.saved_recipes} recipes, "
            f"/recipes lists {len(stored.recipes)}"
        )
    for ingredient, quantity in stored.pantry:
        attempt = by_label.get(("pantry", ingredient))
        if attempt is not None and quantity != attempt.body["quantity"]:
            found.append(
                f"{who}: pantry {ingredient} holds {quantity}, "
                f"one write of {attempt.body['quantity']} was sent"
            )
    for name, plan_id, entry_count, entries in stored.plans:
        attempt = by_label.get(("plan", name))
        if attempt is None:
            continue
        expected = attempt.expected_entries()
        if entries != expected or entry_count != len(expected):
            found.append(
                f"{who}: plan {name!r} ({plan_id}) holds {len(entries)} entries "
                f"(listed as {entry_count}), {len(expected)} were sent: half-written"
            )
        if attempt.outcome == "acked" and attempt.resource_id != plan_id:
            found.append(f"{who}: plan {name!r} has another id than acknowledged")
    return found


async def resend_unknowns(
    http: httpx2.AsyncClient, writer: Writer, stored: Stored
) -> tuple[list[str], int]:
    """Re-send each unknown outcome with its Idempotency-Key, as a careful client would.

    Pantry stores the key's answer in the write's own transaction, so a write that
    survived the kill must be replayed, and one that did not must now apply once.
    Returns (problems, how many were replays).
    """
    found: list[str] = []
    replays = 0
    present = {
        "recipe": {title for title, _ in stored.recipes},
        "pantry": {ingredient for ingredient, _ in stored.pantry},
        "plan": {name for name, *_ in stored.plans},
    }
    for attempt in writer.attempts:
        if attempt.outcome != "unknown":
            continue
        response = await send(http, writer.user, attempt)
        if response is None or not response.is_success:
            found.append(
                f"writer {writer.index}: re-sending {attempt.kind} {attempt.label!r} "
                f"failed: {attempt.status or attempt.error}"
            )
            continue
        replayed = response.headers.get("Idempotent-Replayed") == "true"
        replays += replayed
        if replayed != (attempt.label in present[attempt.kind]):
            found.append(
                f"writer {writer.index}: {attempt.kind} {attempt.label!r} was "
                f"{'stored' if attempt.label in present[attempt.kind] else 'absent'} but "
                f"re-sending it {'replayed' if replayed else 'applied it afresh'}"
            )
    return found, replays


# ---- the test -----------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_env(request: pytest.FixtureRequest) -> AsyncIterator[dict[str, str]]:
    """Extra environment for Pantry: none for SQLite (it lives in the data directory),
    the URL of a fresh database for PostgreSQL."""
    if request.param == "sqlite":
        yield {}
        return
    reason = await postgres_reachable()
    if reason is not None:
        if os.environ.get("PANTRY_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PANTRY_TEST_REQUIRE_POSTGRES is set but {reason}")
        pytest.skip(reason)
    url = await create_postgres_database()
    try:
        yield {"PANTRY_API_DATABASE_URL": url}
    finally:
        await drop_postgres_database(url)


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
async def test_restart_mid_load_loses_no_acknowledged_write(
    how: signal.Signals, database_env: dict[str, str], tmp_path: Path
) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PANTRY_API_DATA_DIR": str(tmp_path / "data"),
        "PANTRY_API_SERVICE_TOKEN": SERVICE_TOKEN,
        "PANTRY_API_RATE_LIMIT": "0",
        "PANTRY_API_LOG_LEVEL": "warning",
        **database_env,
    }
    pantry = PantryProcess(env=env, logs=tmp_path)
    load = Load()
    started = time.monotonic()
    try:
        await pantry.start()
        async with httpx2.AsyncClient(base_url=pantry.url, timeout=REQUEST_TIMEOUT) as http:
            setup = unique("restart-setup")
            ingredients = await http.get(
                "/ingredients", params={"page_size": 100}, headers=headers(setup)
            )
            catalog = await http.get(
                "/recipes", params={"page_size": 50, "sort": "title"}, headers=headers(setup)
            )
            ingredient_ids = [item["id"] for item in ingredients.json()["items"]]
            catalog_recipes = [hit["id"] for hit in catalog.json()["items"]]
            assert len(ingredient_ids) == 100 and len(catalog_recipes) == 50, "seed missing"

        marker = unique("rst")
        writers = [
            Writer(i, unique(f"restart-w{i}"), marker, pantry.url, ingredient_ids, catalog_recipes)
            for i in range(WRITERS)
        ]
        load.up.set()
        async with anyio.create_task_group() as group:
            for writer in writers:
                group.start_soon(writer.run, load)
            try:
                await load.reach(0, ACKS_BEFORE_KILL)
                # Not a wait for anything: a random few milliseconds more let the signal
                # land anywhere in Pantry's handling of the requests in flight (waiting for
                # the lock, committing, answering), not always just after an answer left.
                await anyio.sleep(random.uniform(0, KILL_JITTER))
                acks_at_kill = load.acks[0]
                load.up = anyio.Event()  # swapped before the signal: later sends wait for it
                exit_code = await pantry.stop(how)
                await pantry.start()  # same port, same data directory or database
                load.epoch = 1
                load.up.set()
                await load.reach(1, ACKS_AFTER_RESTART)
            finally:
                load.stopping = True
                load.up.set()  # release writers waiting for a Pantry that will not come
            # leaving the group waits for each writer's last request (REQUEST_TIMEOUT bounds it)

        attempts = [a for w in writers for a in w.attempts]
        tally = Counter(a.outcome for a in attempts)
        summary = (
            f"{how.name} (exit {exit_code}): {acks_at_kill} acks when signalled, "
            f"{load.acks[0]} before the restart, {load.acks[1]} after; "
            f"{tally['unknown']} unknown, {tally['refused']} refused, "
            f"{tally['rejected']} rejected of {len(attempts)} writes"
        )
        if how == signal.SIGKILL:
            assert exit_code == -signal.SIGKILL, summary
        # Every write is valid: a non-2xx answer (say a 404 for an acknowledged recipe a new
        # plan refers to) is itself a sign of lost data; listed with what the reads find.
        problems = [
            f"valid write {a.label!r} got HTTP {a.status}: {a.error}"
            for a in attempts
            if a.outcome == "rejected"
        ]
        async with httpx2.AsyncClient(base_url=pantry.url, timeout=REQUEST_TIMEOUT) as http:
            replays = 0
            for writer in writers:
                stored = await read_back(http, writer.user)
                problems += problems_of(writer, stored)
                found, replayed = await resend_unknowns(http, writer, stored)
                problems += found
                replays += replayed
                if tally["unknown"]:  # after the re-sends: still exactly once each
                    problems += problems_of(writer, await read_back(http, writer.user))
        summary += (
            f"; unknowns re-sent: {replays} were stored (replayed), "
            f"{tally['unknown'] - replays} were not (applied now)"
        )
        problems = list(dict.fromkeys(problems))  # the second read-back repeats the first's
        assert not problems, f"{summary}\n" + "\n".join(problems[:40])
        print(f"{summary}; {time.monotonic() - started:.1f} s")
    finally:
        pantry.kill()
