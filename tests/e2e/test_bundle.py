"""The MCP Bundle for Claude Desktop (bundle/build.py, `make bundle`), used as Claude Desktop
uses it.

bundle/build.py packs a wheel built from this checkout; the mcpb CLI pinned in
bundle/package-lock.json validates the manifest and unpacks the bundle; the mcpb library's
own ``getMcpConfigForManifest`` (the code Claude Desktop runs) fills the user's settings and
``${__dirname}`` into the manifest's mcp_config; the official MCP client then starts the
server from the unpacked files, outside the checkout, with nothing of it on any path. The
host of a "uv" bundle brings uv: here, the project's uv is the only tool on PATH.

Without bundle/node_modules (or without node) these tests skip with the reason printed,
unless PANTRY_TEST_REQUIRE_NODE=1, when they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters

from tests.support import (
    LISTED_TOOL_NAMES,
    SERVICE_TOKEN,
    TOOL_NAMES,
    RunningServer,
    text_of,
    unique,
)

ROOT = Path(__file__).resolve().parents[2]
BUNDLE_DIR = ROOT / "bundle"
NODE_MODULES = BUNDLE_DIR / "node_modules"
MCPB_PACKAGE = NODE_MODULES / "@anthropic-ai" / "mcpb"
BUILD_TIMEOUT = 120  # seconds for the wheel, the lock and the pack together (~3 s here)
START_TIMEOUT = 60  # seconds for a first start: uv installs ~60 packages, from its cache here
# What a host adds around the manifest's env, taken from this machine: how it reaches the
# package index (certificates, proxies, uv's cache and index settings). Nothing else.
NETWORK_SETTINGS = {
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "UV_CACHE_DIR",
    "UV_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_INDEX",
    "UV_EXTRA_INDEX_URL",
    "UV_NATIVE_TLS",
    "UV_SYSTEM_CERTS",
    "UV_OFFLINE",
    "UV_HTTP_TIMEOUT",
    "UV_PYTHON_INSTALL_DIR",
}
# Claude Desktop's call, in the mcpb library it runs: the manifest's mcp_config with the
# user's settings (defaults first) and ${__dirname} filled in; null when a required setting
# is missing (the host then does not start the server).
HOST_CONFIG_JS = """
const [library, manifestPath, extensionPath, userConfig] = process.argv.slice(1);
const { getMcpConfigForManifest } = await import(library);
const fs = await import("node:fs");
const config = await getMcpConfigForManifest({
  manifest: JSON.parse(fs.readFileSync(manifestPath, "utf8")),
  extensionPath,
  systemDirs: { HOME: process.env.HOME ?? "" },
  userConfig: JSON.parse(userConfig),
  pathSeparator: "/",
});
process.stdout.write(JSON.stringify(config ?? null));
"""


@dataclass(frozen=True)
class Mcpb:
    node: str
    cli: Path  # the mcpb CLI's JS entry
    library: str  # file URL of the library Claude Desktop uses

    def run(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.node, str(self.cli), *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
            check=False,
        )


@dataclass(frozen=True)
class Unpacked:
    archive: Path  # the .mcpb
    folder: Path  # where it was unpacked: the extension's ${__dirname}
    manifest: dict[str, Any]


def require_mcpb() -> Mcpb:
    """The pinned mcpb CLI and library; skip (printed with -ra) without them, fail if
    PANTRY_TEST_REQUIRE_NODE=1."""
    node = shutil.which("node")
    package = MCPB_PACKAGE / "package.json"
    if node is not None and package.is_file():
        info = json.loads(package.read_text("utf-8"))
        library = (MCPB_PACKAGE / info["exports"]["."]["import"]).resolve()
        return Mcpb(node, MCPB_PACKAGE / str(info["bin"]), library.as_uri())
    if NODE_MODULES.is_dir() and node is not None:
        pytest.fail(f"{package} is missing: reinstall with `npm ci` in {BUNDLE_DIR}")
    if node is None:
        reason = "node is not on PATH: the mcpb CLI needs Node.js (20 or later)"
    else:
        reason = (
            f"{NODE_MODULES} is missing: `make bundle` installs the mcpb CLI "
            f"(or run `npm ci` in {BUNDLE_DIR})"
        )
    if os.environ.get("PANTRY_TEST_REQUIRE_NODE") == "1":
        pytest.fail(f"PANTRY_TEST_REQUIRE_NODE=1 but {reason}")
    pytest.skip(reason)


def checked(proc: subprocess.CompletedProcess[str], what: str) -> str:
    assert proc.returncode == 0, f"{what} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def mcpb() -> Mcpb:
    return require_mcpb()


@pytest.fixture(scope="module")
def unpacked(mcpb: Mcpb, tmp_path_factory: pytest.TempPathFactory) -> Unpacked:
    """bundle/build.py's bundle of a wheel built from this checkout (into a temporary folder,
    not dist/), unpacked by the mcpb CLI as a host installs it."""
    work = tmp_path_factory.mktemp("bundle")
    uv = str(Path(sys.executable).parent / "uv")
    checked(
        subprocess.run(
            [uv, "build", "--wheel", "--out-dir", str(work / "dist")],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
            check=False,
        ),
        "uv build --wheel",
    )
    (wheel,) = (work / "dist").glob("pantry_mcp-*-py3-none-any.whl")
    archive = work / "pantry-mcp.mcpb"
    checked(
        subprocess.run(
            [sys.executable, "bundle/build.py", "--wheel", str(wheel), "--out", str(archive)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
            check=False,
        ),
        "bundle/build.py",
    )
    folder = work / "extension"
    checked(mcpb.run("unpack", str(archive), str(folder), cwd=work), "mcpb unpack")
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    return Unpacked(archive, folder, manifest)


async def host_config(
    mcpb: Mcpb, bundle: Unpacked, settings: dict[str, str]
) -> dict[str, Any] | None:
    """The command, args and env Claude Desktop starts the server with, for these settings."""
    proc = await anyio.run_process(
        [
            mcpb.node,
            "--input-type=module",
            "-e",
            HOST_CONFIG_JS,
            "--",
            mcpb.library,
            str(bundle.folder / "manifest.json"),
            str(bundle.folder),
            json.dumps(settings),
        ],
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    config: dict[str, Any] | None = json.loads(proc.stdout)
    return config


def host_environment(tmp_path: Path) -> dict[str, str]:
    """What the host of a "uv" bundle adds to the manifest's env: uv, and nothing else of
    ours, on PATH; this machine's network settings; the Python uv installs into (this
    machine's, so that the packages come from uv's cache)."""
    tools = tmp_path / "host-bin"
    tools.mkdir()
    (tools / "uv").symlink_to(Path(sys.executable).parent / "uv")
    env = {key: value for key, value in os.environ.items() if key in NETWORK_SETTINGS}
    env["PATH"] = os.pathsep.join([str(tools), "/usr/bin", "/bin"])
    python = Path(sys.base_prefix) / "bin" / "python3"
    if python.is_file():
        env["UV_PYTHON"] = str(python)
    return env


def server_parameters(
    config: dict[str, Any], host_env: dict[str, str], cwd: Path
) -> StdioServerParameters:
    command = shutil.which(config["command"], path=host_env["PATH"])
    assert command is not None, f"{config['command']!r} is not on the host's PATH"
    env = {**config.get("env", {}), **host_env}
    assert not {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"} & env.keys()
    assert not cwd.resolve().is_relative_to(ROOT)
    return StdioServerParameters(command=command, args=config["args"], env=env, cwd=cwd)


def test_the_packed_manifest_validates_and_the_bundle_holds_only_the_server(
    mcpb: Mcpb, unpacked: Unpacked
) -> None:
    validated = checked(
        mcpb.run("validate", str(unpacked.folder / "manifest.json"), cwd=unpacked.folder),
        "mcpb validate",
    )
    assert "validation passes" in validated

    manifest = unpacked.manifest
    with (ROOT / "pyproject.toml").open("rb") as file:
        project = tomllib.load(file)["project"]
    assert manifest["manifest_version"] == "0.4"
    assert manifest["version"] == project["version"]  # the one version, through the wheel
    assert manifest["compatibility"]["runtimes"]["python"] == project["requires-python"]
    assert manifest["server"]["type"] == "uv"
    assert manifest["server"]["mcp_config"]["command"] == "uv"
    assert {tool["name"] for tool in manifest["tools"]} == set(TOOL_NAMES)
    settings = manifest["user_config"]
    assert settings["pantry_token"]["sensitive"] is True
    assert settings["pantry_token"]["required"] is True
    assert settings["pantry_url"]["default"] == "http://127.0.0.1:8001"
    assert settings["pantry_user"]["default"] == "demo"
    assert [key for key, option in settings.items() if option.get("sensitive")] == ["pantry_token"]

    with zipfile.ZipFile(unpacked.archive) as archive:
        names = archive.namelist()
    wheel = f"pantry_mcp-{manifest['version']}-py3-none-any.whl"
    assert sorted(names) == sorted(
        ["manifest.json", "server.py", "pyproject.toml", "uv.lock", wheel]
    )
    assert not [name for name in names if "node_modules" in name or "tests" in name.split("/")]
    with zipfile.ZipFile(unpacked.folder / wheel) as inner:
        tops = {name.split("/")[0] for name in inner.namelist()}
    assert tops == {"pantry_mcp", "pantry_api", f"pantry_mcp-{manifest['version']}.dist-info"}
    lock = tomllib.loads((unpacked.folder / "uv.lock").read_text("utf-8"))
    (server,) = [p for p in lock["package"] if p["name"] == "pantry-mcp"]
    assert server["source"] == {"path": wheel}  # the bundled wheel, never an index's


@pytest.mark.anyio
async def test_without_the_credential_claude_desktop_does_not_start_it(
    mcpb: Mcpb, unpacked: Unpacked
) -> None:
    assert await host_config(mcpb, unpacked, {}) is None
    config = await host_config(mcpb, unpacked, {"pantry_token": "a-token"})
    assert config is not None
    assert config["env"] == {
        "PANTRY_MCP_PANTRY_URL": "http://127.0.0.1:8001",
        "PANTRY_MCP_PANTRY_TOKEN": "a-token",
        "PANTRY_MCP_USER": "demo",
    }


@pytest.mark.anyio
async def test_the_unpacked_bundle_serves_as_claude_desktop_starts_it(
    mcpb: Mcpb, unpacked: Unpacked, pantry_server: RunningServer, tmp_path: Path
) -> None:
    user = unique("bundle-user")
    settings = {
        "pantry_url": pantry_server.base_url,
        "pantry_token": SERVICE_TOKEN,
        "pantry_user": user,
    }
    config = await host_config(mcpb, unpacked, settings)
    assert config is not None
    assert config["args"] == [
        "run",
        "--directory",
        str(unpacked.folder),
        "--frozen",
        "pantry-mcp",
        "stdio",
    ]
    assert config["env"] == {
        "PANTRY_MCP_PANTRY_URL": pantry_server.base_url,
        "PANTRY_MCP_PANTRY_TOKEN": SERVICE_TOKEN,
        "PANTRY_MCP_USER": user,
    }
    params = server_parameters(config, host_environment(tmp_path), tmp_path)
    # Claude Desktop speaks the initialize handshake (the 2025-11-25 era).
    with anyio.fail_after(START_TIMEOUT):
        async with Client(params, mode="legacy") as client:
            tools = await client.list_tools()
            assert [tool.name for tool in tools.tools] == list(LISTED_TOOL_NAMES)
            found = await client.call_tool("search_recipes", {"query": "soup"})
            assert not found.is_error, text_of(found.content[0])
            assert found.structured_content is not None
            assert found.structured_content["total"] > 0
            eggs = {"action": "add", "ingredient": "eggs", "quantity": 6, "unit": "piece"}
            bought = await client.call_tool("update_pantry", {"changes": [eggs]})
            assert not bought.is_error, text_of(bought.content[0])
    # The Pantry user setting took: the eggs are that user's, in Pantry itself.
    headers = {"Authorization": f"Bearer {SERVICE_TOKEN}", "X-Pantry-User": user}
    async with httpx2.AsyncClient(base_url=pantry_server.base_url, headers=headers) as http:
        items = (await http.get("/pantry")).json()["items"]
    assert any("egg" in json.dumps(item) for item in items), items


@pytest.mark.anyio
async def test_the_entry_point_serves_the_same_server(
    unpacked: Unpacked, pantry_server: RunningServer, tmp_path: Path
) -> None:
    """A host that runs a "uv" bundle by its entry point (`uv run <entry_point>` in the
    bundle) gets the same server, configured by the same variables."""
    host_env = host_environment(tmp_path)
    config = {
        "command": "uv",
        "args": [
            "run",
            "--directory",
            str(unpacked.folder),
            "--frozen",
            unpacked.manifest["server"]["entry_point"],
        ],
        "env": {
            "PANTRY_MCP_PANTRY_URL": pantry_server.base_url,
            "PANTRY_MCP_PANTRY_TOKEN": SERVICE_TOKEN,
            "PANTRY_MCP_USER": unique("bundle-entry"),
        },
    }
    with anyio.fail_after(START_TIMEOUT):
        async with Client(server_parameters(config, host_env, tmp_path), mode="legacy") as client:
            tools = await client.list_tools()
            assert len(tools.tools) == len(LISTED_TOOL_NAMES)
            found = await client.call_tool("search_recipes", {"query": "soup"})
            assert not found.is_error, text_of(found.content[0])
