"""Http1Transport: HTTP/1.1 keep-alive for httpx2 on asyncio protocols and httptools.

Why: one loopback GET through httpx2's stock transport (httpcore2, h11, anyio streams) costs
the client about 430 µs of CPU; the same exchange over an ``asyncio.Protocol`` with the
httptools C parser costs about 60 µs, and pantry-mcp makes one or more per tool call.

The fast path takes requests that are

- to ``http://`` URLs,
- GET, POST, PUT, PATCH or DELETE,
- with a body already in memory (``request.content`` readable: ``content=`` bytes,
  ``json=``, ``data=``) and no Transfer-Encoding header of the caller's,
- made on an asyncio event loop (uvloop or not).

Everything else (``https://``, other methods, streamed bodies, trio) is handed to a stock
``httpx2.AsyncHTTPTransport`` this transport owns, with the same limits.

On the wire: the request line with ``request.url.raw_path``, then ``request.headers.raw``
exactly as httpx2 built them (Host included), then the body, in one write. The response is
parsed by httptools (Content-Length, chunked, no body for 1xx/204/304, or a body that ends
when the server closes) and read in full before it is returned, so the connection is back
in the pool when the caller gets it. The body is an ``httpx2.ByteStream``: httpx2 decodes
any Content-Encoding exactly as for the stock transport.

Pool: keep-alive connections per (host, port); at most ``max_connections`` in all (a request
waits up to its pool timeout for one, else PoolTimeout) and ``max_keepalive_connections``
idle, each for ``keepalive_expiry`` seconds. A connection the server closed while it sat
idle (EOF seen, or readable when taken) is dropped, never used. One event loop at a time: a
request from a new loop (a test's, a restarted app's) starts a fresh pool.

Timeouts come from ``request.extensions["timeout"]`` as httpx2 sets them (None: no limit):
connect → ConnectTimeout; write, only when the socket pushes back → WriteTimeout; read, the
longest silence while waiting for the response (as httpcore) → ReadTimeout.

Every failure is an httpx2.TransportError, as the stock transport raises them:
ConnectError (refused, DNS, or this transport closed), ConnectTimeout, ReadTimeout,
WriteTimeout, PoolTimeout, ReadError (reset by the peer), RemoteProtocolError (closed early,
malformed), LocalProtocolError (CR or LF in a header). A connection that saw any error, or
whose request was cancelled, is closed and never reused; cancellation propagates unchanged.

Under httpx2's interface is this transport's own, for a caller that has its request on the
wire format already and wants the bytes back without httpx2's objects (PantryClient does, a
third of its CPU per call): ``request_head`` builds and checks the head, ``exchange`` sends
it with a body over the same pool and returns a ``RawResponse`` (status, raw headers, the
body as it came: no Content-Encoding is undone there). It needs a running asyncio loop.

Not here, on purpose: TLS, HTTP/2, proxies, Upgrade/CONNECT, HEAD (its response carries the
framing of a body never sent), streamed responses, and resending a request the server
dropped on a reused connection (only the caller knows whether sending it again is safe).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import math
import select
import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import cast

import httptools
import httpx2

Key = tuple[bytes, int]  # (host, port)
Timeouts = Mapping[str, float | None]

_METHODS = {m: m.encode() for m in ("GET", "POST", "PUT", "PATCH", "DELETE")}
_VERSIONS = {"1.1": b"HTTP/1.1", "1.0": b"HTTP/1.0"}
NO_TIMEOUTS: Timeouts = {}
_DEFAULT_LIMITS = httpx2.Limits(max_connections=100, max_keepalive_connections=50)
_DISCONNECTED = "Server disconnected without sending a response."
_CLOSED = "Cannot send a request, as the transport has been closed."
_clock = time.monotonic  # for keep-alive expiry (tests move it)
_HAS_POLL = hasattr(select, "poll")  # not on Windows: there EOF is only seen by the loop


class RawResponse:
    """One whole HTTP response as it came off the wire."""

    __slots__ = ("body", "headers", "http_version", "reason", "status")

    def __init__(
        self,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        http_version: bytes = b"HTTP/1.1",
        reason: bytes = b"",
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.http_version = http_version
        self.reason = reason

    def header(self, name: bytes) -> bytes | None:
        """The first value of header ``name`` (given in lower case), or None."""
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


def request_head(method: bytes, target: bytes, headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    """The request line and headers on the wire format, refused (LocalProtocolError) if a
    CR or LF inside any of them would split it: the one check between a value and a socket."""
    parts = [method, b" ", target, b" HTTP/1.1\r\n"]
    lines = 2
    for name, value in headers:
        parts += (name, b": ", value, b"\r\n")
        lines += 1
    parts.append(b"\r\n")
    head = b"".join(parts)
    if head.count(b"\n") != lines or head.count(b"\r") != lines:
        raise httpx2.LocalProtocolError("Illegal request line or header: CR or LF inside.")
    return head


class _Connection(asyncio.Protocol):
    """One socket to one origin: writes a request, parses the answer, resolves the waiter."""

    __slots__ = (
        "_body",
        "_complete",
        "_drain",
        "_headers",
        "_keep",
        "_keep_request",
        "_last_read",
        "_loop",
        "_owner",
        "_parser",
        "_paused",
        "_poll",
        "_reason",
        "_received",
        "_status",
        "_timer",
        "_transport",
        "_until_eof",
        "_version",
        "_waiter",
        "closed",
        "expires_at",
        "idle",
        "key",
    )

    def __init__(self, owner: Http1Transport, key: Key, loop: asyncio.AbstractEventLoop) -> None:
        self._owner = owner
        self.key = key
        self._loop = loop
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._poll: select.poll | None = None
        self.closed = False  # gone or going: never to carry another request
        self.idle = False  # in the pool's idle stack
        self.expires_at = math.inf
        self._waiter: asyncio.Future[RawResponse] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._paused = False
        self._last_read = 0.0
        self._keep_request = True
        self._keep = False
        self._received = False
        self._complete = False
        self._until_eof = False
        self._status = 0
        self._version = b"HTTP/1.1"
        self._reason = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []

    # ---- the request side ---------------------------------------------------------------

    async def exchange(self, data: bytes, keep: bool, timeouts: Timeouts) -> RawResponse:
        """Send one request (already on the wire format) and return its whole response."""
        transport = self._transport
        if self.closed or transport is None:  # a new socket the server closed at once
            raise httpx2.RemoteProtocolError(_DISCONNECTED)
        loop = self._loop
        waiter: asyncio.Future[RawResponse] = loop.create_future()
        self._waiter = waiter
        self._keep_request = keep
        self._keep = self._received = self._complete = self._until_eof = False
        try:
            try:
                transport.write(data)
            except (OSError, RuntimeError) as error:
                raise httpx2.WriteError(str(error) or type(error).__name__) from error
            if self._paused:
                await self._drained(timeouts.get("write"))
            read = timeouts.get("read")
            if read is not None:
                self._last_read = loop.time()
                self._timer = loop.call_later(read, self._check_read, read)
            return await waiter
        finally:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._waiter = None

    @property
    def reusable(self) -> bool:
        """The last exchange ended cleanly, both sides allow another, nothing is left unsent."""
        transport = self._transport
        return (
            self._keep
            and self._complete
            and not self.closed
            and transport is not None
            and transport.get_write_buffer_size() == 0
        )

    def stale(self) -> bool:
        """Closed, or readable while idle: EOF (or stray bytes) the loop has not read yet."""
        if self.closed or self._transport is None or self._transport.is_closing():
            return True
        return bool(self._poll is not None and self._poll.poll(0))

    def abandon(self) -> None:
        """Close the socket now, whatever is in flight (an error, a cancel, an eviction)."""
        self.closed = True
        self._wake_drain()
        if self._transport is not None:
            with contextlib.suppress(RuntimeError):  # its event loop is already closed
                self._transport.abort()

    def fail(self, error: Exception) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        self.abandon()

    async def _drained(self, limit: float | None) -> None:
        """Wait for the socket to take the rest of the request (or for the answer anyway)."""
        drain: asyncio.Future[None] = self._loop.create_future()
        self._drain = drain
        timer = None if limit is None else self._loop.call_later(limit, _write_timed_out, drain)
        try:
            await drain
        finally:
            self._drain = None
            if timer is not None:
                timer.cancel()

    def _wake_drain(self) -> None:
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    def _check_read(self, timeout: float) -> None:
        """The one timer of a request: silent for ``timeout`` seconds fails it, else re-arm."""
        self._timer = None
        if self._waiter is None or self._waiter.done():
            return
        remaining = self._last_read + timeout - self._loop.time()
        if remaining > 0.001:
            self._timer = self._loop.call_later(remaining, self._check_read, timeout)
        else:
            self.fail(httpx2.ReadTimeout("Timed out waiting for the server's response."))

    # ---- asyncio's side -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast("asyncio.Transport", transport)  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None and _HAS_POLL:
            self._poll = select.poll()
            self._poll.register(sock.fileno(), select.POLLIN)

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # bytes on an idle socket: its framing can't be trusted
            self.abandon()
            return
        self._received = True
        self._last_read = self._loop.time()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.fail(httpx2.RemoteProtocolError("The server switched protocols unasked."))
        except httptools.HttpParserError as error:
            self.fail(httpx2.RemoteProtocolError(f"Malformed response from the server: {error}"))

    def eof_received(self) -> bool:
        self.closed = True  # connection_lost follows; until then nobody may take this socket
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._wake_drain()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            if exc is not None:
                waiter.set_exception(httpx2.ReadError(str(exc) or type(exc).__name__))
            elif self._until_eof:  # the body ran until the close, as its headers said
                self._finish()
            elif not self._received:
                waiter.set_exception(httpx2.RemoteProtocolError(_DISCONNECTED))
            else:
                waiter.set_exception(
                    httpx2.RemoteProtocolError("Server disconnected before the response ended.")
                )
        if self.idle:
            self._owner.forget_idle(self)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._wake_drain()

    # ---- httptools' side ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._complete:  # a second answer to one request: the socket's framing is lost
            self.abandon()
        self._reason = b""
        self._headers = []
        self._body = []

    def on_status(self, status: bytes) -> None:
        self._reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self._parser
        self._status = parser.get_status_code()
        version = parser.get_http_version()
        self._version = _VERSIONS.get(version) or f"HTTP/{version}".encode()
        alive = parser.should_keep_alive()
        self._keep = self._keep_request and alive
        self._until_eof = not alive and _body_until_eof(self._status, self._headers)

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._status >= 200 and not self._complete:  # 1xx: the real answer follows
            self._finish()

    def _finish(self) -> None:
        self._complete = True
        self._wake_drain()
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        body = self._body
        content = body[0] if len(body) == 1 else b"".join(body)
        waiter.set_result(
            RawResponse(self._status, self._headers, content, self._version, self._reason)
        )


def _write_timed_out(drain: asyncio.Future[None]) -> None:
    if not drain.done():
        drain.set_exception(httpx2.WriteTimeout("Timed out sending the request."))


def _body_until_eof(status: int, headers: list[tuple[bytes, bytes]]) -> bool:
    """True for a response whose body is framed by the close alone (neither length nor
    chunked); only asked when the server will not keep the connection."""
    if status < 200 or status in (204, 304):
        return False
    for name, value in headers:
        lower = name.lower()
        if lower == b"content-length":
            return False
        if lower == b"transfer-encoding" and value.lower().rstrip().endswith(b"chunked"):
            return False
    return True


class Http1Transport(httpx2.AsyncBaseTransport):
    """httpx2 transport: plain HTTP/1.1 on asyncio itself, everything else to a stock one.

    ``keepalive_expiry`` (seconds an idle connection is kept) defaults to the limits' own
    (5 s unless set there). ``fallback`` replaces the stock transport (for tests).
    """

    def __init__(
        self,
        *,
        limits: httpx2.Limits = _DEFAULT_LIMITS,
        keepalive_expiry: float | None = None,
        fallback: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        expiry = limits.keepalive_expiry if keepalive_expiry is None else keepalive_expiry
        self._expiry = math.inf if expiry is None else expiry
        most = limits.max_connections
        self._max_connections = math.inf if most is None else most
        keepalive = limits.max_keepalive_connections
        self._max_idle = math.inf if keepalive is None else keepalive
        # Made on first use: a stock transport loads the CA bundle for TLS at once (memory
        # and start-up time a plain-HTTP Pantry never needs).
        self._fallback = fallback
        self._fallback_limits = httpx2.Limits(
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=expiry,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connections: set[_Connection] = set()  # open or opening: what the limit counts
        self._idle: dict[Key, list[_Connection]] = {}  # most recently used last
        self._idle_count = 0
        self._waiters: deque[asyncio.Future[None]] = deque()  # requests waiting for a slot
        self._closed = False

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if self._closed:
            raise httpx2.ConnectError(_CLOSED)
        url = request.url
        method = _METHODS.get(request.method)
        if method is None or url.scheme != "http":
            return await self._stock().handle_async_request(request)
        try:
            body = request.content  # RequestNotRead: a streamed body
            asyncio.get_running_loop()  # RuntimeError: not asyncio (trio)
        except RuntimeError:
            return await self._stock().handle_async_request(request)
        head = request_head(method, url.raw_path, request.headers.raw)
        keep = True
        lower = head.lower()
        if b"\ntransfer-encoding:" in lower:  # the caller frames the body: not ours to send
            return await self._stock().handle_async_request(request)
        if b"\nconnection:" in lower:
            keep = not any("close" in v.lower() for v in request.headers.get_list("connection"))
        timeouts: Timeouts = request.extensions.get("timeout") or NO_TIMEOUTS
        raw = await self.exchange(
            url.raw_host, url.port or 80, head, body, keep=keep, timeouts=timeouts
        )
        return httpx2.Response(
            raw.status,
            headers=raw.headers,
            stream=httpx2.ByteStream(raw.body),
            extensions={"http_version": raw.http_version, "reason_phrase": raw.reason},
        )

    async def exchange(
        self,
        host: bytes,
        port: int,
        head: bytes,
        body: bytes = b"",
        *,
        keep: bool = True,
        timeouts: Timeouts = NO_TIMEOUTS,
    ) -> RawResponse:
        """Send ``head`` (from ``request_head``: Host and any Content-Length included) and
        ``body`` to ``host``:``port`` over a pooled connection and return the whole answer.

        ``keep=False`` closes the connection afterwards. Timeouts and errors are as for
        ``handle_async_request``; RuntimeError when no asyncio loop runs (use httpx2's
        interface there)."""
        if self._closed:
            raise httpx2.ConnectError(_CLOSED)
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._bind(loop)
        key = (host, port)
        connection = self._take_idle(key) or await self._acquire(key, timeouts, loop)
        try:
            response = await connection.exchange(head + body if body else head, keep, timeouts)
        except BaseException:
            self._drop(connection)
            raise
        self._release(connection)
        return response

    async def aclose(self) -> None:
        self._closed = True
        for connection in list(self._connections):
            connection.fail(httpx2.ReadError("The transport was closed during the request."))
        self._connections.clear()
        self._idle.clear()
        self._idle_count = 0
        while self._waiters:  # they wake, see the transport closed, and raise
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
        if self._fallback is not None:
            await self._fallback.aclose()

    def _stock(self) -> httpx2.AsyncBaseTransport:
        if self._fallback is None:
            self._fallback = httpx2.AsyncHTTPTransport(limits=self._fallback_limits)
        return self._fallback

    # ---- the pool -------------------------------------------------------------------------

    def _take_idle(self, key: Key) -> _Connection | None:
        stack = self._idle.get(key)
        if not stack:
            return None
        now = _clock()
        while stack:
            connection = stack.pop()
            self._idle_count -= 1
            connection.idle = False
            if connection.expires_at > now and not connection.stale():
                # the oldest go first when they expire; the rest wait for their turn
                while stack and stack[0].expires_at <= now:
                    oldest = stack.pop(0)
                    self._idle_count -= 1
                    oldest.idle = False
                    self._drop(oldest)
                return connection
            self._drop(connection)
        return None

    async def _acquire(
        self, key: Key, timeouts: Timeouts, loop: asyncio.AbstractEventLoop
    ) -> _Connection:
        """A new connection if the limit allows, else the next one freed, within the pool
        timeout."""
        deadline: float | None = None
        while True:
            if len(self._connections) < self._max_connections or self._evict_idle():
                return await self._connect(key, timeouts.get("connect"), loop)
            if deadline is None:
                pool = timeouts.get("pool")
                deadline = math.inf if pool is None else loop.time() + pool
            await self._wait_for_slot(deadline, loop)
            if self._closed:
                raise httpx2.ConnectError(_CLOSED)
            connection = self._take_idle(key)
            if connection is not None:
                return connection

    async def _connect(
        self, key: Key, limit: float | None, loop: asyncio.AbstractEventLoop
    ) -> _Connection:
        connection = _Connection(self, key, loop)
        self._connections.add(connection)
        host, port = key[0].decode("ascii"), key[1]
        try:
            try:
                async with asyncio.timeout(limit):
                    # In an empty context: the connection's callbacks run in the context it
                    # was made in, and it outlives this request (its logs, its Pantry calls).
                    opening = loop.create_connection(lambda: connection, host, port)
                    await loop.create_task(opening, context=contextvars.Context())
            except TimeoutError as error:  # ours, or the kernel's ETIMEDOUT
                raise httpx2.ConnectTimeout(str(error) or "Timed out connecting.") from error
            except OSError as error:  # refused, unreachable, DNS (gaierror)
                raise httpx2.ConnectError(str(error) or type(error).__name__) from error
        except BaseException:
            self._drop(connection)
            raise
        return connection

    async def _wait_for_slot(self, deadline: float, loop: asyncio.AbstractEventLoop) -> None:
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        timer = None
        if deadline != math.inf:
            timer = loop.call_later(deadline - loop.time(), _pool_timed_out, waiter)
        try:
            await waiter
        except BaseException:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            elif waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._wake()  # we were woken, then cancelled: pass the turn on
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def _wake(self) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _release(self, connection: _Connection) -> None:
        if (
            connection.reusable
            and not self._closed
            and self._idle_count < self._max_idle
            and connection in self._connections  # not from a pool that was reset meanwhile
        ):
            connection.idle = True
            connection.expires_at = _clock() + self._expiry
            self._idle.setdefault(connection.key, []).append(connection)
            self._idle_count += 1
            if self._waiters:
                self._wake()
        else:
            self._drop(connection)

    def _drop(self, connection: _Connection) -> None:
        connection.abandon()
        if connection in self._connections:
            self._connections.discard(connection)
            if self._waiters:
                self._wake()

    def _evict_idle(self) -> bool:
        """Close the oldest idle connection to another origin, to make room for this one."""
        for stack in self._idle.values():
            if stack:
                oldest = stack.pop(0)
                self._idle_count -= 1
                oldest.idle = False
                oldest.abandon()
                self._connections.discard(oldest)
                return True
        return False

    def forget_idle(self, connection: _Connection) -> None:
        """The server closed an idle connection: free its slot."""
        stack = self._idle.get(connection.key)
        if stack is not None and connection in stack:
            stack.remove(connection)
            self._idle_count -= 1
        connection.idle = False
        self._drop(connection)

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Sockets live on one event loop: a new loop starts the pool afresh. The old loop
        closes its sockets if it still runs; once closed, only the garbage collector can."""
        old = self._loop
        if old is not None:
            for connection in self._connections:
                with contextlib.suppress(RuntimeError):  # closed already
                    old.call_soon_threadsafe(connection.abandon)
        self._connections = set()
        self._idle = {}
        self._idle_count = 0
        self._waiters = deque()
        self._loop = loop


def _pool_timed_out(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(httpx2.PoolTimeout("Timed out waiting for a connection."))
