"""Accounts in the store: created once per user and email, verified in constant work."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Literal

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from pantry_api import seed
from pantry_api.models import PreferencesIn
from pantry_api.store import accounts
from pantry_api.store.db import Database
from pantry_api.store.tables import accounts as accounts_table
from pantry_api.store.users import ensure, preferences, replace_preferences
from tests.pantry_api.conftest import ENGINES, Api
from tests.support import unique

pytestmark = pytest.mark.anyio
PASSWORD = "a long enough password"


@pytest.fixture(params=ENGINES)
async def db(
    request: pytest.FixtureRequest, database_factory: Callable[[str], str]
) -> AsyncIterator[Database]:
    database = Database(database_factory(request.param))
    await database.migrate()
    try:
        yield database
    finally:
        await database.close()


async def create(db: Database, **fields: str | None) -> accounts.Account:
    values: dict[str, str | None] = {"email": f"{unique('cook')}@pantry.example", **fields}
    email = values.pop("email")
    password = values.pop("password", PASSWORD)
    assert email is not None and password is not None
    async with db.write() as conn:
        return await accounts.create(conn, email=email, password=password, **values)


async def verify(db: Database, email: str, password: str) -> accounts.Verified | None:
    async with db.read() as conn:
        return await accounts.verify(conn, email, password)


async def test_an_account_verifies_with_its_password_and_email_in_any_case(db: Database) -> None:
    account = await create(db, email=" Ada.Lovelace@Pantry.Example ", first_name=" Ada ")
    assert account.email == "Ada.Lovelace@Pantry.Example"
    assert (account.first_name, account.last_name) == ("Ada", None)
    assert account.user_id.startswith("user-")
    for typed in ("ada.lovelace@pantry.example", "ADA.LOVELACE@PANTRY.EXAMPLE "):
        verified = await verify(db, typed, PASSWORD)
        assert verified is not None and verified.account == account
        assert verified.new_hash is None
    assert await verify(db, account.email, PASSWORD + "!") is None
    assert await verify(db, account.email, "") is None
    assert await verify(db, "someone.else@pantry.example", PASSWORD) is None


async def test_the_stored_hash_is_argon2id_never_the_password(db: Database) -> None:
    account = await create(db)
    async with db.read() as conn:
        stored = (
            await conn.execute(
                select(accounts_table.c.password_hash).where(
                    accounts_table.c.user_id == account.user_id
                )
            )
        ).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


async def test_an_email_is_taken_whatever_its_case(db: Database) -> None:
    account = await create(db)
    with pytest.raises(accounts.EmailTaken, match="already exists"):
        await create(db, email=account.email.upper())


async def test_a_user_has_at_most_one_account_and_keeps_their_data(db: Database) -> None:
    user = unique("user")
    async with db.write() as conn:
        await ensure(conn, user)
        await replace_preferences(conn, user, PreferencesIn(dietary=["vegan"], disliked=[]))
    account = await create(db, user_id=user)
    assert account.user_id == user
    with pytest.raises(accounts.AccountExists, match=user):
        await create(db, user_id=user)
    async with db.read() as conn:
        assert (await preferences(conn, user)).dietary == ["vegan"]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"email": "not-an-email"}, "not an email address"),
        ({"email": "two@@pantry.example"}, "not an email address"),
        ({"email": "no-dot@pantry"}, "not an email address"),
        ({"email": "spaced out@pantry.example"}, "not an email address"),
        ({"password": ""}, "the password is empty"),
        ({"password": "          "}, "the password is empty"),
        ({"password": "too-short"}, "at least 10 characters"),
        ({"password": "x" * 1025}, "at most 1024 characters"),
        ({"first_name": "x" * 101}, "first name"),
        ({"last_name": "bad\nname"}, "last name"),
        ({"user_id": "has space"}, "is not a user id"),
    ],
)
async def test_bad_fields_are_refused_before_anything_is_written(
    db: Database, fields: dict[str, str], problem: str
) -> None:
    with pytest.raises(accounts.InvalidAccount, match=problem):
        await create(db, **fields)
    async with db.read() as conn:
        count = (await conn.execute(select(func.count()).select_from(accounts_table))).scalar()
    assert count == 0


async def test_a_hash_made_with_older_parameters_is_renewed_at_sign_in(db: Database) -> None:
    account = await create(db)
    dated = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    async with db.write() as conn:
        await accounts.replace_hash(conn, account.user_id, dated)
    verified = await verify(db, account.email, PASSWORD)
    assert verified is not None and verified.new_hash is not None
    assert not accounts.HASHER.check_needs_rehash(verified.new_hash)
    assert verified.account.password_stamp == accounts.password_stamp(verified.new_hash)
    async with db.write() as conn:
        await accounts.replace_hash(conn, account.user_id, verified.new_hash)
    again = await verify(db, account.email, PASSWORD)
    assert again is not None and again.new_hash is None


class CountingHasher(PasswordHasher):
    verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        CountingHasher.verified += 1
        return super().verify(hash, password)


async def test_an_unknown_email_costs_the_same_argon2_check(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = await create(db)
    monkeypatch.setattr(accounts, "HASHER", CountingHasher())
    for email in (account.email, "nobody@pantry.example"):
        CountingHasher.verified = 0
        assert await verify(db, email, "wrong password here") is None
        assert CountingHasher.verified == 1, email


async def test_an_unknown_email_is_not_answered_faster(db: Database) -> None:
    account = await create(db)
    await verify(db, "warm-up@pantry.example", PASSWORD)  # the dummy hash is made once

    async def quickest(email: str) -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            await verify(db, email, "wrong password here")
            times.append(time.perf_counter() - started)
        return min(times)

    known, unknown = await quickest(account.email), await quickest("nobody@pantry.example")
    # Without the dummy hash an unknown email answers in a database read: ~1% of the time.
    assert unknown > known * 0.5, (known, unknown)


async def test_the_seed_gives_the_demo_user_an_account(api: Api) -> None:
    database = Database(api.database_url)
    try:
        verified = await verify(database, seed.DEMO_EMAIL, seed.DEMO_PASSWORD)
    finally:
        await database.close()
    assert verified is not None
    assert verified.account.user_id == seed.DEMO_USER
    assert len(seed.DEMO_PASSWORD) >= accounts.MIN_PASSWORD_LENGTH


async def test_the_demo_account_can_be_left_out_of_the_seed(
    database_factory: Callable[[str], str],
) -> None:
    database = Database(database_factory("sqlite"))
    try:
        await database.migrate()
        async with database.write() as conn:
            assert await seed.seed_if_empty(conn, demo_account=False)
        async with database.read() as conn:
            count = (await conn.execute(select(func.count()).select_from(accounts_table))).scalar()
    finally:
        await database.close()
    assert count == 0
