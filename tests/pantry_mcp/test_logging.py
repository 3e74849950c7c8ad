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
from pantry_mcp.logging import MAX_PENDING, configure


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
