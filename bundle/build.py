"""Build dist/pantry-mcp.mcpb: pantry-mcp as an MCP Bundle for Claude Desktop.

The bundle (manifest_version 0.4, server type "uv": the host brings uv, and uv a Python)
holds five files:

    manifest.json                          bundle/manifest.json with the wheel's version, its
                                           Python requirement and the tools the model sees
    server.py                              the entry point (pantry-mcp stdio)
    pantry_mcp-<version>-py3-none-any.whl  the server, as built from this checkout
    pyproject.toml                         a virtual project whose one dependency is the wheel
    uv.lock                                every dependency pinned with its hashes, at the
                                           versions of this checkout's uv.lock

On its first start, `uv run --directory <bundle> --frozen pantry-mcp stdio` (the manifest's
mcp_config) installs exactly that into <bundle>/.venv and serves MCP over stdio; the user's
settings reach the server as PANTRY_MCP_PANTRY_URL, PANTRY_MCP_PANTRY_TOKEN and
PANTRY_MCP_USER. The version lives in pyproject.toml only: it reaches the manifest through
the wheel.

Steps: take the wheel (--wheel, or the project's version from dist/, built with `uv build`
when there is none), stage the files in a temporary folder, lock, `mcpb validate`, then
`mcpb pack` into --out. The mcpb CLI is bundle/node_modules/.bin/mcpb, pinned in
bundle/package-lock.json (`make bundle` installs it with npm ci).

Usage: .venv/bin/python bundle/build.py [--wheel PATH] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from email.parser import HeaderParser
from pathlib import Path
from typing import Any

BUNDLE_DIR = Path(__file__).resolve().parent
ROOT = BUNDLE_DIR.parent
MCPB = BUNDLE_DIR / "node_modules" / ".bin" / "mcpb"
DEFAULT_OUT = ROOT / "dist" / "pantry-mcp.mcpb"
WHEEL_PATTERN = "pantry_mcp-*-py3-none-any.whl"


class BuildError(Exception):
    """A step failed; the message says which, and what to do about it."""


def run(command: list[str], cwd: Path, *, show: bool = False) -> str:
    """Run one of our tools (uv, mcpb), its output shown only when it fails (or ``show``)."""
    result = subprocess.run(  # noqa: S603 - uv and the pinned mcpb CLI, with our arguments
        command, cwd=cwd, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        name = " ".join(Path(part).name if i == 0 else part for i, part in enumerate(command[:2]))
        raise BuildError(
            f"`{name}` failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
        )
    if show:
        print(result.stdout, end="")
    return result.stdout


def uv_command() -> str:
    """The uv of the environment running this script (.venv/bin/uv), else the one on PATH."""
    beside = Path(sys.executable).parent / "uv"
    if beside.is_file():
        return str(beside)
    found = shutil.which("uv")
    if found is None:
        raise BuildError("uv is not installed: `make install` puts it in .venv/bin")
    return found


def project_version() -> str | None:
    """The version in pyproject.toml (None when it is dynamic)."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        version = tomllib.load(file).get("project", {}).get("version")
    return version if isinstance(version, str) else None


def wheel_metadata(wheel: Path) -> tuple[str, str]:
    """The version and the Requires-Python of a wheel, from its METADATA."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            names = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
            if len(names) != 1:
                raise BuildError(f"{wheel}: no single *.dist-info/METADATA in it")
            metadata = HeaderParser().parsestr(archive.read(names[0]).decode("utf-8"))
    except (OSError, zipfile.BadZipFile) as error:
        raise BuildError(f"{wheel} is not a readable wheel: {error}") from None
    version, requires_python = metadata["Version"], metadata["Requires-Python"]
    if not version or not requires_python:
        raise BuildError(f"{wheel.name}: its METADATA lacks Version or Requires-Python")
    return str(version), str(requires_python)


def find_wheel(uv: str) -> Path:
    """The wheel of the project's version in dist/; built there first when there is none."""
    dist = ROOT / "dist"

    def newest_first() -> list[Path]:
        return sorted(dist.glob(WHEEL_PATTERN), key=lambda path: path.stat().st_mtime)[::-1]

    version = project_version()
    for wheel in newest_first():
        if version is None or wheel_metadata(wheel)[0] == version:
            return wheel
    print(f"build.py: no pantry-mcp {version or ''} wheel in dist/, building it", file=sys.stderr)
    run([uv, "build", "--wheel", "--out-dir", str(dist)], ROOT)
    built = newest_first()
    if not built:
        raise BuildError(f"`uv build` wrote no {WHEEL_PATTERN} into {dist}")
    return built[0]


def model_tools(wheel: Path) -> list[dict[str, str]]:
    """The tools the model sees (name, and title as description), from the wheel's schemas;
    not those only the MCP Apps views call (``_meta.ui.visibility`` ["app"])."""
    tools: list[dict[str, str]] = []
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(archive.namelist()):
            if not (name.startswith("pantry_mcp/schemas/") and name.endswith(".json")):
                continue
            schema = json.loads(archive.read(name))
            if not isinstance(schema, dict) or "inputSchema" not in schema:
                continue  # resources.json, prompts.json
            if schema.get("_meta", {}).get("ui", {}).get("visibility") == ["app"]:
                continue
            tools.append({"name": schema["name"], "description": schema["title"]})
    if not tools:
        raise BuildError(f"{wheel.name} has no tool schemas in pantry_mcp/schemas/")
    return tools


def pinned_requirements(uv: str) -> list[str]:
    """The runtime dependencies at the versions of this checkout's uv.lock (what its tests
    ran), markers kept."""
    exported = run(
        [
            uv,
            "export",
            "--frozen",
            "--no-default-groups",
            "--no-emit-project",
            "--no-hashes",
            "--no-annotate",
            "--no-header",
            "--format",
            "requirements.txt",
        ],
        ROOT,
    )
    lines = (line.strip() for line in exported.splitlines())
    return [line for line in lines if line and not line.startswith(("#", "-"))]


def project_toml(wheel: Path, version: str, requires_python: str, pins: list[str]) -> str:
    """The bundle's pyproject.toml (JSON strings are TOML basic strings)."""
    constraints = "".join(f"    {json.dumps(pin)},\n" for pin in pins)
    return (
        "# The pantry-mcp wheel beside this file, as a virtual project: uv.lock pins every\n"
        "# package it needs, and `uv run --frozen` installs exactly those.\n"
        "[project]\n"
        'name = "pantry-mcp-bundle"\n'
        f"version = {json.dumps(version)}\n"
        f"requires-python = {json.dumps(requires_python)}\n"
        f"dependencies = [{json.dumps(f'pantry-mcp=={version}')}]\n"
        "\n"
        "[tool.uv]\n"
        "package = false\n"
        f"constraint-dependencies = [\n{constraints}]\n"
        "\n"
        "[tool.uv.sources]\n"
        f"pantry-mcp = {{ path = {json.dumps(wheel.name)} }}\n"
    )


def manifest_for(version: str, requires_python: str, tools: list[dict[str, str]]) -> str:
    manifest: dict[str, Any] = json.loads((BUNDLE_DIR / "manifest.json").read_text("utf-8"))
    manifest["version"] = version
    manifest.setdefault("compatibility", {}).setdefault("runtimes", {})["python"] = requires_python
    manifest["tools"] = tools
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


def build(wheel: Path, out: Path, uv: str) -> None:
    if not MCPB.is_file():
        raise BuildError(f"{MCPB} is missing: `make bundle` installs it (npm ci in {BUNDLE_DIR})")
    version, requires_python = wheel_metadata(wheel)
    pins = pinned_requirements(uv)
    with tempfile.TemporaryDirectory(prefix="pantry-mcp-bundle-") as folder:
        stage = Path(folder) / "pantry-mcp"
        stage.mkdir()
        shutil.copyfile(wheel, stage / wheel.name)
        shutil.copyfile(BUNDLE_DIR / "server.py", stage / "server.py")
        (stage / "pyproject.toml").write_text(
            project_toml(wheel, version, requires_python, pins), "utf-8"
        )
        run([uv, "lock", "--quiet"], stage)
        (stage / "manifest.json").write_text(
            manifest_for(version, requires_python, model_tools(wheel)), "utf-8"
        )
        run([str(MCPB), "validate", str(stage / "manifest.json")], stage)
        out.parent.mkdir(parents=True, exist_ok=True)
        run([str(MCPB), "pack", str(stage), str(out)], stage, show=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the MCP Bundle of pantry-mcp.")
    parser.add_argument(
        "--wheel",
        type=Path,
        help="the pantry-mcp wheel to bundle (default: the project's version in dist/, "
        "built when missing)",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT.relative_to(ROOT)}"
    )
    args = parser.parse_args(argv)
    try:
        uv = uv_command()
        wheel = args.wheel.resolve() if args.wheel else find_wheel(uv)
        build(wheel, args.out.resolve(), uv)
    except BuildError as error:
        print(f"build.py: {error}", file=sys.stderr)
        return 1
    print(f"build.py: wrote {args.out} from {wheel.name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
