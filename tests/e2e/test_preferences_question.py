"""The person, not the model, answers the preferences question (MCP elicitation).

The official client with its elicitation callback plays the person: on 2026-07-28 through
the input-required result and the client's retry, on 2025-11-25 through
``elicitation/create`` within the call (stateful sessions; the stateless JSON path cannot
carry a server request), and Pantry's own API says what was saved.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.server import request_state  # its clock moves in the expiry test
from mcp.shared.exceptions import MCPError

from tests.e2e.conftest import McpServerFactory
from tests.e2e.test_mcp_stdio import stdio_server
from tests.support import SERVICE_TOKEN, RunningServer, text_of, unique

pytestmark = pytest.mark.anyio
ANSWER = {
    "dietary": ["vegetarian"],
    "avoid": "Mushrooms, coriander",
    "max_weeknight_minutes": 30,
    "servings": 2,
}
# (client mode, server stateful): the eras and transports that can carry the question
ASKABLE = [("2026-07-28", "0"), ("legacy", "1"), ("2026-07-28", "1")]


class Person:
    """Answers every form the same way and counts the questions."""

    def __init__(self, action: str, content: dict[str, Any] | None = None) -> None:
        self.action, self.content, self.asked = action, content, 0
        self.forms: list[types.ElicitRequestParams] = []

    async def __call__(
        self, context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        self.asked += 1
        self.forms.append(params)
        return types.ElicitResult(action=self.action, content=self.content)


async def saved_preferences(pantry: RunningServer, user: str) -> dict[str, Any]:
    async with httpx2.AsyncClient(base_url=pantry.base_url) as http:
        response = await http.get(
            "/users/me/preferences",
            headers={"Authorization": f"Bearer {SERVICE_TOKEN}", "X-Pantry-User": user},
        )
    response.raise_for_status()
    found: dict[str, Any] = response.json()
    return found


@pytest.mark.parametrize(("mode", "stateful"), ASKABLE)
async def test_accepted_answers_are_saved_and_used_by_the_very_call(
    mcp_server: McpServerFactory,
    pantry_server: RunningServer,
    mode: str,
    stateful: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    user = unique("asked")
    person = Person("accept", ANSWER)
    url = mcp_server(user=user, PANTRY_MCP_STATEFUL=stateful)
    async with Client(url, mode=mode, elicitation_callback=person) as client:
        ideas = await client.call_tool("whats_for_dinner", {"count": 5})
        assert person.asked == 1
        assert not ideas.is_error, text_of(ideas.content[0])
        saved = await saved_preferences(pantry_server, user)
        assert saved["dietary"] == ["vegetarian"]
        assert saved["disliked"] == ["mushrooms", "coriander"]
        assert (saved["max_weeknight_minutes"], saved["servings"]) == (30, 2)
        assert saved["set_at"] is not None
        for idea in ideas.structured_content["suggestions"]:  # the very call used them
            recipe = await client.read_resource(f"recipe://{idea['recipe_id']}")
            assert "vegetarian" in text_of(recipe.contents[0]).lower()
        again = await client.call_tool("plan_week_meals", {"start_date": "2026-11-30", "days": 2})
        assert not again.is_error
        assert person.asked == 1  # once
    # Operators see that a question was asked and answered, never the answers.
    lines = [line for line in capfd.readouterr().out.splitlines() if "preferences_question" in line]
    assert [re.search(r"outcome=(\w+)", line)[1] for line in lines] == [  # type: ignore[index]
        "asked",
        "accepted",
    ]
    assert not any("coriander" in line or "vegetarian" in line for line in lines)


@pytest.mark.parametrize(("mode", "stateful"), ASKABLE)
@pytest.mark.parametrize("action", ["decline", "cancel"])
async def test_a_refusal_saves_nothing_and_is_not_asked_again(
    mcp_server: McpServerFactory,
    pantry_server: RunningServer,
    mode: str,
    stateful: str,
    action: str,
) -> None:
    user = unique("refused")
    person = Person(action)
    url = mcp_server(user=user, PANTRY_MCP_STATEFUL=stateful)
    async with Client(url, mode=mode, elicitation_callback=person) as client:
        plan = await client.call_tool("plan_week_meals", {"start_date": "2026-11-30", "days": 2})
        assert not plan.is_error, text_of(plan.content[0])
        ideas = await client.call_tool("whats_for_dinner", {"count": 2})
        assert not ideas.is_error
    assert person.asked == 1
    saved = await saved_preferences(pantry_server, user)
    assert saved["set_at"] is None and saved["declined_at"] is not None
    async with httpx2.AsyncClient() as http:
        metrics = (await http.get(url.replace("/mcp", "/metrics"))).text
    outcome = "declined" if action == "decline" else "cancelled"
    assert 'pantry_mcp_elicitations_total{outcome="asked"} 1.0' in metrics
    assert f'pantry_mcp_elicitations_total{{outcome="{outcome}"}} 1.0' in metrics
    assert (saved["dietary"], saved["disliked"], saved["servings"]) == ([], [], None)
    assert "not set their preferences" not in text_of(ideas.content[0])


@pytest.mark.parametrize(
    ("mode", "stateful"), [("2026-07-28", "0"), ("legacy", "0"), ("legacy", "1")]
)
async def test_a_client_without_forms_is_never_asked_and_told_once(
    mcp_server: McpServerFactory, pantry_server: RunningServer, mode: str, stateful: str
) -> None:
    user = unique("formless")
    url = mcp_server(user=user, PANTRY_MCP_STATEFUL=stateful)
    async with Client(url, mode=mode) as client:
        ideas = await client.call_tool("whats_for_dinner", {"count": 2})
    summary = ideas.structured_content["summary"]
    assert summary.count("has not set their preferences") == 1
    assert text_of(ideas.content[0]) == summary
    saved = await saved_preferences(pantry_server, user)
    assert saved["set_at"] is None and saved["declined_at"] is None


async def test_the_stateless_legacy_path_with_forms_is_told_not_asked(
    mcp_server: McpServerFactory, pantry_server: RunningServer
) -> None:
    """A stateless 2025-11-25 POST cannot carry a server request: no question, a note."""
    person = Person("accept", ANSWER)
    async with Client(mcp_server(), mode="legacy", elicitation_callback=person) as client:
        ideas = await client.call_tool("whats_for_dinner", {"count": 2})
    assert person.asked == 0
    summary = ideas.structured_content["summary"]
    assert "this connection cannot ask them (2025-11-25 without a session)" in summary


async def test_an_invalid_answer_is_refused_and_nothing_is_saved(
    mcp_server: McpServerFactory, pantry_server: RunningServer
) -> None:
    user = unique("invalid")
    person = Person("accept", {**ANSWER, "servings": 0})
    async with Client(mcp_server(user=user), mode="2026-07-28", elicitation_callback=person) as c:
        with pytest.raises(MCPError, match="servings must be from 1 to 20") as refused:
            await c.call_tool("whats_for_dinner", {"count": 2})
    assert refused.value.error.code == -32602
    saved = await saved_preferences(pantry_server, user)
    assert saved["set_at"] is None and saved["declined_at"] is None


async def raw_call(url: str, params: dict[str, Any]) -> httpx2.Response:
    envelope = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}},
    }
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {**params, "_meta": envelope},
    }
    headers = {
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/call",
        "Mcp-Name": params["name"],
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
    }
    # Written by hand: JSON below any schema (lone surrogates, NaN, huge numbers) goes as is.
    async with httpx2.AsyncClient() as http:
        return await http.post(url, content=json.dumps(body), headers=headers)


async def ask(url: str) -> str:
    first = await raw_call(url, {"name": "whats_for_dinner", "arguments": {"count": 2}})
    result = first.json()["result"]
    assert result["resultType"] == "input_required", result
    assert set(result["inputRequests"]) == {"preferences"}
    state: str = result["requestState"]
    assert "asked_at" not in state  # sealed, not readable
    return state


def answered(state: str, action: str = "accept") -> dict[str, Any]:
    response: dict[str, Any] = {"action": action}
    if action == "accept":
        response["content"] = ANSWER
    return {
        "name": "whats_for_dinner",
        "arguments": {"count": 2},
        "requestState": state,
        "inputResponses": {"preferences": response},
    }


async def test_tampered_replayed_or_foreign_state_is_refused_and_changes_nothing(
    mcp_server: McpServerFactory, pantry_server: RunningServer
) -> None:
    user = unique("sealed")
    url = mcp_server(user=user, PANTRY_MCP_REQUEST_STATE_KEY="k" * 40)
    state = await ask(url)
    tampered = state[:-4] + ("AAAA" if not state.endswith("AAAA") else "BBBB")
    for params in (
        answered(tampered),
        {**answered(state), "arguments": {"count": 3}},  # bound to the arguments
        {**answered(state), "name": "plan_week_meals"},  # and to the tool
    ):
        refused = await raw_call(url, params)
        assert refused.json()["error"]["code"] == -32602, refused.text
    # another user (same key, another server acting for someone else) cannot use it
    other = mcp_server(user=unique("other"), PANTRY_MCP_REQUEST_STATE_KEY="k" * 40)
    refused = await raw_call(other, answered(state))
    assert refused.json()["error"]["message"] == "Invalid or expired requestState"
    assert (await saved_preferences(pantry_server, user))["set_at"] is None

    accepted = await raw_call(url, answered(state))
    assert accepted.json()["result"].get("isError") is not True, accepted.text
    first_saved = await saved_preferences(pantry_server, user)
    replayed = await raw_call(url, answered(state, "decline"))
    assert "already answered" in replayed.json()["error"]["message"]
    assert await saved_preferences(pantry_server, user) == first_saved


async def test_a_state_sealed_by_one_replica_opens_on_another_with_the_shared_key(
    mcp_server: McpServerFactory, pantry_server: RunningServer
) -> None:
    user = unique("replicas")
    key = "shared-secret-of-forty-bytes-0123456789"
    first, second = (mcp_server(user=user, PANTRY_MCP_REQUEST_STATE_KEY=key) for _ in range(2))
    third = mcp_server(user=user, PANTRY_MCP_REQUEST_STATE_KEY="another-key-" + "x" * 30)
    state = await ask(first)
    refused = await raw_call(third, answered(state))
    assert refused.json()["error"]["message"] == "Invalid or expired requestState"
    accepted = await raw_call(second, answered(state))
    assert "result" in accepted.json(), accepted.text
    assert (await saved_preferences(pantry_server, user))["servings"] == 2


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_the_same_question_over_stdio(pantry_server: RunningServer, mode: str) -> None:
    user = unique("stdio-asked")
    person = Person("accept", ANSWER)
    server = stdio_server(pantry_server.base_url, user)
    async with Client(server, mode=mode, elicitation_callback=person) as client:
        plan = await client.call_tool("plan_week_meals", {"start_date": "2026-11-30", "days": 2})
        assert not plan.is_error, text_of(plan.content[0])
        await client.call_tool("whats_for_dinner", {"count": 2})
    assert person.asked == 1
    assert (await saved_preferences(pantry_server, user))["disliked"] == ["mushrooms", "coriander"]


@pytest.mark.parametrize(("mode", "stateful"), ASKABLE)
async def test_changing_them_later_shows_the_saved_answers_and_takes_only_the_persons(
    mcp_server: McpServerFactory, pantry_server: RunningServer, mode: str, stateful: str
) -> None:
    user = unique("changer")
    url = mcp_server(user=user, PANTRY_MCP_STATEFUL=stateful)
    first = Person("accept", ANSWER)
    async with Client(url, mode=mode, elicitation_callback=first) as client:
        await client.call_tool("whats_for_dinner", {"count": 1})
    change = Person("accept", {**ANSWER, "dietary": ["vegan"], "servings": 4})
    async with Client(url, mode=mode, elicitation_callback=change) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert tools["ask_preferences"].input_schema.get("properties") == {}  # no values
        changed = await client.call_tool("ask_preferences", {})
    assert change.asked == 1
    form = change.forms[0]
    assert isinstance(form, types.ElicitRequestFormParams)
    defaults = {k: v.get("default") for k, v in form.requested_schema["properties"].items()}
    assert defaults == {
        "dietary": ["vegetarian"],
        "avoid": "mushrooms, coriander",
        "max_weeknight_minutes": 30,
        "servings": 2,
    }
    assert changed.structured_content["preferences"]["dietary"] == ["vegan"]
    assert changed.structured_content["summary"].endswith("The person just saved these.")
    assert (await saved_preferences(pantry_server, user))["servings"] == 4

    keep = Person("decline")
    async with Client(url, mode=mode, elicitation_callback=keep) as client:
        kept = await client.call_tool("ask_preferences", {})
    assert kept.structured_content["summary"].endswith("The person left them as they were.")
    saved = await saved_preferences(pantry_server, user)
    assert (saved["dietary"], saved["servings"], saved["declined_at"]) == (["vegan"], 4, None)


async def test_without_forms_the_change_tool_only_reports_what_is_saved(
    mcp_server: McpServerFactory, pantry_server: RunningServer
) -> None:
    async with Client(mcp_server(), mode="2026-07-28") as client:
        shown = await client.call_tool("ask_preferences", {})
    assert not shown.is_error
    assert shown.structured_content["summary"] == (
        "No preferences saved. Only the person can change them, in a client that shows "
        "forms; this client shows none."
    )


async def test_malformed_answers_are_client_errors_and_change_nothing(
    mcp_server: McpServerFactory, pantry_server: RunningServer
) -> None:
    user = unique("malformed")
    url = mcp_server(user=user)
    state = await ask(url)
    call = {"name": "whats_for_dinner", "arguments": {"count": 2}}
    cases: list[dict[str, Any]] = [
        {**call, "requestState": 123, "inputResponses": {"preferences": {"action": "accept"}}},
        {**call, "requestState": state, "inputResponses": {"preferences": "yes"}},
        {**call, "requestState": state, "inputResponses": {"other": {"action": "accept"}}},
        {**call, "requestState": state},  # the question unanswered
        {**call, "inputResponses": {"preferences": {"action": "accept", "content": ANSWER}}},
        {**call, "requestState": state, "inputResponses": {"preferences": {"action": "maybe"}}},
        {
            **call,
            "requestState": state,
            "inputResponses": {"preferences": {"action": "accept", "content": {"avoid": ["a"]}}},
        },
        *(
            {
                **call,
                "requestState": state,
                "inputResponses": {"preferences": {"action": "accept", "content": below}},
            }
            for below in (
                {"avoid": "\ud800"},
                {"servings": float("nan")},
                {"servings": 10**400},
                {"max_weeknight_minutes": float("inf")},
            )
        ),
    ]
    for params in cases:
        response = await raw_call(url, params)
        assert response.status_code < 500, response.text
        assert response.json()["error"]["code"] == -32602, (params, response.text)
    saved = await saved_preferences(pantry_server, user)
    assert saved["set_at"] is None and saved["declined_at"] is None


async def test_an_expired_state_is_refused_and_changes_nothing(
    mcp_server: McpServerFactory, pantry_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """States live ten minutes. Waiting that long in a test is not an option, so the
    boundary's clock (and only its clock) is moved on past the expiry."""
    user = unique("late")
    url = mcp_server(user=user)
    state = await ask(url)

    class Later:
        @staticmethod
        def time() -> float:
            return time.time() + 601

    monkeypatch.setattr(request_state, "time", Later)
    refused = await raw_call(url, answered(state))
    assert refused.json()["error"]["message"] == "Invalid or expired requestState"
    assert (await saved_preferences(pantry_server, user))["set_at"] is None
