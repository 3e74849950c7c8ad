"""Pure ASGI middleware of the Pantry API (no buffering of response bodies).

Order, outermost first: body limit -> service credential and acting user -> rate limit.
"""

from __future__ import annotations

import hmac
import math
import re
import time
from collections import OrderedDict

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pantry_api.errors import ApiError, BadRequest, PayloadTooLarge, TooManyRequests, Unauthorized

# /auth/login is for browsers (the AuthKit Login URI): it has its own CSRF and limits.
PUBLIC_PATHS = frozenset({"/openapi.json", "/healthz", "/auth/login"})
USER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@|+-]{0,127}$")


class BodyLimit:
    """Refuse bodies over ``max_bytes``, by Content-Length up front or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = PayloadTooLarge(f"The request body is larger than {self.max_bytes} bytes.")
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit():
                    await BadRequest("Content-Length is not a number.").response()(
                        scope, receive, send
                    )
                    return
                if int(value) > self.max_bytes:
                    await too_large.response()(scope, receive, send)
                    return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise too_large
            return message

        await self.app(scope, limited_receive, send)


class ServiceAuth:
    """Check the service credential, then take the acting user from ``X-Pantry-User``."""

    def __init__(self, app: ASGIApp, service_token: str) -> None:
        self.app = app
        self.expected = f"Bearer {service_token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        presented = headers.get(b"authorization", b"")
        if not hmac.compare_digest(presented, self.expected):
            error: ApiError = Unauthorized(
                "A valid service credential is required (Authorization: Bearer ...).",
                headers={"WWW-Authenticate": 'Bearer realm="pantry"'},
            )
            await error.response()(scope, receive, send)
            return
        user = headers.get(b"x-pantry-user", b"").decode("latin-1")
        if not USER_PATTERN.match(user):
            error = BadRequest(
                "X-Pantry-User must name the acting user: 1 to 128 letters, digits or ._:@|+-.",
                details={"header": "X-Pantry-User"},
            )
            await error.response()(scope, receive, send)
            return
        scope.setdefault("state", {})["user"] = user
        await self.app(scope, receive, send)


class RateLimit:
    """A token bucket per acting user: ``per_minute`` requests, refilled continuously."""

    MAX_TRACKED = 10_000

    def __init__(self, app: ASGIApp, per_minute: int) -> None:
        self.app = app
        self.capacity = float(per_minute)
        self.refill_per_second = per_minute / 60.0
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("state", {}).get("user") if scope["type"] == "http" else None
        if self.capacity <= 0 or user is None:
            await self.app(scope, receive, send)
            return
        wait = self._take(user, time.monotonic())
        if wait > 0:
            retry_after = str(max(1, math.ceil(wait)))
            error = TooManyRequests(
                f"Too many requests for this user; retry after {retry_after} s.",
                headers={"Retry-After": retry_after},
            )
            await error.response()(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _take(self, user: str, now: float) -> float:
        tokens, last = self.buckets.pop(user, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.refill_per_second)
        if tokens >= 1:
            self.buckets[user] = (tokens - 1, now)
            wait = 0.0
        else:
            self.buckets[user] = (tokens, now)
            wait = (1 - tokens) / self.refill_per_second
        while len(self.buckets) > self.MAX_TRACKED:
            self.buckets.popitem(last=False)
        return wait
