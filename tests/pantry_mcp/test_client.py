"""PantryClient: what it sends, and how every upstream answer maps to a typed error."""

from __future__ import annotations

import json
import sys
import time

import anyio
import httpx2
import pytest

from pantry_mcp.circuit import CircuitBreaker
from pantry_mcp.client import (
    CallLog,
    PantryClient,
    PantryConflict,
    PantryInvalid,
    PantryNotFound,
    PantryRateLimited,
    PantryUnavailable,
    current_calls,
    share_reads,
)
from pantry_mcp.handlers.common import gather

pytestmark = pytest.mark.anyio


async def test_sends_service_credential_and_acting_user() -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json={"id": "x"})

    client = PantryClient(
        "http://pantry.test/", "svc-token", transport=httpx2.MockTransport(handler)
    )
    await client.get_recipe("alice", "chana-masala")
    request = seen[0]
    assert request.headers["authorization"] == "Bearer svc-token"
    assert request.headers["x-pantry-user"] == "alice"
    assert request.url.raw_path == b"/recipes/chana-masala"


async def test_answers_leave_no_string_behind() -> None:
    """A value read from Pantry is held by the answer alone: nothing process-wide keeps it
    (pydantic-core caches every short string it parses unless told otherwise, and under a
    real catalog that table filled up as live memory growth). A json-module parse of the
    same document, which caches nothing, is the reference count to match."""
    title = f"Saag paneer, take {time.monotonic_ns()}"  # never parsed before
    document = {"id": "r1", "title": title}

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json=document)

    client = PantryClient("http://pantry.test/", "t", transport=httpx2.MockTransport(handler))
    ours = (await client.get_recipe("alice", "r1"))["title"]
    reference = json.loads(json.dumps(document))["title"]
    assert ours == reference == title
    assert sys.getrefcount(ours) == sys.getrefcount(reference)


@pytest.mark.parametrize("hostile", ["../users/me", ".", "..", "/", "a/b", "x" * 200, ""])
async def test_ids_that_name_nothing_never_become_urls(hostile: str) -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json={})

    transport = httpx2.MockTransport(handler)
    client = PantryClient("http://pantry.test", "t", transport=transport)
    with pytest.raises(PantryNotFound):
        await client.get_plan("alice", hostile)
    assert seen == []


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


def _answers(*responses: httpx2.Response) -> tuple[httpx2.MockTransport, list[httpx2.Request]]:
    """A transport that answers with the given responses in turn and records requests."""
    seen: list[httpx2.Request] = []
    queue = list(responses)

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return httpx2.MockTransport(handler), seen


async def test_retry_after_on_503_is_honoured() -> None:
    transport, seen = _answers(
        httpx2.Response(503, json={}, headers={"Retry-After": "0.3"}),
        httpx2.Response(200, json={"items": []}),
    )
    client = PantryClient("http://pantry.test", "t", transport=transport)
    started = time.monotonic()
    assert await client.list_pantry("u") == {"items": []}
    assert time.monotonic() - started >= 0.3  # it waited as long as Pantry asked
    assert len(seen) == 2


async def test_a_long_retry_after_goes_back_to_the_agent_at_once() -> None:
    error = {"error": {"code": "rate_limited", "message": "slow down", "details": {}}}
    transport, seen = _answers(httpx2.Response(429, json=error, headers={"Retry-After": "30"}))
    client = PantryClient("http://pantry.test", "t", transport=transport)
    with pytest.raises(PantryRateLimited) as limited:
        await client.list_pantry("u")
    assert limited.value.retry_after == 30
    assert len(seen) == 1


async def test_writes_with_an_idempotency_key_are_retried() -> None:
    transport, seen = _answers(
        httpx2.Response(502, json={}), httpx2.Response(201, json={"id": "plan-x"})
    )
    client = PantryClient("http://pantry.test", "t", transport=transport)
    created = await client.create_plan("u", {"start_date": "2026-11-30"}, idempotency_key="k-1")
    assert created == {"id": "plan-x"}
    assert [r.headers["idempotency-key"] for r in seen] == ["k-1", "k-1"]


BUSY = {"error": {"code": "unavailable", "message": "busy; nothing was changed", "details": {}}}


async def test_a_change_pantry_refused_unchanged_is_sent_again() -> None:
    """Pantry's own 503 rolls the request back whole: a PATCH without a key may go again."""
    transport, seen = _answers(
        httpx2.Response(503, json=BUSY, headers={"Retry-After": "0"}),
        httpx2.Response(200, json={"ingredient_id": "milk", "quantity": 2}),
    )
    client = PantryClient("http://pantry.test", "t", transport=transport)
    changed = await client.update_pantry_item("u", "milk", {"quantity": 2})
    assert changed["quantity"] == 2
    assert [r.method for r in seen] == ["PATCH", "PATCH"]


@pytest.mark.parametrize(
    "answer",
    [
        httpx2.Response(503, text="<html>Service Unavailable</html>"),  # a gateway's
        httpx2.Response(502, json=BUSY),
        httpx2.Response(504, json={}),
    ],
)
async def test_a_change_is_not_sent_again_when_nothing_says_it_did_not_happen(
    answer: httpx2.Response,
) -> None:
    transport, seen = _answers(answer)
    client = PantryClient("http://pantry.test", "t", transport=transport)
    with pytest.raises(PantryUnavailable):
        await client.remove_pantry_item("u", "milk")
    assert len(seen) == 1


async def test_a_change_is_not_sent_again_after_a_timeout_even_following_a_busy_answer() -> None:
    """The first answer said nothing changed; the second attempt's fate is unknown."""
    attempts: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        attempts.append(request.method)
        if len(attempts) == 1:
            return httpx2.Response(503, json=BUSY, headers={"Retry-After": "0"})
        raise httpx2.ReadTimeout("silent", request=request)

    client = PantryClient("http://pantry.test", "t", transport=httpx2.MockTransport(handler))
    with pytest.raises(PantryUnavailable, match="in time"):
        await client.update_pantry_item("u", "milk", {"quantity": 2})
    assert attempts == ["PATCH", "PATCH"]


async def test_a_dead_pantry_opens_the_circuit_and_calls_fail_fast() -> None:
    transport, seen = _answers(httpx2.Response(503, json={}))
    breaker = CircuitBreaker(threshold=2, cooldown=60)
    client = PantryClient("http://pantry.test", "t", transport=transport, breaker=breaker)
    for _ in range(2):
        with pytest.raises(PantryUnavailable, match="answered 503"):
            await client.list_pantry("u")
    attempts = len(seen)
    with pytest.raises(PantryUnavailable, match="calls resume in"):
        await client.list_pantry("u")
    assert len(seen) == attempts  # not even tried


async def test_after_the_cooldown_one_good_call_closes_the_circuit() -> None:
    healthy = {"up": False}

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200 if healthy["up"] else 503, json={"items": []})

    breaker = CircuitBreaker(threshold=1, cooldown=0.2)
    client = PantryClient(
        "http://pantry.test", "t", transport=httpx2.MockTransport(handler), breaker=breaker
    )
    with pytest.raises(PantryUnavailable):
        await client.list_pantry("u")
    healthy["up"] = True
    with anyio.fail_after(5):
        while True:  # bounded: the cooldown is 0.2 s
            try:
                assert await client.list_pantry("u") == {"items": []}
                break
            except PantryUnavailable:
                await anyio.sleep(0.05)
    assert breaker.state.value == "closed"


async def test_calls_made_at_once_during_the_trial_wait_for_its_verdict() -> None:
    """A tool's parallel calls must not refuse each other: the trial's siblings wait for it,
    so the first tool call after the cooldown both succeeds and closes the circuit."""
    trial_started, release = anyio.Event(), anyio.Event()
    state = {"down": True, "after_outage": 0}

    class Gate(httpx2.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            if state["down"]:
                return httpx2.Response(503, json={})
            state["after_outage"] += 1
            if state["after_outage"] == 1:  # the first call after the cooldown: the trial
                trial_started.set()
                await release.wait()
            return httpx2.Response(200, json={"items": []})

    breaker = CircuitBreaker(threshold=1, cooldown=0.0)
    client = PantryClient("http://pantry.test", "t", transport=Gate(), breaker=breaker)
    with pytest.raises(PantryUnavailable):
        await client.list_pantry("u")  # opens the circuit (cooldown 0: the next is a trial)
    state["down"] = False

    async def let_the_trial_answer() -> None:
        await trial_started.wait()
        await anyio.wait_all_tasks_blocked()  # the sibling is now waiting for the verdict
        release.set()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(let_the_trial_answer)
            answers = await gather(
                lambda: client.list_pantry("u"), lambda: client.get_preferences("u")
            )
    assert answers == [{"items": []}, {"items": []}]
    assert breaker.state.value == "closed"
    assert state["after_outage"] == 2  # each call reached Pantry once


async def test_within_one_request_a_read_is_made_once_until_a_write() -> None:
    seen: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(f"{request.method} {request.url.path}")
        return httpx2.Response(200, json={"dietary": [], "set_at": None})

    client = PantryClient("http://pantry.test", "t", transport=httpx2.MockTransport(handler))
    token = current_calls.set(CallLog())
    try:
        await client.get_preferences("alice")  # not shared until the request says so
        share_reads()
        first = await client.get_preferences("alice")
        again = await client.get_preferences("alice")
        assert again == first and again is not first  # a repeat gets its own copy
        await client.get_preferences("bob")  # another user: another read
        await client.decline_preferences("alice")  # a write forgets every read
        await client.get_preferences("alice")
    finally:
        current_calls.reset(token)
    await client.get_preferences("alice")  # outside a request nothing is kept
    assert seen == [
        "GET /users/me/preferences",
        "GET /users/me/preferences",
        "GET /users/me/preferences",
        "POST /users/me/preferences/declined",
        "GET /users/me/preferences",
        "GET /users/me/preferences",
    ]
