"""The OpenAPI 3.1 document, built from the same operation declarations that serve requests."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from pantry_api import models
from pantry_api.middleware import USER_PATTERN
from pantry_api.routing import Operation, list_fields
from pantry_api.store.idempotency import KEY_PATTERN, MAX_KEY_LENGTH

_REF = "#/components/schemas/{model}"
_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No content",
    400: "Malformed request (bad JSON, header or parameter shape)",
    401: "Missing or wrong service credential",
    403: "Not allowed: the resource is read-only",
    404: "Not found (or not yours)",
    409: "Conflicts with the current state",
    413: "Body too large",
    415: "Body is not JSON",
    422: "A field is invalid; details name it",
    429: "Too many requests for this user; see Retry-After",
    503: "The database stayed busy; nothing was changed, retry after Retry-After",
}


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """Resolve local $defs so a query parameter's schema stands alone."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    resolved: dict[str, Any] = walk(schema)
    return resolved


def _parameters(model: type[BaseModel], where: str) -> list[dict[str, Any]]:
    schema = _inline(model.model_json_schema())
    required = set(schema.get("required", []))
    multi = list_fields(model)
    params = []
    for name, prop in schema["properties"].items():
        prop.pop("title", None)
        param: dict[str, Any] = {
            "name": name,
            "in": where,
            "required": where == "path" or name in required,
        }
        if "description" in prop:
            param["description"] = prop.pop("description")
        param["schema"] = prop
        if name in multi:
            param.update(style="form", explode=True)
        params.append(param)
    return params


def build(operations: list[Operation], *, title: str, version: str) -> dict[str, Any]:
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(models.ErrorBody, "serialization")]
    for op in operations:
        if op.body_model is not None:
            wanted.append((op.body_model, "validation"))
        if op.response_model is not None:
            wanted.append((op.response_model, "serialization"))
    refs, components = models_json_schema(list(dict.fromkeys(wanted)), ref_template=_REF)

    def content(model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
        return {"application/json": {"schema": refs[(model, mode)]}}

    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        parameters: list[dict[str, Any]] = [
            {
                "name": "X-Pantry-User",
                "in": "header",
                "required": True,
                "description": "The acting user; every read and write is scoped to them.",
                "schema": {"type": "string", "pattern": USER_PATTERN.pattern},
            }
        ]
        if op.idempotent:
            parameters.append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "description": "A retry with the same key replays the first answer (24 h).",
                    "schema": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": MAX_KEY_LENGTH,
                        "pattern": f"^{KEY_PATTERN.pattern}$",
                    },
                }
            )
        if op.path_model is not None:
            parameters += _parameters(op.path_model, "path")
        if op.query_model is not None:
            parameters += _parameters(op.query_model, "query")
        responses: dict[str, Any] = {}
        for status in (op.status, *op.other_statuses):
            response: dict[str, Any] = {"description": _STATUS_TEXT.get(status, "OK")}
            if op.response_model is not None and status != 204:
                response["content"] = content(op.response_model, "serialization")
            elif op.media_type != "application/json":
                response["content"] = {op.media_type: {"schema": {"type": "string"}}}
            responses[str(status)] = response
        for status in op.errors:
            responses[str(status)] = {
                "description": _STATUS_TEXT[status],
                "content": content(models.ErrorBody, "serialization"),
            }
        operation: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": parameters,
            "responses": responses,
        }
        if op.body_model is not None:
            operation["requestBody"] = {
                "required": True,
                "content": content(op.body_model, "validation"),
            }
        paths.setdefault(op.path, {})[op.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "Pantry: recipes, pantry, meal plans and shopping lists, per user.",
        },
        "security": [{"serviceToken": []}],
        "paths": paths,
        "components": {
            "schemas": components.get("$defs", {}),
            "securitySchemes": {
                "serviceToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The service credential (PANTRY_API_SERVICE_TOKEN).",
                }
            },
        },
    }
