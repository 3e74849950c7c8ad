"""The committed views bundle is what its sources and lock file build, and it type-checks.

``src/pantry_mcp/views/dist`` is committed so that a clean clone and a wheel serve the views
without Node.js; this test rebuilds it into a temporary folder (esbuild is deterministic)
and fails on any byte of difference: run ``make views`` and commit the result.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pantry_mcp.views import VIEWS, view_html

VIEWS_DIR = Path(__file__).resolve().parents[2] / "src" / "pantry_mcp" / "views"
NODE_MODULES = VIEWS_DIR / "node_modules"
OUTPUTS = ("app.js", "app.css")
MAX_VIEW_BYTES = 800 * 1024
TIMEOUT = 120  # seconds; each step takes a few here


def require_build_tools() -> str:
    node = shutil.which("node")
    if node is not None and (NODE_MODULES / "esbuild").is_dir():
        return node
    reason = f"Node.js or {NODE_MODULES} is missing: `make test` installs the views' tools"
    if os.environ.get("PANTRY_TEST_REQUIRE_NODE") == "1":
        pytest.fail(f"PANTRY_TEST_REQUIRE_NODE=1 but {reason}")
    pytest.skip(reason)


def test_the_committed_bundle_is_what_the_sources_build(tmp_path: Path) -> None:
    node = require_build_tools()
    built = subprocess.run(
        [node, "build.mjs"],
        cwd=VIEWS_DIR,
        env={**os.environ, "VIEWS_OUT_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    for name in OUTPUTS:
        fresh, committed = (tmp_path / name).read_bytes(), (VIEWS_DIR / "dist" / name).read_bytes()
        assert fresh == committed, f"dist/{name} is stale: run `make views` and commit it"


def test_the_views_type_check() -> None:
    node = require_build_tools()
    checked = subprocess.run(
        [node, str(NODE_MODULES / ".bin" / "tsc"), "--noEmit", "-p", str(VIEWS_DIR)],
        cwd=VIEWS_DIR,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("uri", list(VIEWS))
def test_each_view_document_fits_its_budget(uri: str) -> None:
    size = len(view_html(VIEWS[uri]).encode())
    assert size <= MAX_VIEW_BYTES, f"{uri} is {size} bytes; the budget is {MAX_VIEW_BYTES}"
