"""The log sink: a request never waits on the log's reader, and no line is lost at exit."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from pantry_mcp import logging as pantry_logging
from pantry_mcp.logging import MAX_PENDING, REQUEST_ID, configure, info_line


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    configure("json", "info", stream=io.StringIO())  # stops any writer thread
    structlog.reset_defaults()
    root.handlers[:], root.level = handlers, level


def _read_until(fd: int, marker: bytes, seconds: float) -> bytes:
    """Everything the pipe gives until ``marker`` has arrived (or the time is up)."""
    received = bytearray()
    done = threading.Event()

    def reader() -> None:
        while marker not in received:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            received.extend(chunk)
        done.set()

    threading.Thread(target=reader, daemon=True).start()
    done.wait(seconds)
    return bytes(received)


def test_a_stalled_reader_never_blocks_a_log_call(restore_logging: None) -> None:
    read_end, write_end = os.pipe()
    try:
        stream = os.fdopen(write_end, "w", encoding="utf-8")
        configure("json", "info", stream=stream)
        log = structlog.get_logger("test")
        total = MAX_PENDING * 3  # far more than the pipe and the queue hold together
        finished = threading.Event()

        def flood() -> None:
            for number in range(total):
                log.info("line", number=number)
            finished.set()

        threading.Thread(target=flood, daemon=True).start()
        # Nobody reads the pipe yet: with a blocking write this would never finish.
        assert finished.wait(30), "a log call waited on the pipe's reader"
        text = _read_until(read_end, b"log_lines_dropped", 30)
    finally:
        configure("json", "info", stream=io.StringIO())
        os.close(read_end)
    records = [json.loads(line) for line in text.decode().splitlines()]
    numbers = [r["number"] for r in records if r["event"] == "line"]
    dropped = sum(r["count"] for r in records if r["event"] == "log_lines_dropped")
    assert numbers == sorted(numbers)  # what is written keeps its order
    assert dropped > 0
    assert len(numbers) + dropped == total  # every line is written or counted as dropped
    warning = next(r for r in records if r["event"] == "log_lines_dropped")
    assert warning["level"] == "warning" and "fell behind" in warning["hint"]


def test_an_in_memory_stream_is_written_at_once(restore_logging: None) -> None:
    stream = io.StringIO()
    configure("json", "info", stream=stream)
    structlog.get_logger("test").info("now", n=1)
    assert json.loads(stream.getvalue())["event"] == "now"
    assert pantry_logging._sink._writer is None  # no thread for a stream without a descriptor


def test_every_line_is_written_before_the_process_exits() -> None:
    program = (
        "import structlog\n"
        "from pantry_mcp.logging import configure\n"
        "configure('json', 'info')\n"
        "log = structlog.get_logger('test')\n"
        "for n in range(5000):\n"
        "    log.info('line', number=n)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )
    records: list[dict[str, Any]] = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["number"] for r in records] == list(range(5000))


def test_a_standard_library_record_is_out_at_once_after_what_waits(
    restore_logging: None,
) -> None:
    # uvicorn's last lines before it re-raises SIGTERM must not wait for the writer thread
    read_end, write_end = os.pipe()
    try:
        configure("json", "info", stream=os.fdopen(write_end, "w", encoding="utf-8"))
        for number in range(50):
            structlog.get_logger("test").info("line", number=number)
        logging.getLogger("uvicorn.error").info("Finished server process")
        os.set_blocking(read_end, False)
        text = os.read(read_end, 1 << 20).decode()  # no waiting: it is there already
    finally:
        configure("json", "info", stream=io.StringIO())
        os.close(read_end)
    records = [json.loads(line) for line in text.splitlines()]
    assert [r.get("number") for r in records[:-1]] == list(range(50))
    assert records[-1]["event"] == "Finished server process"


def _lines_through_pipe(write: Any) -> list[dict[str, Any]]:
    """What ``write()`` logs to a pipe (the writer thread's path), read back as records."""
    read_end, write_end = os.pipe()
    try:
        configure("json", "info", stream=os.fdopen(write_end, "w", encoding="utf-8"))
        write()
        logging.getLogger("uvicorn.error").info("end of test")  # out at once, after the rest
        os.set_blocking(read_end, False)
        text = os.read(read_end, 1 << 20).decode()
    finally:
        configure("json", "info", stream=io.StringIO())
        os.close(read_end)
    return [json.loads(line) for line in text.splitlines()][:-1]


def test_a_request_line_left_to_the_writer_is_the_line_structlog_writes(
    restore_logging: None,
) -> None:
    fields = {"method": "tools/call", "status": 200, "upstream": [{"path": "/recipes"}]}

    def write() -> None:
        token = REQUEST_ID.set("req-1")
        try:
            structlog.get_logger("pantry_mcp.mcp").info("mcp_request", **fields)
            info_line("pantry_mcp.mcp", "mcp_request", dict(fields))
        finally:
            REQUEST_ID.reset(token)

    by_structlog, deferred = _lines_through_pipe(write)
    assert deferred["request_id"] == "req-1"  # read on the request's side, not the writer's
    assert list(deferred) == list(by_structlog)  # the same fields in the same order
    del by_structlog["timestamp"]
    stamped = deferred.pop("timestamp")
    assert deferred == by_structlog
    assert stamped.endswith("Z") and stamped.startswith("20")


def test_request_lines_keep_their_place_among_other_lines(restore_logging: None) -> None:
    def write() -> None:
        for number in range(30):
            if number % 3:
                info_line("pantry_mcp.access", "http_request", {"number": number})
            else:
                structlog.get_logger("test").info("other", number=number)

    assert [r["number"] for r in _lines_through_pipe(write)] == list(range(30))


def test_request_lines_follow_the_level_and_an_in_memory_stream(restore_logging: None) -> None:
    stream = io.StringIO()
    configure("json", "warning", stream=stream)
    info_line("pantry_mcp.access", "http_request", {"status": 200})
    assert stream.getvalue() == ""  # below the level: not written
    configure("json", "info", stream=stream)
    info_line("pantry_mcp.access", "http_request", {"status": 200})
    record = json.loads(stream.getvalue())  # written at once: no thread for this stream
    assert record["event"] == "http_request" and record["status"] == 200


def test_json_lines_are_valid_json_whatever_the_values(restore_logging: None) -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<opaque>"

    stream = io.StringIO()
    configure("json", "info", stream=stream)
    log = structlog.get_logger("test")
    log.info("values", nan=float("nan"), big=float("inf"), thing=Opaque())
    log.info("text", lone="\ud800")
    values, text = (json.loads(line) for line in stream.getvalue().splitlines())
    assert "NaN" not in stream.getvalue() and "Infinity" not in stream.getvalue()
    assert values["nan"] is None and values["big"] is None
    assert values["thing"] == "<opaque>"
    assert text["lone"] == "\ud800"  # escaped by the fallback, not lost


@pytest.mark.parametrize("count", [1, 10, pantry_logging.YIELDING_BATCH + 1])
def test_a_small_batch_lets_requests_run_between_its_lines(
    count: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer renders a few lines at a time and lets go of the interpreter between
    them, so a request waiting for it waits for a few lines, not the batch; a long batch
    (the server is busy, every request waits its turn anyway) is rendered in one go. The
    text is the same either way."""
    yields: list[float] = []
    monkeypatch.setattr(pantry_logging, "time", type("Clock", (), {"sleep": yields.append}))
    lines: list[Any] = [
        pantry_logging._Deferred({"event": "mcp_request", "n": n}, 1.5e9, {}) if n % 3 else f"{n}"
        for n in range(count)
    ]
    expected = "".join(pantry_logging._text(line) + "\n" for line in lines)
    assert pantry_logging._rendered(lines) == expected
    small = count <= pantry_logging.YIELDING_BATCH
    assert yields == ([0] * (count // pantry_logging.RENDER_YIELD_EVERY) if small else [])
