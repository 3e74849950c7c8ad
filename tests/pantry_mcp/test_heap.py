"""The start-up heap is frozen once the app is built, just before the process serves."""

from __future__ import annotations

import gc
import json
import platform
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from pantry_mcp import cli, heap, worker_app
from pantry_mcp.heap import freeze_startup_heap
from tests.support import SERVICE_TOKEN


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    """Each test starts and ends with nothing frozen (frozen objects are never collected)
    and no trimming thread (serve starts one)."""
    gc.unfreeze()
    yield
    gc.unfreeze()
    running = heap.return_free_memory()
    if running is not None:
        running.stop()


@pytest.fixture
def pantry_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PANTRY_MCP_PANTRY_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("PANTRY_MCP_PANTRY_TOKEN", SERVICE_TOKEN)


def test_freezing_takes_what_is_alive_and_leaves_new_objects_collectable() -> None:
    freeze_startup_heap()
    frozen = gc.get_freeze_count()
    assert frozen > 10_000  # the test process's modules, at the least
    later = [[n] for n in range(100)]
    assert gc.is_tracked(later) and gc.get_freeze_count() == frozen


def test_serve_freezes_the_built_app_before_uvicorn_runs(
    monkeypatch: pytest.MonkeyPatch, pantry_env: None
) -> None:
    seen: list[int] = []

    def run(app: Any, **options: Any) -> None:
        seen.append(gc.get_freeze_count())

    monkeypatch.setattr(uvicorn, "run", run)
    assert cli.main(["serve", "--port", "9"]) == 0
    assert seen and seen[0] > 10_000


def test_each_worker_freezes_its_app_once_built(pantry_env: None) -> None:
    worker_app.create()
    assert gc.get_freeze_count() > 10_000


# Run in a fresh interpreter: the test process's own heap (threads, arenas, what earlier
# tests freed) would decide whether free() alone gives the pages back.
FRAGMENTED_HEAP = """
import json, time
from pantry_mcp import heap

def rss_kb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

blocks = [bytes(4000) for _ in range(40_000)]  # 160 MB from malloc, not pymalloc
survivors = blocks[::50]  # one block in fifty stays: free() cannot shrink the heap
del blocks
freed = rss_kb()
trimmer = heap.return_free_memory(every=0.01)
same = heap.return_free_memory() is trimmer
deadline = time.monotonic() + 10
while trimmer.rounds < 2 and time.monotonic() < deadline:
    time.sleep(0.01)  # polling the trimmer, bounded by the deadline
trimmer.stop()
print(json.dumps({"freed": freed, "trimmed": rss_kb(), "rounds": trimmer.rounds,
                  "same": same, "alive": trimmer.alive, "kept": len(survivors)}))
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_freed_heap_pages_go_back_to_the_system_while_a_few_blocks_live_on() -> None:
    out = subprocess.run(
        [sys.executable, "-c", FRAGMENTED_HEAP], capture_output=True, check=True, timeout=60
    )
    seen = json.loads(out.stdout)
    assert seen["freed"] > 150_000  # freed, yet still resident: what the trimmer is for
    assert seen["trimmed"] < seen["freed"] - 100_000
    assert seen["rounds"] >= 2 and seen["same"] and not seen["alive"] and seen["kept"] == 800
