"""Metrics in prometheus-client's multiprocess mode, as ``serve --workers N`` runs them:
each process writes its own values, and any one renders the sum."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Run in fresh interpreters: the mode is fixed when prometheus-client is first imported.
COUNT = """
from pantry_mcp.metrics import Metrics
metrics = Metrics(workers=2)
for _ in range(2):
    metrics.http_request("/mcp", 200)
"""
RENDER = """
from pantry_mcp.metrics import Metrics
metrics = Metrics(workers=2)
try:
    metrics.watch_sessions(lambda: 0)
except RuntimeError as error:
    print("refused:", error)
print(metrics.render().decode())
"""


def python(code: str, directory: Path | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    if directory is not None:
        env["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_every_process_counts_and_any_renders_the_sum(tmp_path: Path) -> None:
    python(COUNT, tmp_path)
    python(COUNT, tmp_path)
    assert len(list(tmp_path.glob("counter_*.db"))) == 2  # one file per process
    out = python(RENDER, tmp_path)
    assert 'pantry_mcp_http_requests_total{route="/mcp",status="200"} 4.0' in out
    # a function gauge cannot be summed over files: refused, never silently zero
    assert out.startswith("refused: stateful sessions need one worker")


ONE = """
from pantry_mcp.metrics import Metrics
metrics = Metrics()
metrics.http_request("/mcp", 200)
metrics.watch_sessions(lambda: 3)
print(metrics.render().decode())
"""


def test_one_worker_renders_its_own_registry_as_before(tmp_path: Path) -> None:
    for directory in (None, tmp_path):  # even with PROMETHEUS_MULTIPROC_DIR set by someone
        python(COUNT, tmp_path)  # another process's values, which one worker never shows
        out = python(ONE, directory)
        assert 'pantry_mcp_http_requests_total{route="/mcp",status="200"} 1.0' in out
        assert "pantry_mcp_sessions_open 3.0" in out


def test_several_workers_without_the_directory_do_not_start() -> None:
    code = "from pantry_mcp.metrics import Metrics\nMetrics(workers=2)"
    with pytest.raises(subprocess.CalledProcessError) as failed:
        python(code, None)
    assert "several workers need PROMETHEUS_MULTIPROC_DIR" in str(failed.value.stderr)
