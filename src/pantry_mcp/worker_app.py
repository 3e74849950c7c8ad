"""The app of one ``pantry-mcp serve --workers N`` worker: uvicorn imports ``create`` in
each worker process it spawns (``pantry_mcp.workers`` starts them).

A worker reads the environment the parent already checked, plus what the parent added
for all workers to share (the request-state key, the metrics directory), and sets up
logging and tracing as ``serve`` does for a single process.
"""

from __future__ import annotations

import logging
import sys

from starlette.applications import Starlette
from uvicorn.config import STARTUP_FAILURE

from pantry_mcp import __version__
from pantry_mcp.app import create_app
from pantry_mcp.config import ConfigError, Settings
from pantry_mcp.heap import freeze_startup_heap, return_free_memory
from pantry_mcp.logging import configure as configure_logging


def create() -> Starlette:
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"pantry-mcp: {error}", file=sys.stderr)
        # uvicorn's parent stops on this status, rather than restarting the worker forever
        raise SystemExit(STARTUP_FAILURE) from None
    configure_logging(settings.log_format, settings.log_level, trace_ids=settings.tracing)
    # uvicorn silenced its access log before this ran and configure() gave it back to the
    # root logger; RequestContext writes the access lines already, with request ids.
    logging.getLogger("uvicorn.access").propagate = False
    tracing = None
    if settings.tracing:
        from pantry_mcp.tracing import start

        tracing = start(__version__)  # per worker: each has its own exporter and batch
    app = create_app(settings, tracing=tracing)
    freeze_startup_heap()
    return_free_memory()
    return app
