"""Limits on failed sign-ins: per email and per client address, over a sliding window.

Counted per *email typed*, existing or not, so that being limited says nothing about
whether an account exists. A good sign-in clears its email's count (not its address's:
one right password must not buy an address more guesses at other accounts). Failures are
stored (see ``store.login_failures``), so restarts and replicas share the count.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from pantry_api.login.signing import derive_key
from pantry_api.store import login_failures
from pantry_api.store.accounts import email_key

PER_EMAIL = 5
PER_ADDRESS = 20  # higher: several people can share one address (a household, an office)
WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class Attempt:
    email: str  # digests, not the values
    address: str


class Limits:
    per_email = PER_EMAIL
    per_address = PER_ADDRESS
    window = WINDOW

    def __init__(self, secret: str) -> None:
        # Keyed digests: the table reveals no email, and no one can pre-compute its keys.
        self._key = derive_key(secret, "login limits")

    def _digest(self, value: str) -> str:
        return hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()

    def attempt(self, email: str, address: str) -> Attempt:
        return Attempt(
            email=self._digest(f"email:{email_key(email)}"),
            address=self._digest(f"address:{address}"),
        )

    async def retry_after(
        self, conn: AsyncConnection, attempt: Attempt, *, now: datetime
    ) -> int | None:
        """Seconds until another try is allowed, or None when it is allowed now."""
        waits = []
        for key, limit in ((attempt.email, self.per_email), (attempt.address, self.per_address)):
            recent = await login_failures.latest(conn, key, since=now - self.window, limit=limit)
            if len(recent) >= limit:
                # Allowed again once the oldest of the last `limit` failures leaves the window.
                waits.append((recent[-1] + self.window - now).total_seconds())
        return max(1, math.ceil(max(waits))) if waits else None

    async def failed(self, conn: AsyncConnection, attempt: Attempt, *, now: datetime) -> None:
        await login_failures.record(
            conn, [attempt.email, attempt.address], at=now, forget_before=now - self.window
        )

    async def succeeded(self, conn: AsyncConnection, attempt: Attempt) -> None:
        await login_failures.clear(conn, attempt.email)
