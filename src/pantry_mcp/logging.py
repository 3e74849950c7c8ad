"""structlog set-up: JSON lines for operators, a readable console format on a terminal.

Every line of an HTTP request carries its ``request_id`` (bound in a contextvar by the
access-log middleware); uvicorn's own logs go through the same pipeline.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

from pantry_mcp.config import LogFormat


def configure(fmt: LogFormat, level: str, *, stream: TextIO | None = None) -> None:
    """``stream`` is stdout for HTTP serving; stdio serving must log to stderr."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.dev.ConsoleRenderer() if fmt == "console" else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # The SDK logs every request at INFO; keep it for debugging only.
    logging.getLogger("mcp").setLevel(max(logging.WARNING, root.level))
