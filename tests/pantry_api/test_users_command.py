"""``pantry-api users create``, run as an operator would: a real subprocess."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pantry_api.store import accounts
from pantry_api.store.db import Database
from tests.pantry_api.conftest import ENGINES
from tests.support import unique

pytestmark = pytest.mark.anyio
PANTRY_API = Path(sys.executable).parent / "pantry-api"
PASSWORD = "a sturdy password 42"


def environment(database_url: str, data_dir: Path) -> dict[str, str]:
    return {
        "PANTRY_API_DATABASE_URL": database_url,
        "PANTRY_API_DATA_DIR": str(data_dir),
        "PATH": os.environ.get("PATH", ""),
    }


def create(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PANTRY_API), "users", "create", *args],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def verify(database_url: str, email: str, password: str) -> accounts.Account | None:
    db = Database(database_url)
    try:
        await db.migrate()  # a refused command may have left the database untouched
        async with db.read() as conn:
            verified = await accounts.verify(conn, email, password)
    finally:
        await db.close()
    return verified.account if verified is not None else None


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.stderr.endswith("\n") and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("pantry-api: ") and "Traceback" not in result.stderr
    return result.stderr


@pytest.mark.parametrize("engine", ENGINES)
async def test_create_reads_the_password_from_stdin(
    engine: str, database_factory: Callable[[str], str], tmp_path: Path
) -> None:
    database_url = database_factory(engine)
    user_id, email = unique("cook"), f"{unique('Cook')}@Pantry.example"
    result = create(
        environment(database_url, tmp_path),
        *("--email", email, "--first-name", "Grace", "--last-name", "Hopper"),
        *("--user-id", user_id, "--password-stdin"),
        stdin=PASSWORD + "\n",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"created an account for {email}: Pantry user {user_id}\n"
    assert PASSWORD not in result.stdout + result.stderr
    account = await verify(database_url, email.lower(), PASSWORD)
    assert account is not None
    assert (account.user_id, account.first_name, account.last_name) == (user_id, "Grace", "Hopper")


def run_with_terminal(env: dict[str, str], email: str, answers: list[str]) -> tuple[int, str]:
    """Run ``users create`` on a pseudo-terminal, typing each answer after its prompt."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [str(PANTRY_API), "users", "create", "--email", email],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
        start_new_session=True,  # no controlling terminal: getpass uses stdin, our pty
    )
    os.close(terminal)
    seen = b""
    deadline = time.monotonic() + 60
    try:
        for prompt, answer in zip((b"Password: ", b"Password (again): "), answers, strict=False):
            while prompt not in seen:
                seen += _read(controller, deadline)
            seen = seen.split(prompt, 1)[1]
            os.write(controller, answer.encode() + b"\n")
        code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
        while chunk := _read(controller, deadline, eof_ok=True):
            seen += chunk
    finally:
        process.kill()
        process.wait()
        os.close(controller)
    return code, seen.decode(errors="replace")


def _read(fd: int, deadline: float, *, eof_ok: bool = False) -> bytes:
    remaining = deadline - time.monotonic()
    ready, _, _ = select.select([fd], [], [], max(0.0, remaining))
    if not ready:
        if eof_ok:
            return b""
        raise AssertionError("users create did not prompt in time")
    try:
        return os.read(fd, 4096)
    except OSError:  # the child closed the terminal
        if eof_ok:
            return b""
        raise


async def test_create_asks_twice_on_a_terminal(
    database_factory: Callable[[str], str], tmp_path: Path
) -> None:
    database_url = database_factory("sqlite")
    email = f"{unique('typed')}@pantry.example"
    code, output = run_with_terminal(
        environment(database_url, tmp_path), email, [PASSWORD, PASSWORD]
    )
    assert code == 0, output
    assert PASSWORD not in output  # not echoed
    assert f"created an account for {email}" in output
    account = await verify(database_url, email, PASSWORD)
    assert account is not None and account.user_id.startswith("user-")


async def test_two_different_answers_create_nothing(
    database_factory: Callable[[str], str], tmp_path: Path
) -> None:
    database_url = database_factory("sqlite")
    email = f"{unique('typo')}@pantry.example"
    code, output = run_with_terminal(
        environment(database_url, tmp_path), email, [PASSWORD, PASSWORD + "?"]
    )
    assert code == 2
    assert "pantry-api: the two passwords differ; no account created" in output
    assert await verify(database_url, email, PASSWORD) is None


async def test_a_taken_email_or_a_user_with_an_account_is_exit_1(
    database_factory: Callable[[str], str], tmp_path: Path
) -> None:
    env = environment(database_factory("sqlite"), tmp_path)
    email, user_id = f"{unique('first')}@pantry.example", unique("cook")
    first = create(env, "--email", email, "--user-id", user_id, "--password-stdin", stdin=PASSWORD)
    assert first.returncode == 0, first.stderr
    taken = create(env, "--email", email.upper(), "--password-stdin", stdin=PASSWORD)
    assert taken.returncode == 1
    assert one_line(taken) == f"pantry-api: an account with email {email.upper()} already exists\n"
    again = create(
        env,
        "--email",
        f"{unique('other')}@pantry.example",
        "--user-id",
        user_id,
        "--password-stdin",
        stdin=PASSWORD,
    )
    assert again.returncode == 1
    assert one_line(again) == f"pantry-api: user {user_id} already has an account\n"


@pytest.mark.parametrize(
    ("args", "stdin", "problem"),
    [
        (("--password-stdin",), "", "the password is empty"),
        (("--password-stdin",), "   \n", "the password is empty"),
        (("--password-stdin",), "short\n", "the password must be at least 10 characters"),
        (("--password-stdin",), "first line ok\nsecond\n", "reads one line"),
        ((), None, "no terminal to ask for the password on; use --password-stdin"),
    ],
)
def test_a_weak_or_missing_password_is_exit_2(
    database_factory: Callable[[str], str],
    tmp_path: Path,
    args: tuple[str, ...],
    stdin: str | None,
    problem: str,
) -> None:
    env = environment(database_factory("sqlite"), tmp_path)
    result = create(env, "--email", "weak@pantry.example", *args, stdin=stdin)
    assert result.returncode == 2
    assert problem in one_line(result)
    assert result.stdout == ""


def test_bad_input_is_exit_2_before_any_password_is_asked_for(tmp_path: Path) -> None:
    env = environment(f"sqlite:///{tmp_path / 'never.db'}", tmp_path)
    bad_email = create(env, "--email", "not-an-email")
    assert bad_email.returncode == 2 and "is not an email address" in one_line(bad_email)
    bad_user = create(env, "--email", "a@pantry.example", "--user-id", "two words")
    assert bad_user.returncode == 2 and "is not a user id" in one_line(bad_user)
    as_argument = create(env, "--email", "a@pantry.example", "--password", PASSWORD)
    assert as_argument.returncode == 2 and "unrecognized arguments" in as_argument.stderr
    assert not (tmp_path / "never.db").exists()


def test_an_unreachable_database_is_exit_1_without_its_url(tmp_path: Path) -> None:
    url = "postgresql://operator:hunter2-secret@127.0.0.1:1/pantry"
    result = create(
        environment(url, tmp_path),
        "--email",
        "a@pantry.example",
        "--password-stdin",
        stdin=PASSWORD,
    )
    assert result.returncode == 1
    assert "could not use the database" in one_line(result)
    assert "hunter2-secret" not in result.stderr
