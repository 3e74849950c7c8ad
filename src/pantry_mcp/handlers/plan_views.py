"""Tools for the MCP Apps views only (``_meta.ui.visibility: ["app"]``): the model never
sees them. The week view reads a plan as it is now; the shopping-list view ticks items.
They pass the same checks as every tool: scope, rate limit, validation, the acting user.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pantry_mcp.client import JSON, PantryClient, PantryNotFound
from pantry_mcp.errors import ToolError
from pantry_mcp.handlers.common import plural
from pantry_mcp.handlers.meal_plans import shopping_list, shopping_to_buy
from pantry_mcp.handlers.plan_lookup import plan_by_id, span_text


async def get_meal_plan(client: PantryClient, user: str, args: dict[str, Any]) -> JSON:
    plan = await plan_by_id(client, user, args["plan_id"])
    days = [
        {
            "day": day["day"],
            "date": day["date"],
            "weekday": f"{date.fromisoformat(day['date']):%A}",
            "meals": [
                {
                    "entry_id": entry["id"],
                    "slot": entry["slot"],
                    "recipe_id": entry["recipe_id"],
                    "title": entry["recipe_title"],
                    "total_minutes": entry["total_minutes"],
                    "pantry_coverage": entry["pantry_coverage"],
                }
                for entry in day["entries"]
            ],
        }
        for day in plan["days"]
    ]
    meals = sum(len(day["meals"]) for day in days)
    return {
        "summary": f"Plan {plan['id']} ({span_text(plan)}) holds {plural(meals, 'meal')}.",
        "plan_id": plan["id"],
        "name": plan["name"],
        "start_date": plan["start_date"],
        "end_date": plan["end_date"],
        "days": days,
    }


async def check_shopping_item(client: PantryClient, user: str, args: dict[str, Any]) -> JSON:
    plan_id, key, checked = args["plan_id"], args["item_key"], args["checked"]
    try:
        item = await client.check_shopping_item(user, plan_id, key, checked=checked)
    except PantryNotFound:
        raise ToolError(
            f"Plan '{plan_id}' has no shopping-list item '{key}'.",
            "get_shopping_list gives a plan's items with their keys.",
        ) from None
    # Counted the way get_shopping_list lists them, so the view's tally and ours agree.
    aisles, _ = shopping_to_buy(await shopping_list(client, user, plan_id), exclude_pantry=True)
    items = [listed for aisle in aisles for listed in aisle["items"]]
    ticked = sum(listed["checked"] for listed in items)
    state = "Ticked off" if checked else "Back on the list:"
    return {
        "summary": f"{state} {item['name']}; {ticked} of {len(items)} items ticked in plan "
        f"{plan_id}.",
        "plan_id": plan_id,
        "key": item["key"],
        "name": item["name"],
        "checked": checked,
        "checked_count": ticked,
        "item_count": len(items),
    }
