"""structlog set-up: JSON lines for operators, a readable console format on a terminal.

Every line of an HTTP request carries its ``request_id`` (bound in a contextvar by the
access-log middleware). Our own events are rendered by structlog and written straight to
the stream (two lines per tool call must not cost a trip through the standard library's
logging machinery); uvicorn's and the SDK's logs go through ``logging`` and are rendered
by the same processors, so every line has the same shape.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any, TextIO

import structlog

from pantry_mcp.config import LogFormat
from pantry_mcp.tracing import add_trace_ids


class _Sink:
    """Where lines go; ``configure`` may point it at another stream at any time."""

    def __init__(self) -> None:
        self.stream: TextIO = sys.stdout
        self.lock = threading.Lock()

    def write(self, line: str) -> None:
        with self.lock:
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
            except (OSError, ValueError):  # a closed or broken stream must not fail a request
                pass


_sink = _Sink()


class _LineLogger:
    """A structlog logger that writes rendered lines to the sink; ``name`` is the name
    given to ``structlog.get_logger`` (``add_logger_name`` reads it)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def msg(self, message: str) -> None:
        _sink.write(message)

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


def _logger_factory(*args: Any) -> _LineLogger:
    return _LineLogger(str(args[0]) if args else "pantry_mcp")


class _SinkHandler(logging.Handler):
    """Standard-library records, formatted by structlog, onto the same sink."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            _sink.write(self.format(record))
        except Exception:  # pragma: no cover - logging must never raise into the caller
            self.handleError(record)


def configure(
    fmt: LogFormat, level: str, *, stream: TextIO | None = None, trace_ids: bool = False
) -> None:
    """``stream`` is stdout for HTTP serving; stdio serving must log to stderr.
    ``trace_ids`` (while traces are on): a line written inside a span names it."""
    _sink.stream = stream or sys.stdout
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        *([add_trace_ids] if trace_ids else []),
    ]
    renderer: Any = (
        structlog.dev.ConsoleRenderer() if fmt == "console" else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        logger_factory=_logger_factory,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        cache_logger_on_first_use=True,
    )
    handler = _SinkHandler()
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
