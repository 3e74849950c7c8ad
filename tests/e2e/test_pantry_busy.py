"""A change Pantry's database was too busy for: sent again by pantry-mcp's client, and
applied once. Real Pantry on SQLite, a real write lock held by another connection."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import anyio
import pytest

from pantry_api.app import create_app
from pantry_mcp.client import CallLog, PantryClient, UpstreamCall, current_calls
from tests.pantry_api.conftest import SERVICE_TOKEN, settings_for
from tests.support import serve_in_thread, unique

pytestmark = pytest.mark.anyio


class Watched(list[UpstreamCall]):
    """The client's record of its calls to Pantry, telling when one was refused busy."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = anyio.Event()

    def append(self, call: UpstreamCall) -> None:
        super().append(call)
        if call.status == 503:
            self.refused.set()


async def test_a_change_refused_while_the_database_was_busy_is_sent_again(
    tmp_path: Path,
) -> None:
    database = tmp_path / "pantry.db"
    settings = settings_for(f"sqlite:///{database}", PANTRY_API_SQLITE_BUSY_TIMEOUT="0.3")
    user = unique("busy")
    with serve_in_thread(create_app(settings)) as server:
        client = PantryClient(server.base_url, SERVICE_TOKEN)
        try:
            added = {"ingredient_id": "egg", "quantity": 2}
            await client.add_pantry_item(user, added, idempotency_key=unique("add"))
            holder = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
            holder.execute("BEGIN IMMEDIATE")  # another writer holds SQLite's write lock
            released = threading.Event()
            watched = Watched()
            calls = CallLog(calls=watched)
            token = current_calls.set(calls)

            async def release_after_the_first_refusal() -> None:
                with anyio.fail_after(10):
                    await watched.refused.wait()
                holder.execute("ROLLBACK")
                released.set()

            try:
                async with anyio.create_task_group() as group:
                    group.start_soon(release_after_the_first_refusal)
                    with anyio.fail_after(15):
                        changed = await client.update_pantry_item(user, "egg", {"quantity": 5})
            finally:
                current_calls.reset(token)
                if not released.is_set():
                    holder.execute("ROLLBACK")
                holder.close()
            assert [c.status for c in calls.calls] == [503, 200]  # no key, sent again
            assert changed["quantity"] == 5
            held = (await client.list_pantry(user))["items"]
            assert [(i["ingredient_id"], i["quantity"]) for i in held] == [("egg", 5.0)]
        finally:
            await client.aclose()
