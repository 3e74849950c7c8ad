"""The registry: schemas bound to handlers, validation at the edge, errors shaped for agents."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import mcp_types as types
import pytest
from mcp_types.methods import serialize_server_result
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS

from pantry_mcp.client import PantryClient
from pantry_mcp.errors import ToolError
from pantry_mcp.handlers import TOOLS
from pantry_mcp.registry import Registry, ToolFailure, error_result, tool_result

pytestmark = pytest.mark.anyio
VALID_SEARCH = {"query": "curry"}


def client_answering(status: int, body: Any = None, text: str | None = None) -> PantryClient:
    """A Pantry that answers every call the same way: for faults a real one will not make."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        if text is not None:
            return httpx2.Response(status, text=text)
        return httpx2.Response(status, json=body)

    return PantryClient("http://pantry.test", "token", transport=httpx2.MockTransport(handler))


def registry_with(name: str, handler: Any) -> Registry:
    return Registry([(name, handler)])


def error_body(result: Any) -> dict[str, Any]:
    assert result["isError"] is True
    assert "structuredContent" not in result
    body: dict[str, Any] = json.loads(result["content"][0]["text"])
    assert body["error"] and body["hint"]
    return body


def test_every_tool_loads_with_all_four_hints() -> None:
    registry = Registry(TOOLS)
    assert [tool.name for tool in registry.tools()] == [name for name, _ in TOOLS]
    for tool in registry.tools():
        hints = tool.annotations
        assert hints is not None
        for value in (
            hints.read_only_hint,
            hints.destructive_hint,
            hints.idempotent_hint,
            hints.open_world_hint,
        ):
            assert isinstance(value, bool)
        assert tool.output_schema is not None
        assert "summary" in tool.output_schema["required"]


async def test_bad_arguments_name_field_bound_and_hint() -> None:
    calls: list[dict[str, Any]] = []

    async def never(client: PantryClient, user: str, args: dict[str, Any]) -> dict[str, Any]:
        calls.append(args)
        return {}

    spec = registry_with("plan_week_meals", never).get("plan_week_meals")
    assert spec is not None
    result = await Registry.call(
        registry_with("plan_week_meals", never),
        spec,
        client_answering(200, {}),
        "u",
        {"start_date": "next monday", "days": 20, "colour": "red"},
    )
    body = error_body(result)
    problems = {p["field"]: p["problem"] for p in body["problems"]}
    assert problems["days"] == "must be at most 14 (got 20)"
    assert problems["start_date"].startswith("must be a date like")
    assert "unknown argument(s): colour" in problems["(arguments)"]
    assert calls == []  # the handler never ran


async def test_missing_and_wrongly_typed_arguments() -> None:
    registry = Registry(TOOLS)
    spec = registry.get("update_pantry")
    assert spec is not None
    result = await registry.call(
        spec, client_answering(200, {}), "u", {"changes": [{"action": "buy", "quantity": "2"}]}
    )
    problems = {p["field"]: p["problem"] for p in error_body(result)["problems"]}
    assert problems["changes.0.ingredient"] == "is required"
    assert problems["changes.0.action"].startswith('must be one of "add", "update", "remove"')
    assert problems["changes.0.quantity"].startswith("must be number or null")


async def test_tool_error_becomes_is_error_with_hint() -> None:
    async def refuse(client: PantryClient, user: str, args: dict[str, Any]) -> dict[str, Any]:
        raise ToolError("Day 9 is outside the plan.", "Use a day from 1 to 7.")

    registry = registry_with("search_recipes", refuse)
    spec = registry.get("search_recipes")
    assert spec is not None
    body = error_body(await registry.call(spec, client_answering(200, {}), "u", VALID_SEARCH))
    assert body == {"error": "Day 9 is outside the plan.", "hint": "Use a day from 1 to 7."}


async def test_a_crashing_handler_leaks_nothing() -> None:
    async def crash(client: PantryClient, user: str, args: dict[str, Any]) -> dict[str, Any]:
        raise KeyError("secret internal detail")

    registry = registry_with("search_recipes", crash)
    spec = registry.get("search_recipes")
    assert spec is not None
    with pytest.raises(ToolFailure) as failure:
        await registry.call(spec, client_answering(200, {}), "u", VALID_SEARCH)
    assert "secret" not in str(failure.value)
    assert "search_recipes failed unexpectedly" in str(failure.value)


async def test_output_that_breaks_its_schema_is_a_failure_not_a_result() -> None:
    async def sloppy(client: PantryClient, user: str, args: dict[str, Any]) -> dict[str, Any]:
        return {"summary": "ok", "results": "not a list", "page": 1, "total": 0, "has_more": False}

    registry = registry_with("search_recipes", sloppy)
    spec = registry.get("search_recipes")
    assert spec is not None
    with pytest.raises(ToolFailure, match="malformed result"):
        await registry.call(spec, client_answering(200, {}), "u", VALID_SEARCH)


@pytest.mark.parametrize(
    ("status", "body", "text", "expect"),
    [
        (
            401,
            {"error": {"code": "unauthorized", "message": "x", "details": {}}},
            None,
            "PANTRY_MCP_PANTRY_TOKEN",
        ),
        (
            503,
            {"error": {"code": "x", "message": "x", "details": {}}},
            None,
            "Pantry is unavailable",
        ),
        (200, None, "<html>not json</html>", "Pantry is unavailable"),
    ],
)
async def test_broken_upstream_is_a_clean_failure(
    status: int, body: Any, text: str | None, expect: str
) -> None:
    registry = Registry(TOOLS)
    spec = registry.get("search_recipes")
    assert spec is not None
    with pytest.raises(ToolFailure, match=expect) as failure:
        await registry.call(spec, client_answering(status, body, text), "u", VALID_SEARCH)
    assert "Traceback" not in str(failure.value)


async def test_rate_limited_upstream_says_when_to_retry() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        error = {"error": {"code": "rate_limited", "message": "slow down", "details": {}}}
        return httpx2.Response(429, json=error, headers={"Retry-After": "7"})

    client = PantryClient("http://pantry.test", "t", transport=httpx2.MockTransport(handler))
    registry = Registry(TOOLS)
    spec = registry.get("search_recipes")
    assert spec is not None
    body = error_body(await registry.call(spec, client, "u", VALID_SEARCH))
    assert body["hint"] == "Wait 7 seconds, then retry the same call."


@pytest.mark.parametrize("version", [*HANDSHAKE_PROTOCOL_VERSIONS, *MODERN_PROTOCOL_VERSIONS])
def test_results_built_as_json_go_out_as_the_sdk_models_would(version: str) -> None:
    """The registry builds results as their JSON: the SDK's shaping for each protocol
    version must give the client exactly what the CallToolResult model would have."""
    output = {"summary": "2 recipes match", "results": [{"id": "r1", "n": 1.5}], "x": None}
    pairs = [
        (
            tool_result("2 recipes match", output),
            types.CallToolResult(
                content=[types.TextContent(text="2 recipes match")], structured_content=output
            ),
        ),
        (
            error_result("No such plan.", "Call plan_week_meals.", plan_id="p1"),
            types.CallToolResult(
                content=[
                    types.TextContent(
                        text=json.dumps(
                            {
                                "error": "No such plan.",
                                "hint": "Call plan_week_meals.",
                                "plan_id": "p1",
                            }
                        )
                    )
                ],
                is_error=True,
            ),
        ),
    ]
    for ours, model in pairs:
        as_model = model.model_dump(by_alias=True, mode="json", exclude_none=True)
        sent = serialize_server_result("tools/call", version, ours)
        assert sent == serialize_server_result("tools/call", version, as_model)
        assert sent["content"][0]["text"] == model.content[0].text  # type: ignore[union-attr]
