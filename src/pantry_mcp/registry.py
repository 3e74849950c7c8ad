"""The tool registry: hand-written schemas bound to handlers, with validation at the edge.

Each tool is one file in ``schemas/`` (name, title, description, inputSchema,
outputSchema, annotations) and one handler function. The registry validates arguments
against the tool's own inputSchema before its handler runs (the SDK does not), checks
the handler's output against the outputSchema, and turns every failure into a result
the agent can act on, or into a clean protocol error: never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, cast

import mcp_types as types
import structlog

from pantry_mcp.client import (
    PantryClient,
    PantryError,
    PantryMisconfigured,
    PantryNotFound,
    PantryRateLimited,
    PantryRejected,
    PantryUnavailable,
)
from pantry_mcp.errors import ToolError
from pantry_mcp.scopes import READ_SCOPE, WRITE_SCOPE
from pantry_mcp.validation import SchemaCheck

if TYPE_CHECKING:  # jsonschema is imported on the first invalid value (validation.py)
    from jsonschema.exceptions import ValidationError

MAX_PROBLEMS = 10  # a 10,000-item mistake is described by its first ten
ToolHandler = Callable[[PantryClient, str, dict[str, Any]], Awaitable[dict[str, Any]]]

log = structlog.get_logger("pantry_mcp.tools")


class ToolFailure(Exception):
    """A failure only an operator can fix; becomes a JSON-RPC error, not a tool result."""


def load_schema(name: str) -> dict[str, Any]:
    text = resources.files("pantry_mcp.schemas").joinpath(f"{name}.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


@dataclass(frozen=True)
class ToolSpec:
    name: str
    tool: types.Tool
    handler: ToolHandler
    input_check: SchemaCheck
    output_check: SchemaCheck

    @property
    def scope(self) -> str:
        hints = self.tool.annotations
        return READ_SCOPE if hints is not None and hints.read_only_hint else WRITE_SCOPE


def _spec(name: str, handler: ToolHandler) -> ToolSpec:
    document = load_schema(name)
    if document["name"] != name:
        raise ValueError(f"schemas/{name}.json names the tool {document['name']!r}")
    return ToolSpec(
        name=name,
        tool=types.Tool.model_validate(document),
        handler=handler,
        input_check=SchemaCheck(document["inputSchema"]),
        output_check=SchemaCheck(document["outputSchema"]),
    )


def describe_problem(error: ValidationError) -> dict[str, str]:
    """One invalid argument, said plainly: which field, and what it must be."""
    if error.validator == "anyOf" and error.context:
        error = _closest_branch(error)
    path = ".".join(str(part) for part in error.absolute_path)
    validator, expected = error.validator, cast("Any", error.validator_value)
    schema = cast("dict[str, Any]", error.schema)
    got = json.dumps(error.instance, ensure_ascii=False)
    if len(got) > 60:
        got = got[:57] + "..."
    if validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        return {"field": f"{path}.{missing}" if path else missing, "problem": "is required"}
    if validator == "additionalProperties":
        extra = sorted(
            set(cast("dict[str, Any]", error.instance)) - set(schema.get("properties", {}))
        )
        return {
            "field": path or "(arguments)",
            "problem": f"unknown argument(s): {', '.join(extra)}",
        }
    return {
        "field": path or "(arguments)",
        "problem": _problem(str(validator), expected, got, error),
    }


def _closest_branch(error: ValidationError) -> ValidationError:
    """A nullable value (``anyOf`` a typed branch and ``{"type": "null"}``) that fails is
    described by the branch whose type it has (``quantity`` 0: "must be more than 0"); a
    value of neither type by the types allowed ("must be number or null")."""
    from jsonschema.exceptions import ValidationError  # loaded: ``error`` is one

    typed = [e for e in error.context or [] if e.validator != "type"]
    if typed:
        return min(typed, key=lambda e: len(e.relative_schema_path))
    kinds: list[Any] = []
    for branch in error.context or []:
        value = branch.validator_value
        kinds += value if isinstance(value, list) else [value]
    return ValidationError(
        error.message,
        validator="type",
        validator_value=kinds,
        instance=error.instance,
        schema=error.schema,
        path=error.relative_path,
        schema_path=error.relative_schema_path,
        parent=error.parent,
    )


def _problem(validator: str, expected: Any, got: str, error: ValidationError) -> str:
    if validator in ("maximum", "minimum", "exclusiveMinimum", "exclusiveMaximum"):
        word = {
            "maximum": "at most",
            "minimum": "at least",
            "exclusiveMinimum": "more than",
            "exclusiveMaximum": "less than",
        }[validator]
        return f"must be {word} {expected} (got {got})"
    if validator in ("maxLength", "minLength"):
        word = "at most" if validator == "maxLength" else "at least"
        return f"must be {word} {expected} characters long"
    if validator in ("maxItems", "minItems"):
        word = "at most" if validator == "maxItems" else "at least"
        return f"must have {word} {expected} items"
    if validator == "enum":
        return f"must be one of {', '.join(json.dumps(v) for v in expected)} (got {got})"
    if validator == "type":
        kinds = expected if isinstance(expected, list) else [expected]
        return f"must be {' or '.join(kinds)} (got {got})"
    if validator == "format" and expected == "date":
        return f"must be a date like 2026-11-30 (got {got})"
    if validator == "uniqueItems":
        return "must not repeat items"
    return f"is not valid (got {got})"


# A tools/call result as the JSON it is sent as (the spec's CallToolResult, camelCase). The
# SDK validates every result against the protocol's models and shapes it for the client's
# protocol version on its way out; a result built as a model would be built, dumped,
# validated and dumped again, a tenth of a search's time under load.
ToolResult = dict[str, Any]


def tool_result(text: str, structured: dict[str, Any] | None = None) -> ToolResult:
    """A successful result: ``text`` for the model, ``structured`` for the outputSchema."""
    result: ToolResult = {"content": [{"type": "text", "text": text}], "isError": False}
    if structured is not None:
        result["structuredContent"] = structured
    result["resultType"] = "complete"  # 2026-07-28 requires it; older versions drop it
    return result


def error_result(message: str, hint: str, **details: Any) -> ToolResult:
    """An isError result: error and hint in the text (as JSON), no structuredContent.

    Clients that check structuredContent against the outputSchema even on errors (the
    TypeScript SDK, the Inspector) would reject an error shape that is not in it.
    """
    body = {"error": message, "hint": hint, **details}
    result = tool_result(json.dumps(body, ensure_ascii=False))
    result["isError"] = True
    return result


class Registry:
    def __init__(self, tools: Sequence[tuple[str, ToolHandler]]) -> None:
        self._specs: dict[str, ToolSpec] = {name: _spec(name, handler) for name, handler in tools}

    @property
    def specs(self) -> list[ToolSpec]:
        return list(self._specs.values())

    def tools(self, scopes: set[str] | None = None) -> list[types.Tool]:
        """The tools in their fixed order, only those the given scopes may call."""
        return [
            spec.tool for spec in self._specs.values() if scopes is None or spec.scope in scopes
        ]

    def get(self, name: str) -> ToolSpec | None:
        return self._specs.get(name)

    def input_schema(self, name: str) -> Mapping[str, Any] | None:
        spec = self._specs.get(name)
        return spec.tool.input_schema if spec is not None else None

    async def call(
        self, spec: ToolSpec, client: PantryClient, user: str, arguments: dict[str, Any] | None
    ) -> ToolResult:
        """Validate, run, check and shape one tool call (``request_log`` logs it)."""
        try:
            return await self._run(spec, client, user, arguments or {})
        except ToolFailure:
            raise
        except Exception:
            # A bug of ours: the details go to the log, never to the client.
            log.exception("tool_crashed", tool=spec.name)
            raise ToolFailure(
                f"{spec.name} failed unexpectedly; the server log has the details."
            ) from None

    async def _run(
        self, spec: ToolSpec, client: PantryClient, user: str, arguments: dict[str, Any]
    ) -> ToolResult:
        problems = [
            describe_problem(e) for e in spec.input_check.problems(arguments, MAX_PROBLEMS + 1)
        ]
        if problems:
            more = " (and more)" if len(problems) > MAX_PROBLEMS else ""
            problems = problems[:MAX_PROBLEMS]
            return error_result(
                f"Invalid arguments for {spec.name}{more}: "
                + "; ".join(f"{p['field']} {p['problem'][:200]}" for p in problems),
                "Correct the named arguments and call again; the inputSchema gives every bound.",
                problems=problems,
            )
        try:
            output = await spec.handler(client, user, arguments)
        except ToolError as error:
            return error_result(error.message, error.hint, **error.details)
        except PantryMisconfigured as error:
            log.error("pantry_misconfigured", tool=spec.name, error=error.message)
            raise ToolFailure(
                "pantry-mcp cannot use Pantry: its service credential was refused. "
                "The operator must check PANTRY_MCP_PANTRY_TOKEN."
            ) from None
        except PantryRateLimited as error:
            return error_result(
                "Pantry is limiting how fast this user can make requests.",
                f"Wait {max(1, round(error.retry_after))} seconds, then retry the same call.",
            )
        except PantryNotFound as error:
            return error_result(error.message, "Check the ids; search_recipes finds recipe ids.")
        except PantryRejected as error:
            return error_result(
                error.message, "Change the request and try again.", fields=error.fields
            )
        except PantryUnavailable as error:
            log.error(
                "pantry_unavailable", tool=spec.name, error=error.message, status=error.status
            )
            raise ToolFailure(
                f"Pantry is unavailable ({error.message}); try again shortly. "
                "If this persists, the operator should check that Pantry is running "
                "and PANTRY_MCP_PANTRY_URL points at it."
            ) from None
        except PantryError as error:  # pragma: no cover - every subclass is handled above
            raise ToolFailure(f"Pantry failed: {error.message}") from None
        output_problems = spec.output_check.problems(output, 5)
        if output_problems:
            log.error(
                "tool_output_invalid",
                tool=spec.name,
                problems=[describe_problem(e) for e in output_problems],
            )
            raise ToolFailure(f"{spec.name} produced a malformed result; this is a server bug.")
        return tool_result(str(output["summary"]), output)
