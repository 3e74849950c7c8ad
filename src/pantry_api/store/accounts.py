"""Accounts: a Pantry user who signs in with an email and a password.

An account belongs to one row of ``users`` (its id is the acting-user id the tools act
as). Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's low-memory
profile); a hash made with older parameters is replaced at the next good sign-in.

:func:`verify` costs one argon2 verification whether or not the email exists (an unknown
email is checked against a dummy hash), so its timing does not reveal who has an account.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cache

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from pantry_api.ids import new_id
from pantry_api.middleware import USER_PATTERN
from pantry_api.store.common import now
from pantry_api.store.tables import accounts
from pantry_api.store.users import ensure as ensure_user

HASHER = PasswordHasher()
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; this only bounds the work per request
MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 100
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class AccountError(ValueError):
    """An account cannot be created as asked; the message says why, for a person."""


class InvalidAccount(AccountError):
    """A field is malformed (email, password, name or user id)."""


class EmailTaken(AccountError):
    """Another account already signs in with this email."""


class AccountExists(AccountError):
    """The user already has an account."""


@dataclass(frozen=True)
class Account:
    user_id: str
    email: str
    first_name: str | None
    last_name: str | None
    # Changes whenever the password hash does: a session cookie carries it, so a new
    # password (or a new hash) ends every older session.
    password_stamp: str = field(repr=False)


@dataclass(frozen=True)
class Verified:
    account: Account
    new_hash: str | None = field(default=None, repr=False)  # store it: the old one is dated


def email_key(email: str) -> str:
    return email.strip().lower()


def check_email(email: str) -> str:
    """The email, trimmed, or :class:`InvalidAccount` saying what is wrong with it."""
    email = email.strip()
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.match(email) or _CONTROL.search(email):
        raise InvalidAccount(f"{email!r} is not an email address")
    return email


def check_password(password: str) -> str:
    if not password.strip():
        raise InvalidAccount("the password is empty")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidAccount(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidAccount(f"the password must be at most {MAX_PASSWORD_LENGTH} characters")
    return password


def check_name(name: str | None, what: str) -> str | None:
    name = (name or "").strip()
    if len(name) > MAX_NAME_LENGTH or _CONTROL.search(name):
        raise InvalidAccount(f"the {what} must be at most {MAX_NAME_LENGTH} printable characters")
    return name or None


def check_user_id(user_id: str) -> str:
    if not USER_PATTERN.match(user_id):
        raise InvalidAccount(
            f"{user_id!r} is not a user id: 1 to 128 letters, digits or ._:@|+- "
            "(starting with a letter or digit)"
        )
    return user_id


def password_stamp(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:24]


async def create(
    conn: AsyncConnection,
    *,
    email: str,
    password: str,
    first_name: str | None = None,
    last_name: str | None = None,
    user_id: str | None = None,
) -> Account:
    """Create an account (and its user row when new); raises :class:`AccountError`."""
    email = check_email(email)
    check_password(password)
    first_name = check_name(first_name, "first name")
    last_name = check_name(last_name, "last name")
    user_id = check_user_id(user_id) if user_id is not None else new_id("user")
    key = email_key(email)
    taken = select(accounts.c.user_id).where(accounts.c.email_key == key)
    if (await conn.execute(taken)).first() is not None:
        raise EmailTaken(f"an account with email {email} already exists")
    existing = select(accounts.c.user_id).where(accounts.c.user_id == user_id)
    if (await conn.execute(existing)).first() is not None:
        raise AccountExists(f"user {user_id} already has an account")
    password_hash = await anyio.to_thread.run_sync(HASHER.hash, password)
    await ensure_user(conn, user_id)
    stamp = now()
    await conn.execute(
        insert(accounts).values(
            user_id=user_id,
            email=email,
            email_key=key,
            password_hash=password_hash,
            first_name=first_name,
            last_name=last_name,
            created_at=stamp,
            updated_at=stamp,
        )
    )
    return Account(user_id, email, first_name, last_name, password_stamp(password_hash))


async def get(conn: AsyncConnection, user_id: str) -> Account | None:
    row = (await conn.execute(select(accounts).where(accounts.c.user_id == user_id))).first()
    if row is None:
        return None
    return Account(
        row.user_id, row.email, row.first_name, row.last_name, password_stamp(row.password_hash)
    )


async def verify(conn: AsyncConnection, email: str, password: str) -> Verified | None:
    """The account when the password is right, else None; the same work either way.

    Reads only: a caller that gets ``new_hash`` stores it with :func:`replace_hash` in its
    write transaction (hashing is slow; it should not hold the write lock).
    """
    key = email_key(email[:MAX_EMAIL_LENGTH])
    row = (await conn.execute(select(accounts).where(accounts.c.email_key == key))).first()
    stored = row.password_hash if row is not None else _dummy_hash()
    matches, new_hash = await anyio.to_thread.run_sync(
        _check, stored, password[:MAX_PASSWORD_LENGTH]
    )
    if row is None or not matches:
        return None
    stamp = password_stamp(new_hash or row.password_hash)
    return Verified(Account(row.user_id, row.email, row.first_name, row.last_name, stamp), new_hash)


async def replace_hash(conn: AsyncConnection, user_id: str, password_hash: str) -> None:
    await conn.execute(
        update(accounts)
        .where(accounts.c.user_id == user_id)
        .values(password_hash=password_hash, updated_at=now())
    )


def _check(stored: str, password: str) -> tuple[bool, str | None]:
    """Whether the password matches, and a fresh hash when the stored one is dated."""
    try:
        HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False, None
    return True, HASHER.hash(password) if HASHER.check_needs_rehash(stored) else None


@cache
def _dummy_hash() -> str:
    # Made with the live parameters, so checking it costs what a real check costs.
    return HASHER.hash("pantry: no account has this password")
