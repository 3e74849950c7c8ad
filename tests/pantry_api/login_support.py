"""Shared pieces of the sign-in page tests: a Pantry wired to a fake WorkOS, browsers, forms."""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx2

from pantry_api.app import create_app
from pantry_api.store import accounts
from pantry_api.store.db import Database
from tests.pantry_api.conftest import settings_for
from tests.pantry_api.fake_workos import API_KEY, FakeWorkOS
from tests.support import serve_in_thread, unique

SESSION_SECRET = "tests-session-secret-0123456789abcdefghij"
PASSWORD = "correct horse battery"
LOGIN = "/auth/login"
NO_MATCH = "That email and password do not match."
WORKOS_TIMEOUT = "0.5"


@dataclass(frozen=True)
class World:
    """A Pantry whose sign-in page completes against ``workos``."""

    base_url: str
    database_url: str
    workos: FakeWorkOS


@contextmanager
def running_world(database_url: str, *, workos_base: str | None = None) -> Iterator[World]:
    """A fake WorkOS and a Pantry (not seeded) on ``database_url`` that calls it; or, with
    ``workos_base``, a Pantry that calls that address instead."""
    workos = FakeWorkOS()
    with serve_in_thread(workos.app()) as fake:
        settings = settings_for(
            database_url,
            PANTRY_API_SEED="false",
            PANTRY_API_WORKOS_API_KEY=API_KEY,
            PANTRY_API_WORKOS_API_BASE=workos_base or fake.base_url,
            PANTRY_API_WORKOS_TIMEOUT=WORKOS_TIMEOUT,
            PANTRY_API_SESSION_SECRET=SESSION_SECRET,
        )
        with serve_in_thread(create_app(settings)) as pantry:
            yield World(pantry.base_url, database_url, workos)


def new_external_auth_id() -> str:
    return f"ext_auth_01{secrets.token_hex(12).upper()}"


def new_address() -> str:
    """A client address of its own, so one test's failures never limit another's."""
    return f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


def browser(world: World, *, address: str | None = None, https: bool = False) -> httpx2.AsyncClient:
    """A cookie-keeping client that does not follow redirects; the test server trusts its
    X-Forwarded-* headers (uvicorn's default for a 127.0.0.1 peer)."""
    headers = {"X-Forwarded-For": address or new_address()}
    if https:
        headers["X-Forwarded-Proto"] = "https"
    return httpx2.AsyncClient(
        base_url=world.base_url, headers=headers, follow_redirects=False, timeout=30
    )


@dataclass(frozen=True)
class Person:
    user_id: str
    email: str
    password: str
    first_name: str | None
    last_name: str | None


async def make_person(
    world: World, *, first_name: str | None = "Ada", last_name: str | None = "Lovelace"
) -> Person:
    email = f"{unique('cook')}@pantry.example"
    db = Database(world.database_url)
    try:
        async with db.write() as conn:
            account = await accounts.create(
                conn,
                email=email,
                password=PASSWORD,
                first_name=first_name,
                last_name=last_name,
                user_id=unique("user"),
            )
    finally:
        await db.close()
    return Person(account.user_id, email, PASSWORD, first_name, last_name)


def form_field(page: str, name: str) -> str:
    found = re.search(rf'name="{name}"[^>]*value="([^"]*)"', page)
    assert found is not None, f"no {name} field in the page"
    return html.unescape(found.group(1))


async def open_form(client: httpx2.AsyncClient, external_auth_id: str) -> dict[str, str]:
    """GET the sign-in page; the form's hidden fields."""
    page = await client.get(LOGIN, params={"external_auth_id": external_auth_id})
    assert page.status_code == 200, page.text
    return {
        "csrf": form_field(page.text, "csrf"),
        "external_auth_id": form_field(page.text, "external_auth_id"),
    }


async def submit(
    client: httpx2.AsyncClient, hidden: dict[str, str], email: str, password: str
) -> httpx2.Response:
    return await client.post(LOGIN, data={**hidden, "email": email, "password": password})


async def sign_in(
    client: httpx2.AsyncClient, person: Person, external_auth_id: str | None = None
) -> httpx2.Response:
    hidden = await open_form(client, external_auth_id or new_external_auth_id())
    return await submit(client, hidden, person.email, person.password)


def cookie_header(response: httpx2.Response, name: str) -> str:
    for value in response.headers.get_list("set-cookie"):
        if value.startswith(f"{name}="):
            return value
    raise AssertionError(f"no Set-Cookie for {name}")
