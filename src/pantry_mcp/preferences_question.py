"""Putting the preferences question to the person, on either protocol era.

On 2026-07-28 a tool answers with an input-required result carrying the form and a
``requestState`` (sealed by the SDK's ``RequestStateBoundary``); the client shows the form
and retries the call with the person's answer. On 2025-11-25 the server sends
``elicitation/create`` within the call, where the connection can carry a server request
(stateful sessions, stdio). Either way the answer is checked, saved (or the refusal
remembered) and the call goes on. A client that cannot show a form is never asked; the
result then says once that preferences are not set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import mcp_types as types
import structlog
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types.jsonrpc import INVALID_PARAMS
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from pantry_mcp.client import PantryClient
from pantry_mcp.metrics import Metrics
from pantry_mcp.preferences_form import (
    CHANGE_MESSAGE,
    FIRST_MESSAGE,
    FORM,
    MESSAGE,
    InvalidAnswer,
    answered_since,
    is_unset,
    needs_asking,
    prefilled,
    read_answer,
)

ASKING_TOOLS = frozenset({"plan_week_meals", "whats_for_dinner"})  # ask once, first time
CHANGE_TOOL = "ask_preferences"  # asks whenever the person wants to change them
INPUT_KEY = "preferences"
NOT_SET = (
    " The person has not set their preferences (diet, foods to avoid, weeknight time, "
    "servings); they can be asked in a client that shows forms."
)
NO_FORMS = " Only the person can change them, in a client that shows forms; this client shows none."
# A 2025-11-25 client without a session: it may show forms, but this channel cannot ask.
NOT_SET_NO_CHANNEL = (
    " The person has not set their preferences (diet, foods to avoid, weeknight time, "
    "servings); this connection cannot ask them (2025-11-25 without a session): a client on "
    "2026-07-28, or a stateful session, can."
)
NO_FORMS_NO_CHANNEL = (
    " Only the person can change them, through a form this connection cannot carry "
    "(2025-11-25 without a session): a client on 2026-07-28, or a stateful session, can."
)
CHANGED = " The person just saved these."
UNCHANGED = " The person left them as they were."

log = structlog.get_logger("pantry_mcp.elicitation")


@dataclass(frozen=True)
class Gate:
    """What happens before the tool runs: a question to return instead of a result, or a
    note to add to the result's summary, or neither."""

    question: types.InputRequiredResult | None = None
    note: str = ""


def supports_form(ctx: ServerRequestContext[Any, Any]) -> bool:
    """The client declared form elicitation (an empty ``elicitation`` object means form)."""
    capabilities = ctx.session.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    if elicitation is None:
        return False
    return elicitation.form is not None or elicitation.url is None


async def before_call(
    ctx: ServerRequestContext[Any, Any],
    client: PantryClient,
    user: str,
    params: types.CallToolRequestParams,
    metrics: Metrics,
) -> Gate:
    """Ask, settle an answer brought back by a retry, or let the call go on."""
    if params.request_state is not None or params.input_responses:
        await _settle_retry(client, user, params, metrics, remember_refusal=True)
        return Gate()
    preferences = await client.get_preferences(user)
    if not needs_asking(preferences, datetime.now(UTC)):
        return Gate()
    blocked = _cannot_ask(ctx)
    if blocked is not None:
        note = NOT_SET_NO_CHANNEL if blocked == "no channel" else NOT_SET
        return Gate(note=note if is_unset(preferences) else "")
    asked = await _ask(ctx, client, user, metrics, MESSAGE, FORM, remember_refusal=True)
    return Gate(question=asked) if isinstance(asked, types.InputRequiredResult) else Gate()


async def before_change(
    ctx: ServerRequestContext[Any, Any],
    client: PantryClient,
    user: str,
    params: types.CallToolRequestParams,
    metrics: Metrics,
) -> Gate:
    """The person asked to change their preferences: the same form, prefilled. A refusal
    here only means "no change"; the tool then reports what is saved."""
    if params.request_state is not None or params.input_responses:
        changed = await _settle_retry(client, user, params, metrics, remember_refusal=False)
        return Gate(note=CHANGED if changed else UNCHANGED)
    blocked = _cannot_ask(ctx)
    if blocked is not None:
        return Gate(note=NO_FORMS_NO_CHANNEL if blocked == "no channel" else NO_FORMS)
    saved = await client.get_preferences(user)
    message = FIRST_MESSAGE if is_unset(saved) else CHANGE_MESSAGE
    asked = await _ask(
        ctx, client, user, metrics, message, prefilled(saved), remember_refusal=False
    )
    if isinstance(asked, types.InputRequiredResult):
        return Gate(question=asked)
    return Gate(note=CHANGED if asked else UNCHANGED)


def _cannot_ask(ctx: ServerRequestContext[Any, Any]) -> str | None:
    """Why this request cannot carry the question, or None when it can."""
    modern = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
    if not modern and not ctx.session.can_send_request:
        return "no channel"  # stateless 2025-11-25 HTTP, whatever the client can show
    if not supports_form(ctx):
        return "no forms"
    return None


async def _ask(
    ctx: ServerRequestContext[Any, Any],
    client: PantryClient,
    user: str,
    metrics: Metrics,
    message: str,
    form: dict[str, Any],
    *,
    remember_refusal: bool,
) -> types.InputRequiredResult | bool:
    """Put the form to the person. On 2026-07-28: the question, for the tool to return.
    On 2025-11-25: the person's answer, settled now (True when saved)."""
    _record(metrics, "asked", user)
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        return _question(message, form, datetime.now(UTC))
    answer = await ctx.session.elicit_form(message, form, related_request_id=ctx.request_id)
    return await _settle(client, user, answer, metrics, remember_refusal=remember_refusal)


def _question(message: str, form: dict[str, Any], asked_at: datetime) -> types.InputRequiredResult:
    form_params = types.ElicitRequestFormParams(message=message, requested_schema=form)
    return types.InputRequiredResult(
        input_requests={INPUT_KEY: types.ElicitRequest(params=form_params)},
        # Plain text here; the boundary seals it, bound to this user, tool and arguments.
        request_state=json.dumps({"asked_at": asked_at.isoformat()}),
    )


async def _settle_retry(
    client: PantryClient,
    user: str,
    params: types.CallToolRequestParams,
    metrics: Metrics,
    *,
    remember_refusal: bool,
) -> bool:
    answer = (params.input_responses or {}).get(INPUT_KEY)
    if params.request_state is None or not isinstance(answer, types.ElicitResult):
        raise MCPError(
            code=INVALID_PARAMS,
            message="An answer to the preferences question must come with the requestState "
            "of that question, and the question's answer under inputResponses.preferences.",
        )
    try:
        asked_at = datetime.fromisoformat(json.loads(params.request_state)["asked_at"])
    except (ValueError, KeyError, TypeError):
        raise MCPError(code=INVALID_PARAMS, message="Invalid or expired requestState") from None
    # A state answers one question once: after the person's answer is recorded, the same
    # state brought back again (a replay) is refused and changes nothing.
    if answered_since(await client.get_preferences(user), asked_at):
        raise MCPError(
            code=INVALID_PARAMS,
            message="That preferences question was already answered; call the tool "
            "again without requestState.",
        )
    return await _settle(client, user, answer, metrics, remember_refusal=remember_refusal)


async def _settle(
    client: PantryClient,
    user: str,
    answer: types.ElicitResult,
    metrics: Metrics,
    *,
    remember_refusal: bool,
) -> bool:
    """Save an accepted answer (True), or take a refusal: remembered for 30 days when it
    was the first question, a plain "no change" when the person asked to change them."""
    if answer.action != "accept":
        if remember_refusal:
            await client.decline_preferences(user)
        _record(metrics, "declined" if answer.action == "decline" else "cancelled", user)
        return False
    try:
        body = read_answer(answer.content).body
    except InvalidAnswer as invalid:
        _record(metrics, "invalid", user)
        raise MCPError(
            code=INVALID_PARAMS,
            message=f"The preferences answer is not valid: {invalid.field} {invalid.problem}. "
            "Nothing was saved.",
        ) from None
    await client.save_preferences(user, body)
    _record(metrics, "accepted", user)
    return True


def _record(metrics: Metrics, outcome: str, user: str) -> None:
    """The outcome only: the person's answers are never logged."""
    metrics.elicitation(outcome)
    log.info("preferences_question", outcome=outcome, user=user)
