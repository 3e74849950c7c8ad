"""PantryClient over its own wire: the bytes it writes to Pantry without httpx2's objects.

Over ``Http1Transport`` on an asyncio loop, the client writes each request itself
(``_Wire``) and reads the answer as bytes. These tests pin what goes out, byte for byte,
and that it is the same request httpx2's path would have sent; the raw servers come from
``test_http1``.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Iterator
from typing import Any

import anyio
import httpx2
import pytest

from pantry_mcp.client import PantryClient, PantryInvalid, PantryUnavailable
from pantry_mcp.http1 import Http1Transport
from tests.pantry_mcp.test_http1 import Handler, Raw, Recorder, raw_server, read_request

pytestmark = pytest.mark.anyio

SERVICE = "svc-token"


class Refuse(httpx2.AsyncBaseTransport):
    """The stock transport's place: anything handed to it is a failure of the test."""

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        raise AssertionError(f"went through httpx2: {request.method} {request.url}")


def replies(*answers: bytes) -> Handler:
    """A keep-alive server that answers its requests with ``answers`` in turn."""
    queue: Iterator[bytes] = iter(answers)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: Raw) -> None:
        while await read_request(reader, raw):
            writer.write(next(queue))
            await writer.drain()

    return handler


def reply(status: int = 200, body: bytes = b"{}", *, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s" % (
        status,
        len(body),
        extra,
        body,
    )


def wire_client(raw: Raw, path: str = "") -> PantryClient:
    return PantryClient(
        raw.url(path), SERVICE, transport=Http1Transport(fallback=Refuse()), timeout=5.0
    )


def host(raw: Raw) -> bytes:
    return b"Host: 127.0.0.1:%d\r\n" % raw.port


async def test_a_search_goes_out_byte_exact() -> None:
    async with raw_server(replies(reply(body=b'{"items":[]}'))) as raw:
        client = wire_client(raw)
        found = await client.search_recipes(
            "alice", q="chana masala", page_size=5, dietary=["vegan", "gluten-free"], mine=True
        )
        await client.aclose()
    assert found == {"items": []}
    assert raw.requests == [
        b"GET /recipes?q=chana%20masala&page_size=5&dietary=vegan&dietary=gluten-free&mine=true"
        b" HTTP/1.1\r\n" + host(raw) + b"Authorization: Bearer svc-token\r\n"
        b"Accept: application/json\r\n"
        b"X-Pantry-User: alice\r\n"
        b"\r\n"
    ]


async def test_a_write_carries_its_key_and_a_utf8_json_body() -> None:
    async with raw_server(replies(reply(201, b'{"id":"x"}'))) as raw:
        client = wire_client(raw)
        body = {"ingredient_id": "milk", "note": "épicé, 2 l"}
        await client.add_pantry_item("alice", body, idempotency_key="k1")
        await client.aclose()
    payload = '{"ingredient_id":"milk","note":"épicé, 2 l"}'.encode()
    assert raw.requests == [
        b"POST /pantry/items HTTP/1.1\r\n" + host(raw) + b"Authorization: Bearer svc-token\r\n"
        b"Accept: application/json\r\n"
        b"X-Pantry-User: alice\r\n"
        b"Idempotency-Key: k1\r\n"
        b"Content-Length: %d\r\n"
        b"Content-Type: application/json\r\n"
        b"\r\n" % len(payload) + payload
    ]


async def test_a_post_without_a_body_says_so_and_a_delete_says_nothing() -> None:
    async with raw_server(replies(reply(body=b'{"declined":true}'), reply(204, b""))) as raw:
        client = wire_client(raw)
        await client.decline_preferences("alice")
        await client.remove_pantry_item("alice", "milk")
        await client.aclose()
    assert b"Content-Length: 0\r\n\r\n" in raw.requests[0]
    assert b"Content-Type" not in raw.requests[0]
    assert raw.requests[1].startswith(b"DELETE /pantry/items/milk HTTP/1.1\r\n")
    assert b"Content-Length" not in raw.requests[1]


async def test_a_base_url_with_a_path_prefixes_every_request() -> None:
    async with raw_server(replies(reply(body=b'{"items":[]}'))) as raw:
        client = wire_client(raw, "/api/v1/")
        await client.list_pantry("alice")
        await client.aclose()
    assert raw.requests[0].startswith(b"GET /api/v1/pantry HTTP/1.1\r\n")


async def test_an_encoded_answer_nobody_asked_for_is_decoded() -> None:
    zipped = gzip.compress(b'{"items":[1]}')
    async with raw_server(replies(reply(body=zipped, extra=b"Content-Encoding: gzip\r\n"))) as raw:
        client = wire_client(raw)
        assert await client.list_pantry("alice") == {"items": [1]}
        await client.aclose()
    assert b"accept-encoding" not in raw.requests[0].lower()


async def test_a_broken_encoding_is_pantry_unavailable() -> None:
    broken = reply(body=b"not gzip", extra=b"Content-Encoding: gzip\r\n")
    async with raw_server(replies(*[broken] * 3)) as raw:
        client = wire_client(raw)
        with pytest.raises(PantryUnavailable):
            await client.list_pantry("alice")
        await client.aclose()


async def test_retry_after_is_read_from_the_raw_header() -> None:
    busy = reply(503, b'{"error":{}}', extra=b"Retry-After: 0\r\n")
    async with raw_server(replies(busy, reply(body=b'{"items":[]}'))) as raw:
        client = wire_client(raw)
        assert await client.list_pantry("alice") == {"items": []}
        await client.aclose()
    assert len(raw.requests) == 2


async def test_a_url_too_long_to_send_is_refused_before_anything_goes_out() -> None:
    async with raw_server(replies()) as raw:
        client = wire_client(raw)
        with pytest.raises(PantryInvalid) as refused:
            await client.search_recipes("alice", q="x" * 70_000)
        await client.aclose()
    assert refused.value.status == 414
    assert raw.accepted == 0


async def test_a_value_http_cannot_carry_is_refused_not_retried() -> None:
    async with raw_server(replies()) as raw:
        client = wire_client(raw)
        for user in ("alice\r\nX-Injected: 1", "ålice"):
            with pytest.raises(PantryInvalid) as refused:
                await client.list_pantry(user)
            assert refused.value.status == 400
        await client.aclose()
    assert raw.accepted == 0


async def test_a_query_utf8_cannot_hold_is_refused_before_anything_goes_out() -> None:
    async with raw_server(replies()) as raw:
        client = wire_client(raw)
        with pytest.raises(PantryInvalid) as refused:
            await client.search_recipes("alice", q="soup \ud800")
        await client.aclose()
    assert refused.value.status == 400
    assert raw.accepted == 0


def test_a_service_token_with_a_line_break_fails_at_start() -> None:
    with pytest.raises(httpx2.LocalProtocolError):
        PantryClient("http://127.0.0.1:9", "svc\r\nX-Injected: 1")


async def test_the_wire_sends_what_httpx2_would_have_sent() -> None:
    """The same calls through httpx2's path (a MockTransport) carry the same method,
    target, headers and body: the wire is a faster path, not a different request."""
    calls: list[tuple[str, dict[str, Any]]] = [
        ("search_recipes", {"q": "dal & rice", "page": 2, "dietary": ["vegan"], "mine": False}),
        (
            "add_pantry_item",
            {"body": {"ingredient_id": "dal", "note": "ß"}, "idempotency_key": "k"},
        ),
        ("decline_preferences", {}),
        ("remove_pantry_item", {"ingredient_id": "dal"}),
    ]
    seen: list[httpx2.Request] = []

    def mock(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json={})

    async with raw_server(replies(*[reply()] * len(calls))) as raw:
        wired = wire_client(raw)
        plain = PantryClient(raw.url(), SERVICE, transport=httpx2.MockTransport(mock))
        for method, arguments in calls:
            for client in (wired, plain):
                args = [arguments[k] for k in ("ingredient_id",) if k in arguments]
                kwargs = {k: v for k, v in arguments.items() if k != "ingredient_id"}
                await getattr(client, method)("alice", *args, **kwargs)
        await wired.aclose()
        await plain.aclose()
    for written, request in zip(raw.requests, seen, strict=True):
        head, _, body = written.partition(b"\r\n\r\n")
        line, *fields = head.split(b"\r\n")
        assert line == b"%s %s HTTP/1.1" % (request.method.encode(), request.url.raw_path)
        ours = sorted(tuple(f.split(b": ", 1)) for f in fields)
        theirs = sorted((k.encode(), v.encode()) for k, v in request.headers.items())
        assert [(k.lower(), v) for k, v in ours] == [(k.lower(), v) for k, v in theirs]
        assert body == request.content


def test_under_trio_the_client_goes_through_httpx2() -> None:
    stock = Recorder()

    async def call() -> None:
        client = PantryClient(
            "http://127.0.0.1:9", SERVICE, transport=Http1Transport(fallback=stock)
        )
        with pytest.raises(PantryUnavailable):  # the recorder's 299 is no JSON answer
            await client.list_pantry("alice")
        await client.aclose()

    anyio.run(call, backend="trio")
    assert [str(r.url) for r in stock.requests] == ["http://127.0.0.1:9/pantry"]
    assert stock.requests[0].headers["x-pantry-user"] == "alice"


async def test_a_body_pantry_sent_as_utf16_json_is_read() -> None:
    """RFC 8259 JSON in UTF-16 (rare, but valid): read as httpx2's response.json() did."""
    body = json.dumps({"items": ["é"]}).encode("utf-16")
    async with raw_server(replies(reply(body=body))) as raw:
        client = wire_client(raw)
        assert await client.list_pantry("alice") == {"items": ["é"]}
        await client.aclose()
