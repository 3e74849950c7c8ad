"""Http1Transport: what it writes, how it reads every kind of answer, its pool, its failures.

Normal behaviour is checked against a real uvicorn + Starlette app; the faults a correct
server cannot produce (garbage, a close mid-body, silence) come from small raw asyncio
servers on 127.0.0.1 that also count connections and requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import gzip
import json
import socket
import time
import warnings
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import anyio
import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from pantry_mcp import http1
from pantry_mcp.client import PantryClient
from pantry_mcp.http1 import Http1Transport
from tests.support import SERVICE_TOKEN, RunningServer, free_port, serve_in_thread, unique

pytestmark = pytest.mark.anyio

TIMEOUTS = httpx2.Timeout(5.0).as_dict()
CHUNKS = [b"first,", b"second,", b"third"]


# ---- a real server ----------------------------------------------------------------------


@dataclass
class Echo:
    """The uvicorn app's side: every request it saw, and from which client port."""

    server: RunningServer
    seen: list[dict[str, object]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.server.base_url}{path}"

    def ports(self) -> list[int]:
        return [int(str(s["port"])) for s in self.seen]


def echo_app(seen: list[dict[str, object]]) -> Starlette:
    async def record(request: Request) -> dict[str, str]:
        assert request.client is not None
        seen.append(
            {
                "method": request.method,
                "path": request.url.path,
                "query": request.scope["query_string"].decode(),
                "headers": [[k.decode(), v.decode()] for k, v in request.scope["headers"]],
                "body": (await request.body()).decode(),
                "port": request.client.port,
            }
        )
        return {"x-client-port": str(request.client.port)}

    async def echo(request: Request) -> Response:
        headers = await record(request)
        return JSONResponse(seen[-1], headers=headers)

    async def chunked(request: Request) -> Response:
        async def parts() -> AsyncIterator[bytes]:
            for part in CHUNKS:
                yield part

        return StreamingResponse(parts(), headers=await record(request))

    async def empty(request: Request) -> Response:
        return Response(status_code=204, headers=await record(request))

    async def close(request: Request) -> Response:
        return Response(b"bye", headers={**await record(request), "connection": "close"})

    async def zipped(request: Request) -> Response:
        body = gzip.compress(json.dumps({"zipped": True}).encode())
        headers = {**await record(request), "content-encoding": "gzip"}
        return Response(body, media_type="application/json", headers=headers)

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(
        routes=[
            Route("/echo", echo, methods=methods),
            Route("/chunked", chunked),
            Route("/empty", empty),
            Route("/close", close),
            Route("/gzip", zipped),
        ]
    )


@pytest.fixture(scope="module")
def echo_server() -> Iterator[tuple[RunningServer, list[dict[str, object]]]]:
    seen: list[dict[str, object]] = []
    with serve_in_thread(echo_app(seen)) as server:
        yield server, seen


@pytest.fixture
def echo(echo_server: tuple[RunningServer, list[dict[str, object]]]) -> Echo:
    server, seen = echo_server
    seen.clear()
    return Echo(server, seen)


@pytest.fixture
async def transport() -> AsyncIterator[Http1Transport]:
    http = Http1Transport()
    yield http
    await http.aclose()


async def send(
    transport: httpx2.AsyncBaseTransport,
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    json: object = None,
    content: bytes | AsyncIterator[bytes] | None = None,
    timeouts: dict[str, float | None] = TIMEOUTS,
) -> httpx2.Response:
    """One request as PantryClient sends it: timeouts set, the body read in full."""
    request = httpx2.Request(
        method,
        url,
        headers=headers,
        json=json,
        content=content,
        extensions={"timeout": timeouts},
    )
    response = await transport.handle_async_request(request)
    try:
        await response.aread()
    finally:
        await response.aclose()
    return response


# ---- raw servers for the faults -----------------------------------------------------------


@dataclass
class Raw:
    """A raw server's bookkeeping: connections accepted and open, requests, closes seen."""

    port: int = 0
    accepted: int = 0
    open: int = 0
    requests: list[bytes] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # set at every change

    async def until(self, condition: Callable[[], bool]) -> None:
        with anyio.fail_after(5):
            while not condition():
                self.changed.clear()
                await self.changed.wait()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, Raw], Awaitable[None]]


@contextlib.asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[Raw]:
    raw = Raw()
    tasks: set[asyncio.Task[None]] = set()

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        raw.accepted += 1
        raw.open += 1
        raw.changed.set()
        try:
            await handler(reader, writer, raw)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            raw.open -= 1
            raw.changed.set()

    server = await asyncio.start_server(connected, "127.0.0.1", 0)
    raw.port = server.sockets[0].getsockname()[1]
    try:
        yield raw
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def read_request(reader: asyncio.StreamReader, raw: Raw) -> bytes:
    """One request, head and body, as it came (b"" once the client has closed)."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return b""
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    request = head + await reader.readexactly(length)
    raw.requests.append(request)
    raw.changed.set()
    return request


async def until_closed(reader: asyncio.StreamReader) -> None:
    """Say nothing; return when the client closes the connection."""
    with contextlib.suppress(ConnectionError):
        while await reader.read(65536):
            pass


def answer(body: bytes = b"ok", *, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


async def keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: Raw) -> None:
    """A correct keep-alive server: answers ``ok`` to every request until the client closes."""
    while await read_request(reader, raw):
        writer.write(answer())
        await writer.drain()


async def one_then_close(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: Raw
) -> None:
    """Answers one request, keep-alive by default, then closes (as at an idle timeout)."""
    await read_request(reader, raw)
    writer.write(answer())
    await writer.drain()


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: Raw) -> None:
    """Reads a request and never answers."""
    await read_request(reader, raw)
    await until_closed(reader)


# ---- what goes out ----------------------------------------------------------------------


async def test_a_get_with_a_query_goes_out_byte_exact(transport: Http1Transport) -> None:
    async with raw_server(keep_alive) as raw:
        response = await send(
            transport,
            "GET",
            raw.url("/recipes?q=chana%20masala&diet=vegan&page=2"),
            headers={"Authorization": "Bearer t", "X-Pantry-User": "alice"},
        )
    assert response.status_code == 200
    assert raw.requests == [
        b"GET /recipes?q=chana%20masala&diet=vegan&page=2 HTTP/1.1\r\n"
        b"Host: 127.0.0.1:" + str(raw.port).encode() + b"\r\n"
        b"Authorization: Bearer t\r\n"
        b"X-Pantry-User: alice\r\n"
        b"\r\n"
    ]


async def test_a_post_with_a_json_body_goes_out_byte_exact(transport: Http1Transport) -> None:
    async with raw_server(keep_alive) as raw:
        await send(
            transport,
            "POST",
            raw.url("/recipes"),
            headers={"Idempotency-Key": "k1"},
            json={"title": "Chana masala", "serves": 4},
        )
    body = b'{"title":"Chana masala","serves":4}'
    assert raw.requests == [
        b"POST /recipes HTTP/1.1\r\n"
        b"Host: 127.0.0.1:" + str(raw.port).encode() + b"\r\n"
        b"Idempotency-Key: k1\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n"
        b"Content-Type: application/json\r\n"
        b"\r\n" + body
    ]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_uvicorn_reads_each_method_query_headers_and_body(
    transport: Http1Transport, echo: Echo, method: str
) -> None:
    response = await send(
        transport,
        method,
        echo.url("/echo?a=1&b=two%20words"),
        headers={"X-Pantry-User": "bob"},
        json={"n": 1},
    )
    assert response.status_code == 200
    seen = response.json()
    assert (seen["method"], seen["path"], seen["query"]) == (method, "/echo", "a=1&b=two%20words")
    assert ["x-pantry-user", "bob"] in seen["headers"]
    assert ["content-type", "application/json"] in seen["headers"]
    assert seen["body"] == '{"n":1}'


async def test_a_header_with_a_line_break_is_refused_before_anything_is_sent(
    transport: Http1Transport,
) -> None:
    async with raw_server(keep_alive) as raw:
        with pytest.raises(httpx2.LocalProtocolError):
            await send(transport, "GET", raw.url(), headers={"X-A": "v\r\nX-Injected: 1"})
    assert raw.accepted == 0


# ---- how answers are read -----------------------------------------------------------------


async def test_sequential_requests_share_one_kept_alive_connection(
    transport: Http1Transport, echo: Echo
) -> None:
    for n in range(5):
        response = await send(transport, "GET", echo.url(f"/echo?n={n}"))
        assert response.json()["query"] == f"n={n}"
    assert len(set(echo.ports())) == 1


class _Held:
    """Something a request keeps in a context variable (as RequestLog keeps its CallLog)."""


_HELD: contextvars.ContextVar[_Held | None] = contextvars.ContextVar("held", default=None)


async def test_a_pooled_connection_keeps_nothing_of_the_request_that_opened_it(
    transport: Http1Transport, echo: Echo
) -> None:
    async def one_request() -> weakref.ref[_Held]:
        held = _Held()
        token = _HELD.set(held)
        try:
            await send(transport, "GET", echo.url("/echo"))
        finally:
            _HELD.reset(token)
        return weakref.ref(held)

    # a task of its own, as each request is: its context dies with it, unless captured
    gone = await asyncio.create_task(one_request())
    gc.collect()
    assert gone() is None, "the kept-alive connection holds the request's context"
    await send(transport, "GET", echo.url("/echo"))  # and the connection is still reused
    assert len(set(echo.ports())) == 1


async def test_a_chunked_answer_is_read_whole_and_the_connection_kept(
    transport: Http1Transport, echo: Echo
) -> None:
    response = await send(transport, "GET", echo.url("/chunked"))
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.content == b"".join(CHUNKS)
    assert response.extensions["http_version"] == b"HTTP/1.1"
    await send(transport, "GET", echo.url("/echo"))
    assert len(set(echo.ports())) == 1


async def test_204_has_no_body_and_the_connection_is_kept(
    transport: Http1Transport, echo: Echo
) -> None:
    response = await send(transport, "GET", echo.url("/empty"))
    assert (response.status_code, response.content) == (204, b"")
    assert (await send(transport, "GET", echo.url("/echo"))).status_code == 200
    assert len(set(echo.ports())) == 1


async def test_a_gzipped_answer_is_decoded_as_httpx2_would(
    transport: Http1Transport, echo: Echo
) -> None:
    response = await send(transport, "GET", echo.url("/gzip"))
    assert response.headers["content-encoding"] == "gzip"
    assert response.json() == {"zipped": True}
    assert response.reason_phrase == "OK"


async def test_connection_close_from_the_server_means_a_new_connection_next(
    transport: Http1Transport, echo: Echo
) -> None:
    assert (await send(transport, "GET", echo.url("/close"))).content == b"bye"
    assert (await send(transport, "GET", echo.url("/echo"))).status_code == 200
    first, second = echo.ports()
    assert first != second


async def test_a_connection_close_answer_is_the_last_even_if_the_socket_stays_open(
    transport: Http1Transport,
) -> None:
    async def says_close(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: Raw
    ) -> None:
        while await read_request(reader, raw):  # says close, but is slow to do it
            writer.write(answer(extra=b"Connection: close\r\n"))
            await writer.drain()

    async with raw_server(says_close) as raw:
        await send(transport, "GET", raw.url())
        await send(transport, "GET", raw.url())
        assert raw.accepted == 2


async def test_connection_close_from_the_caller_is_honoured(transport: Http1Transport) -> None:
    async with raw_server(keep_alive) as raw:  # a server that would keep it open
        await send(transport, "GET", raw.url(), headers={"Connection": "close"})
        await send(transport, "GET", raw.url())
        assert raw.accepted == 2


async def test_an_expired_idle_connection_is_not_reused(echo: Echo) -> None:
    transport = Http1Transport(keepalive_expiry=0.0)
    try:
        await send(transport, "GET", echo.url("/echo"))
        await send(transport, "GET", echo.url("/echo"))
    finally:
        await transport.aclose()
    first, second = echo.ports()
    assert first != second


async def test_a_body_split_over_many_writes_is_put_back_together(
    transport: Http1Transport,
) -> None:
    body = bytes(range(256)) * 8

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: Raw) -> None:
        await read_request(reader, raw)
        wire = answer(body)
        for start in range(0, len(wire), 37):
            writer.write(wire[start : start + 37])
            await writer.drain()
            await asyncio.sleep(0)  # a turn of the loop between writes, not a wait
        await until_closed(reader)

    async with raw_server(trickle) as raw:
        response = await send(transport, "GET", raw.url())
    assert response.content == body
    assert response.headers["content-length"] == str(len(body))


async def test_a_body_that_ends_with_the_close_is_read_whole(transport: Http1Transport) -> None:
    async def until_eof(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: Raw
    ) -> None:
        await read_request(reader, raw)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of ")
        await writer.drain()
        writer.write(b"it")

    async with raw_server(until_eof) as raw:
        response = await send(transport, "GET", raw.url())
        assert response.content == b"all of it"
        assert (await send(transport, "GET", raw.url())).content == b"all of it"
        assert raw.accepted == 2  # not reused: the close was the framing


async def test_a_surplus_answer_means_the_connection_is_not_reused(
    transport: Http1Transport,
) -> None:
    async def answers_twice(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: Raw
    ) -> None:
        while await read_request(reader, raw):
            writer.write(answer(b"first") + answer(b"surplus"))
            await writer.drain()

    async with raw_server(answers_twice) as raw:
        assert (await send(transport, "GET", raw.url())).content == b"first"
        assert (await send(transport, "GET", raw.url())).content == b"first"
        assert raw.accepted == 2


async def test_an_informational_answer_is_skipped(transport: Http1Transport) -> None:
    async def continued(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: Raw
    ) -> None:
        await read_request(reader, raw)
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + answer(b"final"))
        await until_closed(reader)

    async with raw_server(continued) as raw:
        response = await send(transport, "POST", raw.url(), content=b"x")
    assert (response.status_code, response.content) == (200, b"final")


# ---- the pool -----------------------------------------------------------------------------


async def test_twenty_at_once_use_at_most_max_connections_and_keep_max_keepalive() -> None:
    transport = Http1Transport(limits=httpx2.Limits(max_connections=4, max_keepalive_connections=2))
    in_flight = peak = 0
    gate = asyncio.Event()

    async def held(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: Raw) -> None:
        nonlocal in_flight, peak
        while await read_request(reader, raw):
            in_flight += 1
            peak = max(peak, in_flight)
            if in_flight == 4:
                gate.set()  # all four connections carry a request at once
            await gate.wait()
            in_flight -= 1  # before the answer leaves: the client cannot reuse it sooner
            writer.write(answer())
            await writer.drain()

    async with raw_server(held) as raw:
        try:
            with anyio.fail_after(10):
                responses = await asyncio.gather(
                    *(send(transport, "GET", raw.url(f"/{n}")) for n in range(20))
                )
            assert [r.status_code for r in responses] == [200] * 20
            assert len(raw.requests) == 20
            assert peak == 4
            await raw.until(lambda: raw.open == 2)  # the idle ones beyond two were closed
        finally:
            await transport.aclose()


async def test_a_request_waits_for_a_slot_then_times_out_with_pool_timeout() -> None:
    transport = Http1Transport(limits=httpx2.Limits(max_connections=1))
    release = asyncio.Event()

    async def stalls_once(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: Raw
    ) -> None:
        while await read_request(reader, raw):
            await release.wait()
            writer.write(answer())
            await writer.drain()

    async with raw_server(stalls_once) as raw:
        try:
            held = asyncio.create_task(send(transport, "GET", raw.url("/held")))
            await raw.until(lambda: len(raw.requests) == 1)
            with anyio.fail_after(5), pytest.raises(httpx2.PoolTimeout):
                await send(transport, "GET", raw.url(), timeouts={**TIMEOUTS, "pool": 0.05})
            waiting = asyncio.create_task(send(transport, "GET", raw.url("/waited")))
            release.set()
            with anyio.fail_after(5):
                assert (await held).status_code == 200
                assert (await waiting).status_code == 200
            assert raw.accepted == 1  # the waiter got the freed connection
        finally:
            await transport.aclose()


async def test_a_connection_the_server_closed_while_idle_is_not_used(
    transport: Http1Transport,
) -> None:
    async with raw_server(one_then_close) as raw:
        await send(transport, "GET", raw.url())
        await raw.until(lambda: raw.open == 0)
        response = await send(transport, "GET", raw.url())
    assert response.status_code == 200
    assert raw.accepted == 2


async def test_an_idle_connection_to_one_origin_makes_room_for_another() -> None:
    transport = Http1Transport(limits=httpx2.Limits(max_connections=1))
    async with raw_server(keep_alive) as a, raw_server(keep_alive) as b:
        try:
            await send(transport, "GET", a.url())
            with anyio.fail_after(5):
                await send(transport, "GET", b.url(), timeouts={**TIMEOUTS, "pool": 1.0})
            await a.until(lambda: a.open == 0)
        finally:
            await transport.aclose()


async def test_an_idle_connection_the_server_closed_frees_its_keepalive_place() -> None:
    transport = Http1Transport(limits=httpx2.Limits(max_keepalive_connections=1))
    async with raw_server(one_then_close) as a, raw_server(keep_alive) as b:
        try:
            await send(transport, "GET", a.url())
            await a.until(lambda: a.open == 0)
            await send(transport, "GET", b.url())  # kept: the dead one holds no place
            await send(transport, "GET", b.url())
            assert b.accepted == 1
        finally:
            await transport.aclose()


async def test_expired_idle_connections_are_closed_oldest_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [0.0]
    monkeypatch.setattr(http1, "_clock", lambda: now[0])
    transport = Http1Transport(keepalive_expiry=5.0)
    releases = {b"/x": asyncio.Event(), b"/y": asyncio.Event()}

    async def held(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: Raw) -> None:
        while request := await read_request(reader, raw):
            path = request.split(b" ")[1]
            if path in releases:
                await releases[path].wait()
            writer.write(answer())
            await writer.drain()

    async with raw_server(held) as raw:
        try:
            x = asyncio.create_task(send(transport, "GET", raw.url("/x")))
            y = asyncio.create_task(send(transport, "GET", raw.url("/y")))
            await raw.until(lambda: len(raw.requests) == 2)
            releases[b"/x"].set()
            await x  # idle until 5
            now[0] = 10.0
            releases[b"/y"].set()
            await y  # idle until 15
            assert raw.open == 2
            await send(transport, "GET", raw.url("/z"))  # on y; x has expired meanwhile
            await raw.until(lambda: raw.open == 1)
            assert raw.accepted == 2
        finally:
            await transport.aclose()


async def test_a_pool_used_from_a_new_event_loop_starts_afresh(echo: Echo) -> None:
    transport = Http1Transport()

    def on_a_loop_of_its_own() -> int:
        return anyio.run(send, transport, "GET", echo.url("/echo")).status_code

    assert await anyio.to_thread.run_sync(on_a_loop_of_its_own) == 200
    # The first loop is closed with its socket still open: only the collector can close it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:  # this loop connects again
            assert (await send(transport, "GET", echo.url("/echo"))).status_code == 200
        finally:
            await transport.aclose()
        gc.collect()
    first, second = echo.ports()
    assert first != second


def test_on_uvloop_too(echo: Echo) -> None:
    async def scenario() -> None:
        transport = Http1Transport()
        try:
            for n in range(3):
                assert (await send(transport, "GET", echo.url(f"/echo?n={n}"))).status_code == 200
            assert (await send(transport, "GET", echo.url("/chunked"))).content == b"".join(CHUNKS)
            async with raw_server(one_then_close) as raw:
                await send(transport, "GET", raw.url())
                await raw.until(lambda: raw.open == 0)
                assert (await send(transport, "GET", raw.url())).status_code == 200
                assert raw.accepted == 2
            async with raw_server(silent) as raw:
                with anyio.fail_after(5), pytest.raises(httpx2.ReadTimeout):
                    await send(transport, "GET", raw.url(), timeouts={**TIMEOUTS, "read": 0.05})
        finally:
            await transport.aclose()

    anyio.run(scenario, backend_options={"use_uvloop": True})
    assert len(set(echo.ports())) == 1


# ---- failures -----------------------------------------------------------------------------


async def test_connect_refused_is_connect_error(transport: Http1Transport) -> None:
    with pytest.raises(httpx2.ConnectError):
        await send(transport, "GET", f"http://127.0.0.1:{free_port()}/")


async def test_a_name_that_does_not_resolve_is_connect_error(
    transport: Http1Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_such_name(*args: object, **kwargs: object) -> list[object]:
        raise socket.gaierror(socket.EAI_NONAME, "unknown to the test resolver")

    # the loop's resolver, answered here: no DNS server is asked
    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", no_such_name)
    with pytest.raises(httpx2.ConnectError, match="test resolver"):
        await send(transport, "GET", "http://pantry.invalid/")


async def test_a_close_before_any_answer_is_remote_protocol_error(
    transport: Http1Transport,
) -> None:
    async def hangs_up(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: Raw
    ) -> None:
        await read_request(reader, raw)

    async with raw_server(hangs_up) as raw:
        with pytest.raises(httpx2.RemoteProtocolError, match="without sending a response"):
            await send(transport, "GET", raw.url())


async def test_a_close_mid_body_is_an_error_and_the_next_request_works(
    transport: Http1Transport,
) -> None:
    async def cut_short(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: Raw
    ) -> None:
        if raw.accepted == 1:  # the first connection only
            await read_request(reader, raw)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
            return
        await keep_alive(reader, writer, raw)

    async with raw_server(cut_short) as raw:
        with pytest.raises((httpx2.RemoteProtocolError, httpx2.ReadError)):
            await send(transport, "GET", raw.url())
        assert (await send(transport, "GET", raw.url())).content == b"ok"


async def test_a_chunked_body_cut_short_is_an_error(transport: Http1Transport) -> None:
    async def cut_short(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: Raw
    ) -> None:
        await read_request(reader, raw)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")

    async with raw_server(cut_short) as raw:
        with pytest.raises((httpx2.RemoteProtocolError, httpx2.ReadError)):
            await send(transport, "GET", raw.url())


async def test_garbage_is_remote_protocol_error(transport: Http1Transport) -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: Raw) -> None:
        await read_request(reader, raw)
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await until_closed(reader)

    async with raw_server(garbage) as raw:
        with pytest.raises(httpx2.RemoteProtocolError):
            await send(transport, "GET", raw.url())
        await raw.until(lambda: raw.open == 0)  # and that connection was closed


async def test_silence_is_read_timeout_and_the_connection_is_closed(
    transport: Http1Transport,
) -> None:
    async with raw_server(silent) as raw:
        with anyio.fail_after(5), pytest.raises(httpx2.ReadTimeout):
            await send(transport, "GET", raw.url(), timeouts={**TIMEOUTS, "read": 0.05})
        await raw.until(lambda: raw.open == 0)


async def test_the_read_timeout_bounds_silence_not_the_whole_answer(
    transport: Http1Transport,
) -> None:
    async def slow_but_steady(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: Raw
    ) -> None:
        await read_request(reader, raw)
        wire = answer(b"steady")
        for start in range(0, len(wire), 5):
            writer.write(wire[start : start + 5])
            await writer.drain()
            await asyncio.sleep(0.05)  # the pauses are what is tested: each well under 0.3 s
        await until_closed(reader)

    async with raw_server(slow_but_steady) as raw:
        started = time.monotonic()
        response = await send(transport, "GET", raw.url(), timeouts={**TIMEOUTS, "read": 0.3})
        assert response.content == b"steady"
        assert time.monotonic() - started > 0.3  # longer in all than the read timeout


async def test_a_server_that_reads_nothing_is_write_timeout(transport: Http1Transport) -> None:
    async def deaf(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: Raw) -> None:
        await asyncio.Event().wait()  # never reads: the socket buffers fill up

    async with raw_server(deaf) as raw:
        big = b"x" * (64 * 1024 * 1024)  # more than loopback's buffers on both sides
        with anyio.fail_after(10), pytest.raises(httpx2.WriteTimeout):
            await send(
                transport, "POST", raw.url(), content=big, timeouts={**TIMEOUTS, "write": 0.1}
            )


async def test_cancelling_a_request_closes_its_connection_and_the_next_works(
    transport: Http1Transport,
) -> None:
    async def first_stalls(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: Raw
    ) -> None:
        if raw.accepted == 1:
            await read_request(reader, raw)
            await until_closed(reader)
        else:
            await keep_alive(reader, writer, raw)

    async with raw_server(first_stalls) as raw:
        task = asyncio.create_task(send(transport, "GET", raw.url()))
        await raw.until(lambda: len(raw.requests) == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await raw.until(lambda: raw.open == 0)  # the client closed the cancelled connection
        assert (await send(transport, "GET", raw.url())).content == b"ok"
        assert raw.accepted == 2


# ---- what goes to the stock transport -----------------------------------------------------


class Recorder(httpx2.AsyncBaseTransport):
    """A stand-in for the stock transport: answers 299 and remembers what it was given."""

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []
        self.closed = False

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        return httpx2.Response(299)

    async def aclose(self) -> None:
        self.closed = True


async def test_https_other_methods_and_streamed_bodies_go_to_the_stock_transport(
    echo: Echo,
) -> None:
    stock = Recorder()
    transport = Http1Transport(fallback=stock)

    async def streamed() -> AsyncIterator[bytes]:
        yield b"a"

    try:
        assert (await send(transport, "GET", "https://127.0.0.1:1/")).status_code == 299
        assert (await send(transport, "HEAD", echo.url("/echo"))).status_code == 299
        assert (
            await send(transport, "POST", echo.url("/echo"), content=streamed())
        ).status_code == 299
        chunked = {"Transfer-Encoding": "chunked"}
        assert (
            await send(transport, "POST", echo.url("/echo"), headers=chunked)
        ).status_code == 299
        assert (await send(transport, "GET", echo.url("/echo"))).status_code == 200
    finally:
        await transport.aclose()
    assert [(r.method, r.url.scheme) for r in stock.requests] == [
        ("GET", "https"),
        ("HEAD", "http"),
        ("POST", "http"),
        ("POST", "http"),
    ]
    assert len(echo.seen) == 1


async def test_the_default_stock_transport_speaks_tls(
    transport: Http1Transport, echo: Echo
) -> None:
    # TLS to a plain HTTP port fails in the handshake: httpcore's error, not ours
    with pytest.raises(httpx2.ConnectError):
        await send(transport, "GET", echo.url("/echo").replace("http://", "https://"))


def test_under_trio_everything_goes_to_the_stock_transport(echo: Echo) -> None:
    stock = Recorder()
    transport = Http1Transport(fallback=stock)
    response = anyio.run(send, transport, "GET", echo.url("/echo"), backend="trio")
    assert response.status_code == 299
    assert echo.seen == []


# ---- closing ------------------------------------------------------------------------------


async def test_aclose_closes_connections_and_the_stock_transport_and_refuses_more() -> None:
    stock = Recorder()
    transport = Http1Transport(fallback=stock)
    async with raw_server(keep_alive) as raw:
        await send(transport, "GET", raw.url())
        await transport.aclose()
        await raw.until(lambda: raw.open == 0)
        assert stock.closed
        with pytest.raises(httpx2.ConnectError, match="closed"):
            await send(transport, "GET", raw.url())
        with pytest.raises(httpx2.TransportError):
            await send(transport, "GET", "https://127.0.0.1:1/")
        assert raw.accepted == 1


# ---- with the real client and the real Pantry ---------------------------------------------


async def test_pantry_client_searches_and_writes_once_over_http1(
    pantry_server: RunningServer,
) -> None:
    class Refuse(httpx2.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            raise AssertionError(f"sent to the stock transport: {request.method} {request.url}")

    user = unique("http1")
    client = PantryClient(
        pantry_server.base_url, SERVICE_TOKEN, transport=Http1Transport(fallback=Refuse())
    )
    try:
        found = await client.search_recipes(user, q="curry", page_size=5)
        assert found["items"]
        milk = (await client.search_ingredients(user, "milk"))["items"][0]
        item = {"ingredient_id": milk["id"], "quantity": 1, "unit": "l"}
        key = unique("add-milk")
        first = await client.add_pantry_item(user, item, idempotency_key=key)
        again = await client.add_pantry_item(user, item, idempotency_key=key)
        assert again == first
        held = (await client.list_pantry(user))["items"]
        assert [(i["ingredient_id"], i["quantity"]) for i in held] == [(milk["id"], 1.0)]
    finally:
        await client.aclose()
