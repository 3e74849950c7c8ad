"""PantryClient: what it sends, and how every upstream answer maps to a typed error."""

from __future__ import annotations

import httpx2
import pytest

from pantry_mcp.client import (
    CallLog,
    PantryClient,
    PantryConflict,
    PantryInvalid,
    PantryNotFound,
    PantryUnavailable,
    current_calls,
)

pytestmark = pytest.mark.anyio


async def test_sends_service_credential_acting_user_and_encoded_ids() -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json={"id": "x"})

    client = PantryClient(
        "http://pantry.test/", "svc-token", transport=httpx2.MockTransport(handler)
    )
    await client.get_recipe("alice", "../users/me")
    request = seen[0]
    assert request.headers["authorization"] == "Bearer svc-token"
    assert request.headers["x-pantry-user"] == "alice"
    assert request.url.raw_path == b"/recipes/..%2Fusers%2Fme"


async def test_reads_are_retried_on_gateway_errors_and_logged() -> None:
    statuses = iter([502, 503, 200])

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(next(statuses), json={"items": []})

    client = PantryClient("http://pantry.test", "t", transport=httpx2.MockTransport(handler))
    log = CallLog()
    token = current_calls.set(log)
    try:
        assert await client.list_pantry("u") == {"items": []}
    finally:
        current_calls.reset(token)
    assert [(c.method, c.path, c.status) for c in log.calls] == [
        ("GET", "/pantry", 502),
        ("GET", "/pantry", 503),
        ("GET", "/pantry", 200),
    ]


async def test_plain_writes_are_not_retried() -> None:
    attempts = 0

    def handler(request: httpx2.Request) -> httpx2.Response:
        nonlocal attempts
        attempts += 1
        return httpx2.Response(503, json={})

    client = PantryClient("http://pantry.test", "t", transport=httpx2.MockTransport(handler))
    with pytest.raises(PantryUnavailable):
        await client.update_pantry_item("u", "egg", {"quantity": 1})
    assert attempts == 1


@pytest.mark.parametrize(
    ("status", "error"),
    [(404, PantryNotFound), (409, PantryConflict), (422, PantryInvalid), (500, PantryUnavailable)],
)
async def test_statuses_map_to_typed_errors(status: int, error: type[Exception]) -> None:
    body = {"error": {"code": "c", "message": "what Pantry said", "details": [{"field": "body.x"}]}}
    transport = httpx2.MockTransport(lambda request: httpx2.Response(status, json=body))
    client = PantryClient("http://pantry.test", "t", transport=transport)
    with pytest.raises(error):
        await client.get_plan("u", "plan-x")


async def test_unreachable_pantry_is_unavailable() -> None:
    client = PantryClient("http://127.0.0.1:9", "t", timeout=1.0)
    with pytest.raises(PantryUnavailable, match="could not be reached"):
        await client.list_pantry("u")
    await client.aclose()
