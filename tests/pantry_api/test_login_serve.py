"""The sign-in page in the real ``pantry-api serve`` process: the generated session secret
is kept across restarts, proxies are trusted only when configured, and the logs (at debug
level) never hold the WorkOS key, a password or a session cookie."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import anyio
import httpx2
import pytest

from pantry_api import seed
from tests.pantry_api.fake_workos import API_KEY, FakeWorkOS, redirect_for
from tests.pantry_api.login_support import (
    LOGIN,
    cookie_header,
    form_field,
    new_external_auth_id,
    open_form,
    submit,
)
from tests.support import free_port, serve_in_thread

pytestmark = pytest.mark.anyio
PANTRY_API = Path(sys.executable).parent / "pantry-api"


@contextmanager
def pantry_process(env: dict[str, str], log: Path) -> Iterator[str]:
    port = free_port()
    with log.open("ab") as output:
        process = subprocess.Popen(
            [str(PANTRY_API), "serve", "--port", str(port), "--log-level", "debug"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


async def wait_until_up(base_url: str) -> None:
    with anyio.fail_after(60):
        async with httpx2.AsyncClient(base_url=base_url, timeout=5) as client:
            while True:
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        return
                except httpx2.TransportError:
                    pass
                await anyio.sleep(0.05)


def continue_fields(page: httpx2.Response) -> dict[str, str]:
    """The hidden fields of the "Continue as" form a signed-in person is offered."""
    assert page.status_code == 200 and "Continue as" in page.text, page.text
    return {name: form_field(page.text, name) for name in ("csrf", "external_auth_id")}


async def test_serve_keeps_its_session_secret_and_logs_no_secret(tmp_path: Path) -> None:
    workos = FakeWorkOS()
    data_dir, log = tmp_path / "data", tmp_path / "pantry.log"
    with serve_in_thread(workos.app()) as fake:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PANTRY_API_DATA_DIR": str(data_dir),
            "PANTRY_API_SERVICE_TOKEN": "serve-test-service-token-0123",
            "PANTRY_API_WORKOS_API_KEY": API_KEY,
            "PANTRY_API_WORKOS_API_BASE": fake.base_url,
            "PANTRY_API_WORKOS_TIMEOUT": "2",
        }
        external_auth_id = new_external_auth_id()
        with pantry_process(env, log) as base_url:
            await wait_until_up(base_url)
            async with httpx2.AsyncClient(base_url=base_url, follow_redirects=False) as client:
                hidden = await open_form(client, external_auth_id)
                wrong = await submit(client, hidden, seed.DEMO_EMAIL, "a wrong password!")
                assert wrong.status_code == 400
                workos.mode = "error"
                failed = await submit(client, hidden, seed.DEMO_EMAIL, seed.DEMO_PASSWORD)
                assert failed.status_code == 502
                workos.mode = "ok"
                offered = await client.get(LOGIN, params={"external_auth_id": external_auth_id})
                signed_in = await client.post(
                    LOGIN, data={**continue_fields(offered), "continue": "1"}
                )
                session = client.cookies["pantry_session"]
            async with httpx2.AsyncClient(base_url=base_url) as stranger:
                not_behind_proxy = await stranger.get(
                    LOGIN,
                    params={"external_auth_id": new_external_auth_id()},
                    headers={"X-Forwarded-Proto": "https"},  # not trusted: no proxy is set
                )
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == redirect_for(external_auth_id)
        secret_file = data_dir / "session-secret"
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        assert "Secure" not in cookie_header(not_behind_proxy, "pantry_csrf")

        # Restarted with the same data dir, behind a trusted proxy on 127.0.0.1.
        with pantry_process({**env, "PANTRY_API_TRUSTED_PROXIES": "127.0.0.1"}, log) as base_url:
            await wait_until_up(base_url)
            async with httpx2.AsyncClient(base_url=base_url, follow_redirects=False) as client:
                client.cookies.set("pantry_session", session, domain="127.0.0.1", path="/auth")
                again = await client.get(LOGIN, params={"external_auth_id": external_auth_id})
                assert again.status_code == 200, again.text
            async with httpx2.AsyncClient(base_url=base_url) as stranger:
                behind_proxy = await stranger.get(
                    LOGIN,
                    params={"external_auth_id": new_external_auth_id()},
                    headers={"X-Forwarded-Proto": "https"},
                )
        assert f"Continue as {seed.DEMO_EMAIL}" in again.text  # the session outlived the restart
        assert "Secure" in cookie_header(behind_proxy, "pantry_csrf")

    with closing(sqlite3.connect(data_dir / "pantry.db")) as db:
        (stored_hash,) = db.execute("SELECT password_hash FROM accounts").fetchone()
    logs = log.read_text(encoding="utf-8")
    assert "authkit_completion_failed" in logs and "login_completed" in logs
    for secret in (
        API_KEY,
        seed.DEMO_PASSWORD,
        session,
        secret_file.read_text().strip(),
        "serve-test-service-token-0123",
        stored_hash,
    ):
        assert secret not in logs
