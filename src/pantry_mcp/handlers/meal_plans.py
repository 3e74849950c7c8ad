"""Meal-plan tools: plan a week, put one recipe on a day, and the shopping list."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from pantry_mcp.client import JSON, PantryClient, PantryNotFound
from pantry_mcp.errors import ToolError
from pantry_mcp.handlers.common import (
    amount_text,
    call_key,
    content_key,
    gather,
    join_names,
    plural,
)

CANDIDATES_PER_PAGE = 50
LAST_START = date.max - timedelta(days=27)  # the last day of the longest plan still exists


async def plan_week_meals(client: PantryClient, user: str, args: dict[str, Any]) -> JSON:
    start = date.fromisoformat(args["start_date"])
    days: int = args.get("days", 7)
    if start > LAST_START:
        raise ToolError(
            f"start_date {start.isoformat()} is too far in the future for a calendar.",
            f"Use a start_date no later than {LAST_START.isoformat()}.",
        )
    prefer_pantry: bool = args.get("prefer_pantry", True)
    asked = sorted(set(args.get("dietary") or []))
    # Round trip 1: preferences and two pages of candidates, all at once.
    search = {
        "course": "main",
        "dietary": asked or None,
        "sort": "pantry" if prefer_pantry else "relevance",
        "page_size": CANDIDATES_PER_PAGE,
    }
    preferences, first, second = await gather(
        lambda: client.get_preferences(user),
        lambda: client.search_recipes(user, page=1, **search),
        lambda: client.search_recipes(user, page=2, **search),
    )
    chosen = _choose(first["items"] + second["items"], preferences, days, prefer_pantry)
    if len(chosen) < days:
        raise ToolError(
            f"Only {plural(len(chosen), 'recipe')} fit these dietary needs and dislikes, "
            f"not enough for {plural(days, 'day')} without repeats.",
            "Plan fewer days, or drop a dietary filter.",
            details={"available": len(chosen)},
        )
    # Round trip 2: the plan with all its entries, created by Pantry in one transaction:
    # it exists complete or not at all. The key is the content, so an agent that retries
    # after a lost answer gets the same plan back instead of a second one.
    body = {
        "start_date": start.isoformat(),
        "days": days,
        "entries": [
            {"recipe_id": hit["id"], "day": day, "slot": "dinner"}
            for day, hit in enumerate(chosen, 1)
        ],
    }
    plan = await client.create_plan(
        user, body, idempotency_key=content_key(user, "plan-week", body)
    )
    schedule = [
        {
            "day": day,
            "date": (start + timedelta(days=day - 1)).isoformat(),
            "recipe_id": hit["id"],
            "title": hit["title"],
            "total_minutes": hit["total_minutes"],
            "pantry_coverage": hit["pantry_coverage"],
        }
        for day, hit in enumerate(chosen, 1)
    ]
    coverage = round(sum(d["pantry_coverage"] for d in schedule) / len(schedule), 3)
    return {
        "summary": _plan_summary(plan, schedule, coverage),
        "plan_id": plan["id"],
        "uri": f"meal-plan://{plan['id']}",
        "start_date": start.isoformat(),
        "end_date": (start + timedelta(days=days - 1)).isoformat(),
        "days": schedule,
        "pantry_coverage": coverage,
    }


def _choose(hits: list[JSON], preferences: JSON, days: int, prefer_pantry: bool) -> list[JSON]:
    """Distinct recipes that honour standing preferences, varied in cuisine day to day."""
    standing = set(preferences["dietary"])
    disliked = [name.lower() for name in preferences["disliked"]]
    seen: set[str] = set()
    pool: list[JSON] = []
    for hit in hits:
        if hit["id"] in seen or not standing <= set(hit["dietary"]):
            continue
        names = [line["name"].lower() for line in hit["ingredients"]]
        if any(d in name for d in disliked for name in names):
            continue
        seen.add(hit["id"])
        pool.append(hit)
    chosen: list[JSON] = []
    while pool and len(chosen) < days:
        last = chosen[-1]["cuisine"] if chosen else None
        # The best remaining recipe (Pantry's order), skipping yesterday's cuisine if it can.
        pick = next((hit for hit in pool if hit["cuisine"] != last), pool[0])
        chosen.append(pick)
        pool.remove(pick)
    return chosen


def _plan_summary(plan: JSON, schedule: list[JSON], coverage: float) -> str:
    first = schedule[0]
    lines = "; ".join(f"day {d['day']} {d['title']}" for d in schedule[:3])
    more = f" and {len(schedule) - 3} more" if len(schedule) > 3 else ""
    return (
        f"Planned {plural(len(schedule), 'dinner')} from {first['date']} in plan {plan['id']} "
        f"(meal-plan://{plan['id']}): {lines}{more}. Your pantry covers "
        f"{round(coverage * 100)}% of the measured ingredients; get_shopping_list "
        "gives what to buy."
    )


def _unknown_plan(plan_id: str) -> ToolError:
    return ToolError(
        f"No meal plan has id '{plan_id}'.",
        "Use a plan_id from plan_week_meals, or read your plans as meal-plan:// resources.",
    )


async def add_recipe_to_plan(client: PantryClient, user: str, args: dict[str, Any]) -> JSON:
    plan_id, recipe_id, day = args["plan_id"], args["recipe_id"], args["day"]
    slot = args.get("meal_slot", "dinner")
    try:
        plan = await client.get_plan(user, plan_id)
    except PantryNotFound:
        raise _unknown_plan(plan_id) from None
    length = len(plan["days"])
    if day > length:
        raise ToolError(
            f"Day {day} is outside plan {plan_id}, which has {plural(length, 'day')} "
            f"({plan['start_date']} to {plan['end_date']}).",
            f"Use a day from 1 to {length} (day 1 is {plan['start_date']}).",
        )
    existing = any(
        entry["recipe_id"] == recipe_id and entry["slot"] == slot
        for entry in plan["days"][day - 1]["entries"]
    )
    try:
        entry = await client.add_plan_entry(
            user,
            plan_id,
            {"recipe_id": recipe_id, "day": day, "slot": slot},
            idempotency_key=call_key("plan-entry"),
        )
    except PantryNotFound:
        raise ToolError(
            f"No recipe has id '{recipe_id}'.", "Find recipe ids with search_recipes."
        ) from None
    state = "already" if existing else "now"
    return {
        "summary": f"{entry['recipe_title']} is {state} {slot} on day {day} "
        f"({entry['date']}) of plan {plan_id}.",
        "entry_id": entry["id"],
        "date": entry["date"],
        "title": entry["recipe_title"],
        "already_planned": existing,
    }


async def get_shopping_list(client: PantryClient, user: str, args: dict[str, Any]) -> JSON:
    plan_id = args["plan_id"]
    exclude_pantry: bool = args.get("exclude_pantry", True)
    try:
        shopping = await client.get_shopping_list(user, plan_id)
    except PantryNotFound:
        raise _unknown_plan(plan_id) from None
    aisles, skipped = [], []
    for aisle in shopping["aisles"]:
        items = []
        for item in aisle["items"]:
            amounts = item["to_buy"] if exclude_pantry else item["amounts"]
            covered = exclude_pantry and item["in_pantry"] and not item["to_buy"]
            if covered:
                skipped.append(item["name"])
                continue
            items.append(
                {
                    "name": item["name"],
                    "amounts": [{"quantity": a["quantity"], "unit": a["unit"]} for a in amounts],
                    "to_taste": item["to_taste"] and not amounts,
                }
            )
        if items:
            aisles.append({"aisle": aisle["aisle"], "items": items})
    count = sum(len(a["items"]) for a in aisles)
    return {
        "summary": _shopping_summary(plan_id, aisles, count, skipped, exclude_pantry),
        "aisles": aisles,
        "item_count": count,
        "covered_by_pantry": skipped,
    }


def _shopping_summary(
    plan_id: str, aisles: list[JSON], count: int, skipped: list[str], exclude_pantry: bool
) -> str:
    if count == 0 and not skipped:
        return f"Plan {plan_id} has no recipes yet, so there is nothing to buy."
    if count == 0:
        return f"Your pantry already covers everything plan {plan_id} needs."
    first = aisles[0]["items"][0]
    amount = ", ".join(amount_text(a["quantity"], a["unit"]) for a in first["amounts"])
    text = (
        f"{plural(count, 'item')} to buy in {plural(len(aisles), 'aisle')} for plan {plan_id} "
        f"(first: {first['name']}{', ' + amount if amount else ''})."
    )
    if exclude_pantry and skipped:
        text += f" Left off because your pantry has them: {join_names(skipped)}."
    return text
