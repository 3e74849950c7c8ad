"""Tool calls per minute per user: a token bucket refilled continuously, in this process.

(Several replicas share counters through a store; that is the operations issue's job.)
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict


class ToolRateLimiter:
    MAX_TRACKED = 50_000

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.refill_per_second = per_minute / 60.0
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def retry_after(self, user: str) -> int:
        """0 if the call may go ahead (and is counted), else whole seconds to wait."""
        if self.capacity <= 0:
            return 0
        now = time.monotonic()
        tokens, last = self._buckets.pop(user, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.refill_per_second)
        wait = 0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = max(1, math.ceil((1 - tokens) / self.refill_per_second))
        self._buckets[user] = (tokens, now)
        while len(self._buckets) > self.MAX_TRACKED:
            self._buckets.popitem(last=False)
        return wait
