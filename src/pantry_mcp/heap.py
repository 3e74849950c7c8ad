"""The server process's heap: start-up's objects kept out of the garbage collector's way,
and memory freed under load handed back to the system.

What is alive once the app is built (modules, compiled schemas, pydantic's validators and
serializers: over 100,000 objects) lives as long as the process. Left in the collected
generations, every full collection that load sets off walks all of it again: about 10 µs
of CPU per tool call (bench/README.md). ``gc.freeze()`` moves them to a permanent
generation the collector skips; what dies later is still collected as ever.

glibc's malloc keeps memory that requests allocated and freed: its heap only shrinks from
the top, so a few live blocks keep many free pages resident and RSS creeps up in steps
under steady load with nothing leaking (the 20-minute soak, bench/results/). On glibc a
thread of ours calls ``malloc_trim(0)`` every ``TRIM_SECONDS``, which returns the free
pages inside the heap as well; elsewhere (musl, macOS) nothing is started.
"""

from __future__ import annotations

import ctypes
import gc
import platform
import threading
from collections.abc import Callable

TRIM_SECONDS = 30.0


def freeze_startup_heap() -> None:
    """Collect start-up's garbage, then freeze what is left. Call once, just before the
    process starts serving."""
    gc.collect()
    gc.freeze()


class Trimmer:
    """A daemon thread that returns free heap pages to the system every ``every`` seconds."""

    def __init__(self, trim: Callable[[int], int], every: float) -> None:
        self.rounds = 0
        self._trim = trim
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pantry-mcp-trim", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self._trim(0)  # ctypes lets go of the GIL meanwhile: requests go on
            self.rounds += 1

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


_running: Trimmer | None = None


def return_free_memory(every: float = TRIM_SECONDS) -> Trimmer | None:
    """Start trimming on glibc (once per process: a second call returns the first's
    trimmer); None where there is no ``malloc_trim``."""
    global _running
    if _running is not None and _running.alive:
        return _running
    if platform.libc_ver()[0] != "glibc":
        return None
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # pragma: no cover - glibc always has both
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    _running = Trimmer(trim, every)
    return _running
