"""update_pantry: any number of pantry changes in one call, reported change by change."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pantry_mcp.client import (
    JSON,
    PantryClient,
    PantryMisconfigured,
    PantryNotFound,
    PantryRejected,
    PantryUnavailable,
)
from pantry_mcp.errors import ToolError
from pantry_mcp.handlers.common import amount_text, call_key, gather, join_names, plural


async def update_pantry(client: PantryClient, user: str, args: dict[str, Any]) -> JSON:
    changes: list[dict[str, Any]] = args["changes"]
    incomplete = [
        index
        for index, change in enumerate(changes)
        if change["action"] == "add" and (change.get("quantity") is None or not change.get("unit"))
    ]
    if incomplete:
        raise ToolError(
            "An add needs both quantity and unit; nothing was changed.",
            "Give quantity and unit for each add (unit 'piece' for countable things like eggs), "
            "then send all the changes again.",
            details={"changes_without_amount": incomplete},
        )
    names = list(dict.fromkeys(change["ingredient"].strip() for change in changes))
    matches = await gather(*(_resolver(client, user, name) for name in names))
    resolved = dict(zip(names, matches, strict=True))
    reports = []
    for change in changes:  # in order: two changes to one ingredient must not race
        reports.append(await _apply(client, user, change, resolved[change["ingredient"].strip()]))
    applied = [r for r in reports if r["status"] == "applied"]
    failed = [r for r in reports if r["status"] == "failed"]
    return {
        "summary": _summary(applied, failed),
        "applied": len(applied),
        "failed": len(failed),
        "changes": reports,
    }


def _resolver(client: PantryClient, user: str, name: str) -> Callable[[], Awaitable[JSON | None]]:
    """Pantry's best catalog match for a typed name; ``exact`` when it names it exactly."""

    async def resolve() -> JSON | None:
        page = await client.search_ingredients(user, name, page_size=1)
        if not page["items"]:
            return None
        best = page["items"][0]
        return {"id": best["id"], "name": best["name"], "exact": best["exact"]}

    return resolve


async def _apply(
    client: PantryClient, user: str, change: dict[str, Any], match: JSON | None
) -> JSON:
    action, typed = change["action"], change["ingredient"].strip()
    report: JSON = {"action": action, "ingredient": typed}
    if match is None:
        return {**report, "status": "failed", "message": f"'{typed}' is not in Pantry's catalog."}
    if not match["exact"]:
        return {
            **report,
            "status": "failed",
            "message": f"'{typed}' is not a catalog ingredient; did you mean '{match['name']}'?",
        }
    report["ingredient_id"] = match["id"]
    try:
        if action == "add":
            body = {
                k: change[k]
                for k in ("quantity", "unit", "expires_on")
                if change.get(k) is not None
            }
            item = await client.add_pantry_item(
                user, {"ingredient_id": match["id"], **body}, idempotency_key=call_key("pantry-add")
            )
        elif action == "update":
            body = {k: change[k] for k in ("quantity", "unit", "expires_on") if k in change}
            item = await client.update_pantry_item(user, match["id"], body)
        else:
            await client.remove_pantry_item(user, match["id"])
            return {**report, "status": "applied", "message": f"removed {match['name']}"}
    except PantryNotFound:
        return {**report, "status": "failed", "message": f"{match['name']} is not in the pantry."}
    except PantryRejected as error:  # a conflict, a bad value: Pantry said no
        return {**report, "status": "failed", "message": error.message}
    except PantryMisconfigured:
        raise  # not about this change: the operator must fix the server
    except PantryUnavailable:
        return {
            **report,
            "status": "failed",
            "message": "Pantry did not confirm this change; read pantry://current before "
            "sending it again.",
        }
    now = amount_text(item["quantity"], item["unit"]) if item["quantity"] is not None else "some"
    verb = "added" if action == "add" else "set"
    amount = {k: item[k] for k in ("quantity", "unit") if item[k] is not None}
    return {
        **report,
        "status": "applied",
        "message": f"{verb} {match['name']}: now {now}",
        **amount,
    }


def _summary(applied: list[JSON], failed: list[JSON]) -> str:
    total = len(applied) + len(failed)
    if not failed:
        return (
            f"Applied all {plural(total, 'change')}: "
            + "; ".join(r["message"] for r in applied)
            + "."
        )
    text = f"Applied {len(applied)} of {plural(total, 'change')}."
    if applied:
        text += " Done: " + join_names([r["message"] for r in applied], 4) + "."
    text += " Not done: " + "; ".join(f"{r['ingredient']}: {r['message']}" for r in failed)
    return text
