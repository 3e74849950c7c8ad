"""Test support shared by every suite: real servers on 127.0.0.1, real databases."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx2
import uvicorn
from starlette.types import ASGIApp

T = TypeVar("T")
# The tools the model may call, in the order tools/list gives them.
TOOL_NAMES = (
    "search_recipes",
    "save_recipe",
    "whats_for_dinner",
    "plan_week_meals",
    "update_pantry",
    "add_recipe_to_plan",
    "get_shopping_list",
    "suggest_substitutes",
    "ask_preferences",
)
# Tools for the MCP Apps views only, listed after the others; hosts keep them from the model.
VIEW_ONLY_TOOL_NAMES = ("get_meal_plan", "check_shopping_item")
LISTED_TOOL_NAMES = TOOL_NAMES + VIEW_ONLY_TOOL_NAMES
SERVICE_TOKEN = "tests-service-token-0123456789"
POSTGRES_ADMIN_URL = os.environ.get(
    "PANTRY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@dataclass(frozen=True)
class RunningServer:
    base_url: str
    port: int


@contextmanager
def serve_in_thread(
    app: ASGIApp, *, port: int = 0, timeout: float = 30.0
) -> Iterator[RunningServer]:
    """Run ``app`` under uvicorn on 127.0.0.1 (a free port unless given) in its own thread."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    ready = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(server.serve())
        except BaseException as error:  # surfaced to the test below
            failure.append(error)
        finally:
            ready.set()

    thread = threading.Thread(target=run, name="uvicorn-test", daemon=True)
    thread.start()

    def started() -> bool:
        return server.started or bool(failure) or not thread.is_alive()

    waited = 0.0
    while not started() and waited < timeout:
        ready.wait(0.02)
        waited += 0.02
    if not server.started:
        server.should_exit = True
        thread.join(timeout)
        raise RuntimeError(f"test server did not start: {failure[0] if failure else 'timeout'}")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield RunningServer(base_url=f"http://127.0.0.1:{port}", port=port)
    finally:
        server.should_exit = True
        thread.join(timeout)


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Until ``url`` answers 200 (AssertionError if the process exits or time runs out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx2.get(url, timeout=1).status_code == 200:
                return
        except httpx2.TransportError:
            time.sleep(0.1)  # polling a condition, bounded by the deadline
    raise AssertionError(f"{url} did not come up")


def run_blocking(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from sync code, even inside a running event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result(timeout=60)


def free_port() -> int:
    """A port nothing listens on right now (for servers whose URL must be known in advance)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def child_processes(parent: int) -> dict[int, bytes]:
    """The live children of process ``parent``: pid -> command line (NUL-separated)."""
    found: dict[int, bytes] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == parent:
                found[int(entry.name)] = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue  # exited while we looked
    return found


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


async def postgres_reachable() -> str | None:
    """None when a PostgreSQL server answers at POSTGRES_ADMIN_URL, else the reason it does not."""
    import asyncpg

    try:
        conn = await asyncpg.connect(
            POSTGRES_ADMIN_URL.replace("postgresql://", "postgres://"), timeout=3
        )
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        return f"no PostgreSQL at {POSTGRES_ADMIN_URL}: {error}"
    await conn.close()
    return None


async def create_postgres_database() -> str:
    """A fresh, empty database; returns its URL. Dropped by drop_postgres_database."""
    import asyncpg

    name = f"pantry_test_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


async def drop_postgres_database(url: str) -> None:
    import asyncpg

    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def mcp_settings(pantry_url: str, user: str, **extra: str) -> Any:
    """pantry-mcp settings pointing at a test Pantry, acting as ``user``."""
    from pantry_mcp.config import Settings

    env = {
        "PANTRY_MCP_PANTRY_URL": pantry_url,
        "PANTRY_MCP_PANTRY_TOKEN": SERVICE_TOKEN,
        "PANTRY_MCP_USER": user,
        "PANTRY_MCP_LOG_FORMAT": "json",
        **extra,
    }
    return Settings.from_env(env, tty=False)


def text_of(block: object) -> str:
    """The text of a content block or resource contents (and fail if it has none)."""
    value = getattr(block, "text", None)
    assert isinstance(value, str), f"expected text content, got {type(block).__name__}"
    return value


async def eventually(condition: Callable[[], bool], seconds: float = 30) -> None:
    """Wait until ``condition()`` holds: a bounded poll, for what happens out of the test's
    sight (a worker replaced, a log line the writer thread has not written yet)."""
    with anyio.fail_after(seconds):
        while not condition():  # noqa: ASYNC110 - nothing announces it: poll, bounded
            await anyio.sleep(0.02)
