"""``pantry-api``: run the Pantry REST service, or migrate its database."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys

import uvicorn

from pantry_api import __version__
from pantry_api.config import ConfigError, Settings
from pantry_api.errors import ServiceUnavailable
from pantry_api.logs import configure as configure_logging
from pantry_api.store.db import Database
from pantry_api.user_commands import add_users_command

TOKEN_FILE = "service-token"  # noqa: S105 - a file name, not a secret
SESSION_SECRET_FILE = "session-secret"  # noqa: S105 - a file name, not a secret


def kept_secret(settings: Settings, file_name: str, what: str) -> str:
    """A secret generated once and kept (mode 0600) in the data dir, read back after that."""
    path = settings.data_dir / file_name
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    print(f"pantry-api: generated a {what} in {path}", file=sys.stderr)
    return value


def service_token(settings: Settings) -> str:
    """The configured token, else one generated once and kept (mode 0600) in the data dir."""
    return settings.service_token or kept_secret(settings, TOKEN_FILE, "service token")


def session_secret(settings: Settings) -> str:
    """The configured secret that signs sign-in cookies and CSRF tokens, else a kept one."""
    return settings.session_secret or kept_secret(settings, SESSION_SECRET_FILE, "session secret")


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import replace

    from pantry_api.app import create_app
    from pantry_api.tracing import start as start_tracing

    configure_logging(args.log_level, trace_ids=settings.tracing)
    app = create_app(
        replace(
            settings,
            service_token=service_token(settings),
            session_secret=session_secret(settings),
        ),
        # The app's lifespan shuts it down (flushing spans) when uvicorn stops.
        tracing=start_tracing(__version__) if settings.tracing else None,
    )
    # Behind a trusted proxy, take the client address and scheme from its X-Forwarded-*
    # headers: the sign-in limits count per address and cookies are Secure on https.
    trusted = ",".join(settings.trusted_proxies)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=args.access_log,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
    )
    return 0


def _migrate(_: argparse.Namespace, settings: Settings) -> int:
    async def run() -> list[int]:
        db = Database.for_settings(settings)
        try:
            return await db.migrate()
        finally:
            await db.close()

    try:
        applied = asyncio.run(run())
    except ServiceUnavailable as error:
        print(f"pantry-api: {error.message}", file=sys.stderr)
        return 1
    print(f"applied migrations: {applied}" if applied else "database is up to date")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pantry-api", description=__doc__)
    parser.add_argument("--version", action="version", version=f"pantry-api {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the REST service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8001)
    serve.add_argument("--log-level", default=os.environ.get("PANTRY_API_LOG_LEVEL", "info"))
    serve.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=True)
    serve.set_defaults(run=_serve)
    migrate = commands.add_parser("migrate", help="apply pending schema migrations and exit")
    migrate.set_defaults(run=_migrate)
    add_users_command(commands)
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"pantry-api: {error}", file=sys.stderr)
        return 2
    result: int = args.run(args, settings)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
