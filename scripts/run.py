"""``make run``: Pantry and the MCP server on 127.0.0.1, sharing one generated service token.

Starts each service as a child process, waits until it answers, and stops all of them
on Ctrl-C (or when any one exits).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent
API_URL = "http://127.0.0.1:8001"
MCP_URL = "http://127.0.0.1:8000"


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback only
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.2)
    return False


def main() -> int:
    env = dict(os.environ)
    env.setdefault("PANTRY_API_SERVICE_TOKEN", secrets.token_urlsafe(32))
    env.setdefault("PANTRY_MCP_PANTRY_TOKEN", env["PANTRY_API_SERVICE_TOKEN"])
    env.setdefault("PANTRY_MCP_PANTRY_URL", API_URL)
    # One process: a key for this run seals its questions to the person (no start-up warning).
    env.setdefault("PANTRY_MCP_REQUEST_STATE_KEY", secrets.token_urlsafe(48))
    children: list[subprocess.Popen[bytes]] = []
    try:
        api = subprocess.Popen(  # noqa: S603 - our own console script
            [str(BIN / "pantry-api"), "serve", "--host", "127.0.0.1", "--port", "8001"], env=env
        )
        children.append(api)
        if not wait_until_up(f"{API_URL}/healthz", api):
            print("make run: pantry-api did not come up; see its log above", file=sys.stderr)
            return 1
        mcp = subprocess.Popen(  # noqa: S603 - our own console script
            [str(BIN / "pantry-mcp"), "serve", "--host", "127.0.0.1", "--port", "8000"], env=env
        )
        children.append(mcp)
        if not wait_until_up(f"{MCP_URL}/healthz", mcp):
            print("make run: pantry-mcp did not come up; see its log above", file=sys.stderr)
            return 1
        print(
            f"\nmake run: Pantry API on {API_URL} (OpenAPI at {API_URL}/openapi.json)\n"
            f"make run: MCP endpoint {MCP_URL}/mcp, acting as user "
            f"{env.get('PANTRY_MCP_USER', 'demo')!r}\n"
            "make run: connect an MCP client, or the Inspector "
            f"(npx @modelcontextprotocol/inspector), to {MCP_URL}/mcp\n"
            "make run: press Ctrl-C to stop\n",
            file=sys.stderr,
        )
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    raise SystemExit(main())
