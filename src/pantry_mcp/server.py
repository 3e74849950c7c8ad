"""The one seam with the SDK: a low-level ``Server`` whose handlers all read the registry.

Tools, resources, prompts and completion are wired here; what they do lives in
``handlers/`` and what they look like lives in ``schemas/``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from typing import Any

import mcp_types as types
import structlog
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.exceptions import MCPError
from mcp_types.jsonrpc import INTERNAL_ERROR, INVALID_PARAMS

from pantry_mcp import __version__, traced_requests
from pantry_mcp.client import PantryClient, PantryError, PantryUnavailable, share_reads
from pantry_mcp.config import Settings
from pantry_mcp.handlers import prompts
from pantry_mcp.handlers import resources as resource_handlers
from pantry_mcp.handlers.prompts import next_monday
from pantry_mcp.metrics import Metrics
from pantry_mcp.preferences_question import (
    ASKING_TOOLS,
    CHANGE_TOOL,
    Gate,
    before_call,
    before_change,
)
from pantry_mcp.ratelimit import RateLimiter, rate_limiter
from pantry_mcp.registry import Registry, ToolFailure, ToolResult, error_result, tool_result
from pantry_mcp.request_log import RequestLog
from pantry_mcp.views import APP_MIME_TYPE, EXTENSION_ID, VIEWS, View, view_html

INSTRUCTIONS = (
    "Pantry is the user's cookbook, pantry and meal planner. Find recipes with "
    "search_recipes, suggest a meal from what they have with whats_for_dinner, plan days "
    "with plan_week_meals, keep the pantry current with update_pantry. Read recipe://{id}, "
    "meal-plan://{id} and pantry://current for detail."
)
RECIPE_URI = re.compile(r"^recipe://([a-z0-9]+(?:-[a-z0-9]+)*)$")
PLAN_URI = re.compile(r"^meal-plan://([a-z0-9]+(?:-[a-z0-9]+)*)$")
PANTRY_URI = "pantry://current"
MARKDOWN = "text/markdown"
MAX_PROMPT_TEXT = 20_000


@dataclass(frozen=True)
class AppState:
    client: PantryClient
    registry: Registry
    settings: Settings
    limiter: RateLimiter


Context = ServerRequestContext[AppState, Any]


@dataclass
class StateSlot:
    """The running server's state, for an entry that calls the SDK's kernel itself."""

    value: AppState | None = None


def _definitions(name: str) -> dict[str, Any]:
    text = resources.files("pantry_mcp.schemas").joinpath(f"{name}.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def acting_user(ctx: Context) -> str:
    """Who the request acts for: on HTTP with an issuer, the verified token's subject (or
    its PANTRY_MCP_AUTH_USER_CLAIM claim, set by the bearer middleware); the configured
    user on stdio and in the loopback demo mode."""
    request = ctx.request
    if request is not None and ctx.lifespan_context.settings.auth is not None:
        user = request.scope.get("state", {}).get("pantry_user")
        if not isinstance(user, str):  # the bearer middleware always sets it; never guess
            raise MCPError(code=INTERNAL_ERROR, message="No verified user for this request.")
        return user
    return ctx.lifespan_context.settings.user


def granted_scopes(ctx: Context) -> frozenset[str] | None:
    """The token's scopes on HTTP with an issuer; None (everything) otherwise."""
    request = ctx.request
    if request is None or ctx.lifespan_context.settings.auth is None:
        return None
    scopes = request.scope.get("state", {}).get("pantry_scopes")
    return scopes if isinstance(scopes, frozenset) else frozenset()


def _not_found(message: str, uri: str) -> MCPError:
    return MCPError(code=INVALID_PARAMS, message=message, data={"uri": uri[:300]})


def _upstream_failure(error: PantryError) -> MCPError:
    if isinstance(error, PantryUnavailable):
        return MCPError(code=INTERNAL_ERROR, message=f"Pantry is unavailable ({error.message})")
    return MCPError(code=INVALID_PARAMS, message=error.message)


def build_server(
    settings: Settings,
    registry: Registry,
    client: PantryClient,
    metrics: Metrics | None = None,
    slot: StateSlot | None = None,
    *,
    one_client: bool = False,
) -> Server[AppState]:
    """The server; ``client`` belongs to the caller, who opens and closes it.
    ``one_client`` (stdio): one process serves one client for its whole life."""
    metrics = metrics or Metrics()
    resource_defs = _definitions("resources")
    prompt_defs = {p["name"]: p for p in _definitions("prompts")["prompts"]}
    templates = [
        types.ResourceTemplate.model_validate(t) for t in resource_defs["resourceTemplates"]
    ]
    static = [types.Resource.model_validate(r) for r in resource_defs["resources"]]
    static += [
        types.Resource(
            uri=view.uri,
            name=f"view-{view.name}",
            title=view.title,
            description=view.description,
            mime_type=APP_MIME_TYPE,
        )
        for view in VIEWS.values()
    ]
    prompt_list = [types.Prompt.model_validate(p) for p in prompt_defs.values()]

    @asynccontextmanager
    async def lifespan(_: Server[AppState]) -> AsyncIterator[AppState]:
        limiter = rate_limiter(settings.rate_limit, settings.redis_url)
        state = AppState(client=client, registry=registry, settings=settings, limiter=limiter)
        if slot is not None:
            slot.value = state
        try:
            yield state
        finally:
            if slot is not None:
                slot.value = None
            await limiter.aclose()

    async def on_list_tools(
        ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        scopes = granted_scopes(ctx)
        return types.ListToolsResult(
            tools=registry.tools(set(scopes) if scopes is not None else None)
        )

    async def on_call_tool(
        ctx: Context, params: types.CallToolRequestParams
    ) -> ToolResult | types.InputRequiredResult:
        spec = registry.get(params.name)
        if spec is None:
            raise MCPError(
                code=INVALID_PARAMS,
                message=f"Unknown tool {params.name[:100]!r}; tools/list names the tools.",
            )
        state = ctx.lifespan_context
        scopes = granted_scopes(ctx)
        if scopes is not None and spec.scope not in scopes:  # the HTTP layer already said 403
            raise MCPError(code=INVALID_PARAMS, message=f"This token may not call {spec.name}.")
        user = acting_user(ctx)
        wait = await state.limiter.retry_after(user)
        if wait:
            return error_result(
                "Too many tool calls for this user right now.",
                f"Wait {wait} seconds, then retry the same call.",
                retry_after_seconds=wait,
            )
        gate = Gate()
        if spec.name in ASKING_TOOLS or spec.name == CHANGE_TOOL:
            ask = before_change if spec.name == CHANGE_TOOL else before_call
            share_reads()  # the question reads what the tool reads next
            try:
                gate = await ask(ctx, state.client, user, params, metrics)
            except PantryError as error:
                raise _upstream_failure(error) from None
            if gate.question is not None:
                return gate.question
        try:
            result = await registry.call(spec, state.client, user, params.arguments)
        except ToolFailure as failure:
            raise MCPError(code=INTERNAL_ERROR, message=str(failure)) from None
        return _with_note(result, gate.note)

    async def on_list_resources(
        ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        state = ctx.lifespan_context
        try:
            plans = await state.client.list_plans(acting_user(ctx), page_size=20)
        except PantryError as error:
            raise _upstream_failure(error) from None
        listed = [
            types.Resource(
                uri=f"meal-plan://{plan['id']}",
                name=f"meal-plan-{plan['id']}",
                title=plan["name"],
                description=f"Meal plan {plan['start_date']} to {plan['end_date']}.",
                mime_type=MARKDOWN,
            )
            for plan in plans["items"]
        ]
        return types.ListResourcesResult(resources=[*static, *listed])

    async def on_list_resource_templates(
        ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(resource_templates=templates)

    async def on_read_resource(
        ctx: Context, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        uri = str(params.uri)
        if view := VIEWS.get(uri):
            return types.ReadResourceResult(contents=[_view_contents(view)])
        client, user = ctx.lifespan_context.client, acting_user(ctx)
        try:
            if uri == PANTRY_URI:
                text = await resource_handlers.read_pantry(client, user)
            elif match := RECIPE_URI.match(uri):
                text = await resource_handlers.read_recipe(client, user, match.group(1))
            elif match := PLAN_URI.match(uri):
                text = await resource_handlers.read_plan(client, user, match.group(1))
            else:
                raise _not_found(
                    f"Unknown resource {uri[:100]!r}: use pantry://current, recipe://{{id}} "
                    "or meal-plan://{id}.",
                    uri,
                )
        except resource_handlers.ResourceNotFound as missing:
            raise _not_found(f"{missing.message} {missing.hint}", uri) from None
        except PantryError as error:
            raise _upstream_failure(error) from None
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=uri, mime_type=MARKDOWN, text=text)]
        )

    async def on_list_prompts(
        ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        return types.ListPromptsResult(prompts=prompt_list)

    async def on_get_prompt(
        ctx: Context, params: types.GetPromptRequestParams
    ) -> types.GetPromptResult:
        definition = prompt_defs.get(params.name)
        if definition is None:
            raise MCPError(code=INVALID_PARAMS, message=f"Unknown prompt {params.name!r}.")
        arguments = params.arguments or {}
        if params.name == "weekly_meal_planning":
            start = arguments.get("start_date") or None
            if start is not None:
                try:
                    start = date.fromisoformat(start).isoformat()
                except ValueError:
                    raise MCPError(
                        code=INVALID_PARAMS,
                        message=f"start_date must be a date like 2026-11-30, got {start!r}.",
                    ) from None
            text = prompts.weekly_meal_planning(start)
        else:
            recipe_text = (arguments.get("text") or "").strip()
            if not recipe_text:
                raise MCPError(code=INVALID_PARAMS, message="text is required: paste the recipe.")
            if len(recipe_text) > MAX_PROMPT_TEXT:
                raise MCPError(
                    code=INVALID_PARAMS,
                    message=f"text must be at most {MAX_PROMPT_TEXT} characters.",
                )
            text = prompts.recipe_from_text(recipe_text)
        return types.GetPromptResult(
            description=definition["description"],
            messages=[types.PromptMessage(role="user", content=types.TextContent(text=text))],
        )

    async def on_completion(
        ctx: Context, params: types.CompleteRequestParams
    ) -> types.CompleteResult:
        values = await _complete(ctx, params)
        return types.CompleteResult(
            completion=types.Completion(values=values[:100], total=len(values), has_more=False)
        )

    server: Server[AppState] = Server(
        "pantry-mcp",
        version=__version__,
        title="Pantry",
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        get_tool_input_schema=registry.input_schema,
        on_list_tools=on_list_tools,
        on_list_resources=on_list_resources,
        on_list_resource_templates=on_list_resource_templates,
        on_read_resource=on_read_resource,
        on_list_prompts=on_list_prompts,
        on_get_prompt=on_get_prompt,
        on_completion=on_completion,
    )
    # on_call_tool answers with the result's JSON (registry.ToolResult), which the SDK's
    # documented handler registration takes (a handler may return a model or a mapping)
    server.add_request_handler("tools/call", types.CallToolRequestParams, on_call_tool)
    # MCP Apps: hosts that render views find them through each tool's _meta.ui, which is
    # sent to every client; the declaration reaches clients of server/discover.
    server.extensions = {EXTENSION_ID: {}}
    # The SDK's default OpenTelemetry middleware runs only while traces are on, between
    # ours (pantry_mcp.traced_requests); off, it would only cost time on every request.
    server.middleware = [
        *(traced_requests.middlewares() if settings.tracing else []),
        RequestLog(metrics, trace_ids=settings.tracing),
        # Seals the requestState of input-required results and opens it on the retry: bound
        # to this server, the acting user, the tool and its arguments, for ten minutes.
        RequestStateBoundary(
            _state_security(settings, warn=not one_client), default_audience="pantry-mcp"
        ),
    ]
    return server


def _state_security(settings: Settings, *, warn: bool) -> RequestStateSecurity:
    def principal(ctx: ServerRequestContext[Any, Any]) -> str:
        return acting_user(ctx)

    if settings.request_state_keys:
        return RequestStateSecurity(
            keys=list(settings.request_state_keys), bind_principal=principal
        )
    if warn:  # on stdio the one process is all that ever opens its questions: no need
        structlog.get_logger("pantry_mcp").warning(
            "request_state_key_generated",
            detail="PANTRY_MCP_REQUEST_STATE_KEY is not set: a key generated now seals "
            "questions to the person; another replica, or this one after a restart, cannot "
            "open them. Give every replica the same key of at least 32 bytes.",
        )
    return RequestStateSecurity(keys=[os.urandom(32)], bind_principal=principal)


def _with_note(result: ToolResult, note: str) -> ToolResult:
    """The summary, text and structured alike, with ``note`` added (not to errors)."""
    structured = result.get("structuredContent")
    if not note or result["isError"] or structured is None:
        return result
    summary = str(structured["summary"]) + note
    return tool_result(summary, {**structured, "summary": summary})


def _view_contents(view: View) -> types.TextResourceContents:
    """A view's document. No ``csp`` in its ``_meta.ui``: the host then allows the view no
    network at all, and it needs none (everything it shows comes through the host)."""
    return types.TextResourceContents(
        uri=view.uri,
        mime_type=APP_MIME_TYPE,
        text=view_html(view),
        meta={"ui": {"prefersBorder": True}},
    )


async def _complete(ctx: Context, params: types.CompleteRequestParams) -> list[str]:
    """Recipe and plan ids for the templates; start dates for the planning prompt."""
    client, user = ctx.lifespan_context.client, acting_user(ctx)
    ref, argument = params.ref, params.argument
    typed = argument.value.strip().lower()
    try:
        if isinstance(ref, types.ResourceTemplateReference):
            if ref.uri == "recipe://{recipe_id}" and argument.name == "recipe_id":
                page = await client.search_recipes(
                    user, q=typed.replace("-", " ") or None, page_size=20
                )
                ids = [hit["id"] for hit in page["items"]]
                return sorted(ids, key=lambda i: not i.startswith(typed))
            if ref.uri == "meal-plan://{plan_id}" and argument.name == "plan_id":
                plans = await client.list_plans(user, page_size=100)
                return [plan["id"] for plan in plans["items"] if plan["id"].startswith(typed)]
            return []
        if ref.name == "weekly_meal_planning" and argument.name == "start_date":
            monday = next_monday(date.today())
            dates = [(monday + timedelta(weeks=n)).isoformat() for n in range(4)]
            return [d for d in dates if d.startswith(typed)]
    except PantryError as error:
        raise _upstream_failure(error) from None
    return []


def open_sessions(manager: StreamableHTTPSessionManager) -> int:
    """Stateful sessions the SDK holds now. The manager has no public count, so this reads
    its private session table: the one place we do, guarded by
    ``tests/pantry_mcp/test_sdk_seams.py``, which fails if an SDK release renames it."""
    table: dict[str, Any] = manager._server_instances
    return len(table)
