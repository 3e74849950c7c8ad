"""``pantry-mcp serve --workers N`` (N > 1): the parent of N uvicorn worker processes.

uvicorn's own multi-process mode: the parent binds the port once, and N spawned workers
accept on that one socket, each building its app from ``pantry_mcp.worker_app``. The parent
serves no request; it settles, before any worker starts, what must be the same in all:

- the request-state key: a key generated per worker would not open another's questions, so
  when PANTRY_MCP_REQUEST_STATE_KEY is unset one is generated here and handed to every
  worker in its environment;
- metrics: each worker writes its values into one fresh directory (prometheus-client's
  multiprocess mode), so any scrape sums all workers; exited workers' live gauges are
  dropped, and the directory is removed when the parent exits;
- the metrics port (PANTRY_MCP_METRICS_ADDRESS), served once, here: N workers could not all
  listen on it.

What cannot be shared is refused before this runs (``config.with_workers``). SIGTERM or
SIGINT to the parent stops every worker gracefully (each finishes its calls, up to the
graceful timeout) and then the parent; a worker that dies is replaced by uvicorn.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
from typing import Any

import structlog
import uvicorn
from prometheus_client.multiprocess import mark_process_dead
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from pantry_mcp.config import Settings

WORKER_APP = "pantry_mcp.worker_app:create"
METRICS_DIR_PREFIX = "pantry-mcp-metrics-"
log = structlog.get_logger("pantry_mcp")


class Supervisor(Multiprocess):
    """uvicorn's supervisor, plus the bookkeeping prometheus-client asks of whoever sees a
    worker exit (``mark_process_dead``), whether it crashed, was restarted (SIGHUP) or
    retired (SIGTTOU)."""

    def __init__(self, config: uvicorn.Config, sockets: list[Any], metrics_dir: str) -> None:
        super().__init__(config, sockets)
        self.metrics_dir = metrics_dir
        self._known: set[int] = set()

    def handle_term(self) -> None:
        self._stop_listening()
        super().handle_term()

    def handle_int(self) -> None:
        self._stop_listening()
        super().handle_int()

    def _stop_listening(self) -> None:
        """Close the parent's copy of the listening socket as the workers close theirs: an
        open copy would let the kernel go on queueing connections nobody will accept (then
        reset at exit), where one process refuses them, and nginx tries another replica."""
        for sock in self.sockets:
            sock.close()

    def handle_signals(self) -> None:
        super().handle_signals()
        self._forget_exited()

    def keep_subprocess_alive(self) -> None:
        super().keep_subprocess_alive()
        self._forget_exited()

    def _forget_exited(self) -> None:
        running = {p.pid for p in self.processes if p.pid is not None and p.exitcode is None}
        for pid in self._known - running:
            mark_process_dead(pid, self.metrics_dir)  # type: ignore[no-untyped-call]
        self._known = running

    @property
    def failed_to_start(self) -> bool:
        return any(p.exitcode == STARTUP_FAILURE for p in self.processes)


def share_request_state_key(settings: Settings) -> None:
    """One key for every worker when none is configured, passed in their environment."""
    if settings.request_state_keys:
        return
    os.environ["PANTRY_MCP_REQUEST_STATE_KEY"] = secrets.token_urlsafe(48)
    log.warning(
        "request_state_key_generated",
        detail="PANTRY_MCP_REQUEST_STATE_KEY is not set: a key generated now, shared by this "
        f"server's {settings.workers} workers, seals questions to the person; another "
        "replica, or this one after a restart, cannot open them. Give every replica the same "
        "key of at least 32 bytes.",
    )


def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    options: dict[str, Any],
    app: str = WORKER_APP,
) -> int:
    """Run ``settings.workers`` workers of ``app`` (an import string naming an app factory)
    on host:port until SIGTERM or SIGINT; the exit status."""
    metrics_dir = tempfile.mkdtemp(prefix=METRICS_DIR_PREFIX)
    # Read by prometheus-client when each worker imports it (spawned, not forked): every
    # worker then writes its values there.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    # and each worker's settings say it is one of several (it renders /metrics from them all)
    os.environ["PANTRY_MCP_WORKERS"] = str(settings.workers)
    try:
        share_request_state_key(settings)
        if settings.metrics_address is not None:
            from prometheus_client import start_http_server

            from pantry_mcp.metrics import all_workers

            metrics_host, metrics_port = settings.metrics_address
            start_http_server(metrics_port, addr=metrics_host, registry=all_workers(metrics_dir))
            print(
                f"pantry-mcp: metrics on http://{metrics_host}:{metrics_port}/metrics",
                file=sys.stderr,
            )
        config = uvicorn.Config(
            app, factory=True, host=host, port=port, workers=settings.workers, **options
        )
        supervisor = Supervisor(config, [config.bind_socket()], metrics_dir)
        supervisor.run()
        return 1 if supervisor.failed_to_start else 0
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
