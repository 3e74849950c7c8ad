"""``pantry-api users create``: an account an operator makes for a person.

The password never comes from an argument (it would stay in shell history and show in
``ps``): it is asked for twice on the terminal, or read from stdin (one line) with
``--password-stdin``.

Exit codes: 0 created; 1 not possible as things stand (the email is taken, the user has an
account already, the database cannot be used); 2 bad input (email, password, name or user
id), said in one line on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from pantry_api.config import Settings
from pantry_api.errors import ServiceUnavailable
from pantry_api.store import accounts
from pantry_api.store.accounts import Account, AccountError, InvalidAccount
from pantry_api.store.db import Database

CANCELLED = 130


def add_users_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = commands.add_parser("users", help="manage the accounts people sign in with")
    actions = users.add_subparsers(dest="users_command", required=True)
    create = actions.add_parser(
        "create", help="create an account; the password is asked for, never an argument"
    )
    create.add_argument("--email", required=True, help="the email the person signs in with")
    create.add_argument("--first-name", help="sent to AuthKit with the email")
    create.add_argument("--last-name", help="sent to AuthKit with the email")
    create.add_argument(
        "--user-id",
        help="the Pantry user to give the account to (default: a new user); "
        "an existing user keeps their pantry and plans",
    )
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from stdin (one line) instead of asking on the terminal",
    )
    create.set_defaults(run=_create)


def _fail(message: str, code: int) -> int:
    print(f"pantry-api: {message}", file=sys.stderr)
    return code


def _create(args: argparse.Namespace, settings: Settings) -> int:
    try:
        # Check what can be checked before asking for a password.
        accounts.check_email(args.email)
        accounts.check_name(args.first_name, "first name")
        accounts.check_name(args.last_name, "last name")
        if args.user_id is not None:
            accounts.check_user_id(args.user_id)
        password = _read_password(from_stdin=args.password_stdin)
    except InvalidAccount as error:
        return _fail(str(error), 2)
    except (KeyboardInterrupt, EOFError):
        return _fail("cancelled: no account created", CANCELLED)
    try:
        account = asyncio.run(_store(settings, args, password))
    except AccountError as error:
        return _fail(str(error), 1)
    except IntegrityError:
        return _fail("another account for this email or user was created just now", 1)
    except ServiceUnavailable as error:
        return _fail(error.message, 1)
    except (OSError, SQLAlchemyError) as error:
        return _fail(
            f"could not use the database ({type(error).__name__}); check PANTRY_API_DATABASE_URL",
            1,
        )
    print(f"created an account for {account.email}: Pantry user {account.user_id}")
    return 0


def _read_password(*, from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.read().removesuffix("\n").removesuffix("\r")
        if "\n" in line:
            raise InvalidAccount("--password-stdin reads one line; got several")
        return accounts.check_password(line)
    if not sys.stdin.isatty():
        raise InvalidAccount("no terminal to ask for the password on; use --password-stdin")
    password = accounts.check_password(getpass.getpass("Password: "))
    if getpass.getpass("Password (again): ") != password:
        raise InvalidAccount("the two passwords differ; no account created")
    return password


async def _store(settings: Settings, args: argparse.Namespace, password: str) -> Account:
    db = Database.for_settings(settings)
    try:
        await db.migrate()
        async with db.write() as conn:
            return await accounts.create(
                conn,
                email=args.email,
                password=password,
                first_name=args.first_name,
                last_name=args.last_name,
                user_id=args.user_id,
            )
    finally:
        await db.close()
