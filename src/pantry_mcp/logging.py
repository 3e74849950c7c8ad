"""structlog set-up: JSON lines for operators, a readable console format on a terminal.

Every line of an HTTP request carries its ``request_id`` (bound in a contextvar by the
access-log middleware). Our own events are rendered by structlog and handed straight to
the sink (a line per MCP request must not cost a trip through the standard library's
logging machinery); uvicorn's and the SDK's logs go through ``logging`` and are rendered
by the same processors, so every line has the same shape.

A request never waits on the log's reader: our lines bound for a real file descriptor
(stdout, stderr, a pipe to a log shipper, a file) are written by a thread of the sink's
own, in batches. Should the reader stall, up to ``MAX_PENDING`` lines wait in memory;
beyond that lines are dropped and counted, and a ``log_lines_dropped`` warning says how
many once the reader catches up. Woken by a line, the writer lets more gather for
``GATHER_SECONDS`` before it writes: under load, one write and one wake-up carry many
lines instead of one each. The standard library's records (uvicorn's start and stop,
rare warnings; never one per request) are written at once, after what is waiting, so the
last lines before a signal ends the process are out.

The line of every request (``info_line``) is not even rendered on the request's path:
the request hands over its fields, with the request id and the time read there, and the
writer renders the batch to the same JSON structlog would have written. Rendered one at
a time between requests, the line cost a request a sixth of its time under load.
"""

from __future__ import annotations

import atexit
import contextvars
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

import pydantic_core
import structlog

from pantry_mcp.config import LogFormat
from pantry_mcp.tracing import add_trace_ids

# The HTTP request being served (set by app.RequestContext): every line written meanwhile
# names it. One variable read per line, where structlog's merge_contextvars walks them all.
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "pantry_mcp_request_id", default=None
)
MAX_PENDING = 10_000  # lines held while the reader is slow (a few MB at most)
CLOSE_SECONDS = 2.0  # at exit, how long the last lines may take to go out
NOW_SECONDS = 1.0  # how long a line written at once may wait for a stalled reader
RENDER_YIELD_EVERY = 4  # lines a short batch renders (about 15 µs each) between yields
YIELDING_BATCH = 64  # up to this many lines a batch is short (see _rendered)
GATHER_SECONDS = 0.05  # how long a woken writer lets lines gather (a line is that late)


def _has_descriptor(stream: TextIO) -> bool:
    try:
        stream.fileno()
    except (OSError, ValueError, AttributeError):  # io.StringIO, pytest's capture, closed
        return False
    return True


class _Writer:
    """The thread that writes one stream's lines, and how it is told to stop."""

    def __init__(self, sink: _Sink, stream: TextIO) -> None:
        self.retire = threading.Event()  # write what is pending, then stop
        self.abandon = threading.Event()  # stop without taking more (a close timed out)
        self.thread = threading.Thread(
            target=sink._run, args=(self, stream), name="pantry-mcp-log", daemon=True
        )
        self.thread.start()


class _Sink:
    """Where lines go; ``point_at`` may switch streams at any time."""

    def __init__(self) -> None:
        self.stream: TextIO = sys.stdout
        self._background = False
        self._pending: list[str | _Deferred] = []
        self._dropped = 0
        self._lock = threading.Lock()  # guards the pending lines
        self._writing = threading.Lock()  # held while lines go to the stream
        self._wake = threading.Event()
        self._writer: _Writer | None = None

    def point_at(self, stream: TextIO) -> None:
        self.close()  # what is pending goes to the stream it was written for
        self.stream = stream
        self._background = _has_descriptor(stream)

    @property
    def background(self) -> bool:
        """Lines go out by the writer thread (the stream has a descriptor)."""
        return self._background

    def write(self, line: str | _Deferred) -> None:
        if not self._background:
            self._emit(self.stream, _text(line) + "\n")
            return
        with self._lock:
            if len(self._pending) >= MAX_PENDING:
                self._dropped += 1
                return
            self._pending.append(line)
            first = len(self._pending) == 1
        if first:  # the writer sleeps only when nothing was pending
            if self._writer is None:
                self._writer = _Writer(self, self.stream)
            self._wake.set()

    def write_now(self, line: str) -> None:
        """A line that must be out before this returns, after every line written before it:
        the rare lines of uvicorn and the SDK (start, stop, warnings). uvicorn ends a
        SIGTERM by raising the signal again, which ends the process before any exit hook
        could write them. A reader stalled for good holds this up ``NOW_SECONDS`` at most,
        then the line waits its turn like any other."""
        if not self._background or not self._writing.acquire(timeout=NOW_SECONDS):
            self.write(line)
            return
        try:
            with self._lock:
                lines, self._pending = self._pending, []
            lines.append(line)
            self._emit(self.stream, "\n".join(map(_text, lines)) + "\n")
        finally:
            self._writing.release()

    def _run(self, writer: _Writer, stream: TextIO) -> None:
        while not writer.abandon.is_set():
            self._wake.wait()
            writer.retire.wait(GATHER_SECONDS)  # at exit, no gathering: out at once
            self._wake.clear()
            with self._writing:  # a line written at once waits for this batch, not before it
                with self._lock:
                    if writer.abandon.is_set():
                        return
                    lines, self._pending = self._pending, []
                    dropped, self._dropped = self._dropped, 0
                if lines:
                    self._emit(stream, _rendered(lines))
            if dropped:
                self._report_dropped(dropped)
            elif writer.retire.is_set():
                with self._lock:
                    if not self._pending:
                        return

    def _report_dropped(self, count: int) -> None:
        """The warning that ``count`` lines were dropped, or, while the queue is still full
        (its reader fell behind again during that write), the count kept for the next
        batch: a warning dropped in its turn would lose it."""
        with self._lock:
            if len(self._pending) >= MAX_PENDING:
                self._dropped += count
                return
        structlog.get_logger("pantry_mcp.logging").warning(
            "log_lines_dropped",
            count=count,
            hint="The log reader fell behind; these lines were not written.",
        )

    @staticmethod
    def _emit(stream: TextIO, text: str) -> None:
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):  # a closed or broken stream must not fail a request
            pass

    def close(self) -> None:
        """Write what is pending and stop the writer (at exit, or before a new stream)."""
        writer, self._writer = self._writer, None
        if writer is None:
            return
        writer.retire.set()
        self._wake.set()
        writer.thread.join(CLOSE_SECONDS)
        if writer.thread.is_alive():  # its reader stalled for good: exit without it
            writer.abandon.set()
            with self._lock:
                self._pending, self._dropped = [], 0
            self._wake.set()

    def after_fork(self) -> None:
        # the child has no writer thread; its first line starts one
        self._writer, self._pending, self._dropped = None, [], 0
        self._lock, self._wake = threading.Lock(), threading.Event()
        self._writing = threading.Lock()


class _Deferred:
    """A line handed over unrendered: its fields, when it was written, and the trace ids
    of the span it was written in (added after the time, as the processors order them)."""

    __slots__ = ("at", "fields", "trace")

    def __init__(self, fields: dict[str, Any], at: float, trace: Mapping[str, Any]) -> None:
        self.fields = fields
        self.at = at
        self.trace = trace

    def render(self) -> str:
        fields = self.fields
        fields["timestamp"] = _iso_utc(self.at)
        fields.update(self.trace)
        return render_json(None, "info", fields)


def _iso_utc(at: float) -> str:
    """As structlog's ``TimeStamper(fmt="iso", utc=True)`` writes the time."""
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


def _text(line: str | _Deferred) -> str:
    return line if isinstance(line, str) else line.render()


def _rendered(lines: list[str | _Deferred]) -> str:
    """The batch as text. A short batch lets go of the interpreter lock every few lines:
    a thread that wants the lock waits until it is let go (or the 5 ms switch interval),
    and at a few requests a second the request in flight waited for the whole batch (the
    one-connection p99 was 0.27 ms longer). A long batch, under load, is rendered in one
    go: there every request waits its turn anyway, and yielding cost 5% of the rate."""
    pause = len(lines) <= YIELDING_BATCH
    texts = []
    for number, line in enumerate(lines, 1):
        texts.append(_text(line))
        if pause and number % RENDER_YIELD_EVERY == 0:
            time.sleep(0)
    texts.append("")
    return "\n".join(texts)


_sink = _Sink()
atexit.register(_sink.close)
os.register_at_fork(after_in_child=_sink.after_fork)


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
            _sink.write_now(self.format(record))
        except Exception:  # pragma: no cover - logging must never raise into the caller
            self.handleError(record)


def add_request_id(logger: Any, method_name: str, event_dict: Any) -> Any:
    request_id = REQUEST_ID.get()
    if request_id is not None:
        event_dict.setdefault("request_id", request_id)
    return event_dict


def render_json(logger: Any, method_name: str, event_dict: Any) -> str:
    """The line as compact JSON, by pydantic-core's encoder (a quarter of the json
    module's time); anything it cannot encode is written as its repr, NaN and infinities
    as null (valid JSON, where the json module writes NaN). What UTF-8 cannot hold (a lone
    surrogate) goes through the json module, which writes its escape."""
    try:
        return pydantic_core.to_json(event_dict, fallback=repr, inf_nan_mode="null").decode()
    except pydantic_core.PydanticSerializationError:
        return json.dumps(event_dict, default=repr)


class _Lines:
    """What ``configure`` chose, as ``info_line`` needs it."""

    json = False
    info = True  # the level lets info lines through
    trace_ids = False


def info_line(logger: str, event: str, fields: dict[str, Any]) -> None:
    """``structlog.get_logger(logger).info(event, **fields)``, the same line, for the lines
    written once per request: in JSON to a stream with a descriptor, its rendering is left
    to the writer thread. ``fields`` becomes the line's: the caller must not keep it."""
    if not (_Lines.json and _sink.background):
        structlog.get_logger(logger).info(event, **fields)
        return
    if not _Lines.info:
        return
    # the processors' fields, in their order, read here: the request id and the trace are
    # the caller's context, which the writer thread does not share
    fields["event"] = event
    request_id = REQUEST_ID.get()
    if request_id is not None:
        fields.setdefault("request_id", request_id)
    fields["level"] = "info"
    fields["logger"] = logger
    trace = add_trace_ids(None, "info", {}) if _Lines.trace_ids else {}
    _sink.write(_Deferred(fields, time.time(), trace))


def configure(
    fmt: LogFormat, level: str, *, stream: TextIO | None = None, trace_ids: bool = False
) -> None:
    """``stream`` is stdout for HTTP serving; stdio serving must log to stderr.
    ``trace_ids`` (while traces are on): a line written inside a span names it."""
    _sink.point_at(stream or sys.stdout)
    _Lines.json = fmt != "console"
    _Lines.info = logging.getLevelName(level.upper()) <= logging.INFO
    _Lines.trace_ids = trace_ids
    shared: list[Any] = [
        add_request_id,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        *([add_trace_ids] if trace_ids else []),
    ]
    renderer: Any = structlog.dev.ConsoleRenderer() if fmt == "console" else render_json
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
