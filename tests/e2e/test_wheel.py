"""pantry-mcp as people install it: the wheel built from pyproject.toml, installed into a
new, empty virtual environment (no checkout, no dev dependencies), its commands run from a
folder outside the checkout with nothing of it on the path; and the same wheel run by
``uvx`` (``uv tool run``), as a client's configuration would."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from bench.processes import stop
from mcp import Client, StdioServerParameters
from mcp_types import SERVER_INFO_META_KEY, Implementation

from tests.support import (
    LISTED_TOOL_NAMES,
    SERVICE_TOKEN,
    free_port,
    text_of,
    unique,
    wait_until_up,
)

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).parents[2]
UV = Path(sys.executable).parent / "uv"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


@dataclass(frozen=True)
class Installed:
    wheel: Path
    sdist: Path
    bin: Path  # the new environment's scripts
    home: Path  # a folder outside the checkout: the working directory of every command

    def env(self, **extra: str) -> dict[str, str]:
        """What a user's shell would have: no PYTHONPATH, no active environment; the
        machine's own settings for reaching the package index (certificates, proxies)."""
        kept = {
            name: value
            for name, value in os.environ.items()
            if name in ("PATH", "HOME", "LANG", "TMPDIR", "REQUESTS_CA_BUNDLE")
            or name.startswith(("UV_", "SSL_", "PIP_"))
            or name.lower().endswith("_proxy")
        }
        return {**kept, **extra}


def run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{command}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Built once per run, installed once into an environment of its own."""
    folder = tmp_path_factory.mktemp("wheel")
    home = folder / "home"
    home.mkdir()
    run(UV, "build", "--out-dir", folder / "dist", ROOT, cwd=folder)
    (wheel,) = (folder / "dist").glob("pantry_mcp-*.whl")
    (sdist,) = (folder / "dist").glob("pantry_mcp-*.tar.gz")
    venv = folder / "venv"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    run(UV, "venv", "--quiet", "--python", sys.executable, venv, cwd=folder, env=env)
    run(
        UV,
        "pip",
        "install",
        "--quiet",
        "--python",
        venv / "bin" / "python",
        wheel,
        cwd=folder,
        env=env,
    )
    return Installed(wheel, sdist, venv / "bin", home)


def test_the_wheel_holds_what_runs_and_nothing_of_the_tests(installed: Installed) -> None:
    assert installed.wheel.name == f"pantry_mcp-{VERSION}-py3-none-any.whl"
    names = zipfile.ZipFile(installed.wheel).namelist()
    for needed in (
        "pantry_mcp/schemas/search_recipes.json",
        "pantry_mcp/views/dist/app.js",
        "pantry_api/catalog/recipes",
        "pantry_api/catalog/ingredients",
        "pantry_api/store/migrations.py",
    ):
        assert any(name.startswith(needed) for name in names), needed
    assert not [n for n in names if n.startswith(("tests/", "bench/")) or "node_modules" in n]
    assert not [n for n in names if n.startswith("pantry_mcp/views/src/")]
    with tarfile.open(installed.sdist) as sdist:
        members = sdist.getnames()
    assert any(m.endswith("/pyproject.toml") for m in members)
    assert not [m for m in members if "/tests/" in m or "node_modules" in m or "/bench/" in m]


def test_one_version_everywhere(installed: Installed) -> None:
    env = installed.env()
    assert run(installed.bin / "pantry-mcp", "--version", cwd=installed.home, env=env).strip() == (
        f"pantry-mcp {VERSION}"
    )
    assert run(installed.bin / "pantry-api", "--version", cwd=installed.home, env=env).strip() == (
        f"pantry-api {VERSION}"
    )
    where = run(
        installed.bin / "python",
        "-c",
        "import pantry_mcp, pantry_api; print(pantry_mcp.__file__); print(pantry_api.__file__)",
        cwd=installed.home,
        env=env,
    )
    for path in where.split():
        assert Path(path).is_relative_to(installed.bin.parent), path  # not the checkout


@pytest.fixture(scope="module")
def pantry(installed: Installed) -> Iterator[str]:
    """Pantry, from the installed wheel, on a database of its own."""
    port = free_port()
    process = subprocess.Popen(
        [str(installed.bin / "pantry-api"), "serve", "--port", str(port), "--no-access-log"],
        cwd=installed.home,
        env=installed.env(
            PANTRY_API_DATA_DIR=str(installed.home / "pantry-data"),
            PANTRY_API_SERVICE_TOKEN=SERVICE_TOKEN,
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", process, timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


async def use_it(client: Client) -> None:
    """What a person's first conversation would touch: the tools, a search, a view."""
    tools = await client.list_tools()
    # The handshake's serverInfo (2025-11-25), or the stamp on every 2026-07-28 answer.
    stamped = (tools.meta or {}).get(SERVER_INFO_META_KEY)
    info = client.server_info or Implementation.model_validate(stamped)
    assert (info.name, info.version) == ("pantry-mcp", VERSION)
    assert [tool.name for tool in tools.tools] == list(LISTED_TOOL_NAMES)
    found = await client.call_tool("search_recipes", {"query": "soup"})
    assert not found.is_error, text_of(found.content[0])
    assert found.structured_content["results"]
    week = (await client.read_resource("ui://pantry/week-plan")).contents[0]
    assert '<body data-view="week-plan">' in text_of(week)


def stdio_env(installed: Installed, pantry: str) -> dict[str, str]:
    return installed.env(
        PANTRY_MCP_PANTRY_URL=pantry,
        PANTRY_MCP_PANTRY_TOKEN=SERVICE_TOKEN,
        PANTRY_MCP_USER=unique("wheel-user"),
    )


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_stdio_from_the_installed_wheel(installed: Installed, pantry: str, mode: str) -> None:
    server = StdioServerParameters(
        command=str(installed.bin / "pantry-mcp"),
        args=["stdio"],
        env=stdio_env(installed, pantry),
        cwd=str(installed.home),
    )
    async with Client(server, mode=mode) as client:
        await use_it(client)


async def test_uvx_runs_the_wheel_over_stdio(installed: Installed, pantry: str) -> None:
    """``uvx --from <wheel> pantry-mcp stdio``, as a client's configuration runs it."""
    server = StdioServerParameters(
        command=str(UV),
        args=["tool", "run", "--from", str(installed.wheel), "pantry-mcp", "stdio"],
        env=stdio_env(installed, pantry),
        cwd=str(installed.home),
    )
    async with Client(server, mode="2026-07-28") as client:
        await use_it(client)


async def test_http_from_the_installed_wheel(installed: Installed, pantry: str) -> None:
    port = free_port()
    process = subprocess.Popen(  # noqa: ASYNC220 - a server process, waited on below
        [str(installed.bin / "pantry-mcp"), "serve", "--port", str(port)],
        cwd=installed.home,
        env=installed.env(
            PANTRY_MCP_PANTRY_URL=pantry,
            PANTRY_MCP_PANTRY_TOKEN=SERVICE_TOKEN,
            PANTRY_MCP_USER=unique("wheel-user"),
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
        async with Client(f"http://127.0.0.1:{port}/mcp", mode="2026-07-28") as client:
            await use_it(client)
    finally:
        stop(process)
