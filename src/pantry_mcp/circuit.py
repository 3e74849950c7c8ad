"""A circuit breaker for the Pantry hop: after enough failures in a row, calls fail at once
for a cooldown instead of piling up behind a dead upstream; then one trial call decides.

Calls that arrive while the trial is in flight wait for its verdict (``admit``) instead of
failing: a tool that makes several calls at once would otherwise see one of them refused,
cancel the trial with it, and so never let the circuit close.
"""

from __future__ import annotations

import time
from enum import Enum

import anyio


class State(Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpen(Exception):
    def __init__(self, retry_in: float) -> None:
        super().__init__(f"circuit open for {retry_in:.1f} s")
        self.retry_in = retry_in


class CircuitBreaker:
    def __init__(self, *, threshold: int = 5, cooldown: float = 10.0) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self.failures = 0
        self.opened_at = float("-inf")
        self.state = State.CLOSED
        self._verdict: anyio.Event | None = None  # set when the trial call settles

    async def admit(self, wait: float) -> None:
        """``before_call``, but while a trial is in flight wait up to ``wait`` seconds for
        its verdict, then follow it (closed: go on; open again: CircuitOpen)."""
        while True:
            try:
                self.before_call()
                return
            except CircuitOpen:
                if self.state is not State.HALF_OPEN:
                    raise
                if self._verdict is None:
                    self._verdict = anyio.Event()
                verdict = self._verdict
                with anyio.move_on_after(wait):
                    await verdict.wait()
                if not verdict.is_set():
                    raise

    def _settled(self) -> None:
        if self._verdict is not None:
            self._verdict.set()
            self._verdict = None

    def before_call(self) -> None:
        """Raise CircuitOpen while the cooldown runs; after it, let one trial through."""
        if self.state is State.CLOSED:
            return
        remaining = self.opened_at + self.cooldown - time.monotonic()
        if self.state is State.OPEN and remaining <= 0:
            self.state = State.HALF_OPEN  # this caller is the trial
            return
        raise CircuitOpen(max(remaining, 0.0) if self.state is State.OPEN else self.cooldown)

    def succeeded(self) -> None:
        self.failures = 0
        self.state = State.CLOSED
        self._settled()

    def released(self) -> None:
        """The trial call ended without telling (it was cancelled): let the next one try."""
        if self.state is State.HALF_OPEN:
            self.state = State.OPEN
            self.opened_at = time.monotonic() - self.cooldown
            self._settled()  # a waiting call becomes the next trial

    def failed(self) -> None:
        self.failures += 1
        if self.state is State.HALF_OPEN or self.failures >= self.threshold:
            self.state = State.OPEN
            self.opened_at = time.monotonic()
        self._settled()
