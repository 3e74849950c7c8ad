"""``pantry-mcp``: serve MCP over streamable HTTP, or over stdio for a local client."""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys
from typing import TYPE_CHECKING, Any

import anyio
import uvicorn

from pantry_mcp import __version__
from pantry_mcp.config import ConfigError, Settings, with_workers
from pantry_mcp.heap import freeze_startup_heap, return_free_memory
from pantry_mcp.logging import configure as configure_logging

if TYPE_CHECKING:
    from pantry_mcp.tracing import Tracing


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _can_bind(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What uvicorn is told, with one worker or many."""
    return {
        "log_config": None,
        "access_log": False,  # RequestContext writes the access log, with request ids
        # X-Forwarded-For/-Proto are believed only from the configured proxies (nginx).
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": list(settings.trusted_proxies) or None,
        "timeout_graceful_shutdown": 5,
        "ws": "none",  # MCP needs no websockets: about 1 MB less at rest
    }


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    try:
        settings = with_workers(settings, args.workers)
    except ConfigError as error:
        print(f"pantry-mcp: {error}", file=sys.stderr)
        return 2
    if settings.auth is None and not _loopback(args.host):
        print(
            "pantry-mcp: no authorization server is configured (AUTHKIT_DOMAIN or "
            "PANTRY_MCP_AUTH_ISSUER), so /mcp is served on loopback only; use --host 127.0.0.1",
            file=sys.stderr,
        )
        return 2
    for name, (host, port) in (
        ("--host/--port", (args.host, args.port)),
        ("PANTRY_MCP_METRICS_ADDRESS", settings.metrics_address or (None, 0)),
    ):
        if host is not None and not _can_bind(host, port):
            print(
                f"pantry-mcp: cannot listen on {host}:{port} ({name}): the port is taken "
                "or the address is not this machine's",
                file=sys.stderr,
            )
            return 2
    configure_logging(settings.log_format, settings.log_level, trace_ids=settings.tracing)
    if settings.auth is None:
        who = f"demo mode, no login: every request acts as user {settings.user!r}"
    else:
        who = f"OAuth: tokens from {settings.auth.issuer} for {settings.auth.resource_url}"
    if settings.workers > 1:
        from pantry_mcp import workers

        print(
            f"pantry-mcp: MCP endpoint http://{args.host}:{args.port}/mcp ({who}; "
            f"{settings.workers} worker processes)",
            file=sys.stderr,
        )
        return workers.serve(
            settings, host=args.host, port=args.port, options=_uvicorn_options(settings)
        )
    from pantry_mcp.app import create_app

    tracing = _start_tracing(settings)
    print(
        f"pantry-mcp: MCP endpoint http://{args.host}:{args.port}/mcp ({who})",
        file=sys.stderr,
    )
    app = create_app(settings, tracing=tracing)
    if settings.metrics_address is not None:
        from prometheus_client import start_http_server

        host, port = settings.metrics_address
        start_http_server(port, addr=host, registry=app.state.metrics.registry)
        print(f"pantry-mcp: metrics on http://{host}:{port}/metrics", file=sys.stderr)
    freeze_startup_heap()
    return_free_memory()
    # One worker: the app object itself, in this process (workers=1 also keeps uvicorn
    # from reading WEB_CONCURRENCY, which would ask for an import string).
    uvicorn.run(app, host=args.host, port=args.port, workers=1, **_uvicorn_options(settings))
    return 0


def _stdio(_: argparse.Namespace, settings: Settings) -> int:
    from pantry_mcp.client import pantry_client
    from pantry_mcp.handlers import TOOLS
    from pantry_mcp.registry import Registry
    from pantry_mcp.server import build_server
    from pantry_mcp.stdio import checked_stdio

    configure_logging(
        settings.log_format, settings.log_level, stream=sys.stderr, trace_ids=settings.tracing
    )
    tracing = _start_tracing(settings)

    async def run() -> None:
        client = pantry_client(settings)
        server = build_server(settings, Registry(TOOLS), client, one_client=True)
        try:
            async with checked_stdio() as (read_stream, write_stream):
                await server.run(read_stream, write_stream, server.create_initialization_options())
        finally:
            await client.aclose()

    try:
        anyio.run(run)
    finally:
        if tracing is not None:
            tracing.shutdown()  # the last spans go out before the process ends
    return 0


def _start_tracing(settings: Settings) -> Tracing | None:
    if not settings.tracing:
        return None
    from pantry_mcp.tracing import start

    return start(__version__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pantry-mcp", description=__doc__)
    parser.add_argument("--version", action="version", version=f"pantry-mcp {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve /mcp over streamable HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        metavar="N",
        help="processes sharing the port (default: PANTRY_MCP_WORKERS, else 1)",
    )
    serve.set_defaults(run=_serve)
    stdio = commands.add_parser("stdio", help="serve one client over stdin/stdout")
    stdio.set_defaults(run=_stdio)
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env(tty=sys.stderr.isatty() if args.command == "stdio" else None)
    except ConfigError as error:
        print(f"pantry-mcp: {error}", file=sys.stderr)
        return 2
    result: int = args.run(args, settings)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
