"""Meal-plan tools: plan a week, put one recipe on a day, and the shopping list."""

from __future__ import annotations

from contextlib import suppress
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
from pantry_mcp.handlers.menu import (
    Menu,
    distinct,
    is_weeknight,
    menu_seed,
    suits,
    time_limit,
)
from pantry_mcp.handlers.plan_lookup import (
    covers,
    current_plan,
    day_text,
    outside_plan,
    plan_by_id,
    plan_covering,
    span_text,
    unknown_plan,
)

CANDIDATES_PER_PAGE = 50
LAST_START = date.max - timedelta(days=27)  # the last day of the longest plan still exists
RECENT_DAYS = 14  # recipes planned this many days before a new plan are not repeated in it


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
    # Round trip 1: preferences, two pages of candidates and the plans just before this
    # one, all at once. Ties in Pantry's ranking are broken by a seed of this user and
    # start date: the same request gives the same plan, another week another one.
    search = {
        "course": "main",
        "dietary": asked or None,
        "sort": "pantry" if prefer_pantry else "relevance",
        "seed": menu_seed(user, start),
        "page_size": CANDIDATES_PER_PAGE,
    }
    preferences, first, second, recent = await gather(
        lambda: client.get_preferences(user),
        lambda: client.search_recipes(user, page=1, **search),
        lambda: client.search_recipes(user, page=2, **search),
        lambda: _recent_plans(client, user, start),
    )
    pool = [hit for hit in distinct(first["items"] + second["items"]) if suits(hit, preferences)]
    limit: int | None = preferences.get("max_weeknight_minutes")
    menu = Menu(
        pool,
        prefer_pantry=prefer_pantry,
        avoid={recipe_id for plan in recent for recipe_id in plan["recipe_ids"]},
    )
    dates = [start + timedelta(days=offset) for offset in range(days)]
    for day in dates:
        if menu.pick(time_limit(day, limit), weeknight=is_weeknight(day)) is None:
            break
    chosen = menu.picks
    if len(chosen) < days:
        weeknights = f" and your {limit}-minute weeknight limit" if limit else ""
        raise ToolError(
            f"Only {plural(len(chosen), 'recipe')} fit these dietary needs, dislikes"
            f"{weeknights}, not enough for {plural(days, 'day')} without repeats.",
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
            "day": number,
            "date": day.isoformat(),
            "weekday": f"{day:%A}",
            "recipe_id": hit["id"],
            "title": hit["title"],
            "total_minutes": hit["total_minutes"],
            "pantry_coverage": hit["pantry_coverage"],
        }
        for number, (day, hit) in enumerate(zip(dates, chosen, strict=True), 1)
    ]
    coverage = round(sum(d["pantry_coverage"] for d in schedule) / len(schedule), 3)
    return {
        "summary": _plan_summary(plan, schedule, coverage, limit),
        "plan_id": plan["id"],
        "uri": f"meal-plan://{plan['id']}",
        "start_date": start.isoformat(),
        "end_date": dates[-1].isoformat(),
        "days": schedule,
        "pantry_coverage": coverage,
    }


async def _recent_plans(client: PantryClient, user: str, start: date) -> list[JSON]:
    """Plans that overlap the two weeks before ``start``: a new week should not repeat them."""
    if start - date.min < timedelta(days=RECENT_DAYS):
        return []
    page = await client.list_plans(
        user,
        page_size=20,
        ends_on_or_after=start - timedelta(days=RECENT_DAYS),
        starts_on_or_before=start - timedelta(days=1),
    )
    plans: list[JSON] = page["items"]
    return plans


def _plan_summary(plan: JSON, schedule: list[JSON], coverage: float, limit: int | None) -> str:
    shown = schedule[:7]
    lines = "; ".join(f"{d['weekday'][:3]} {d['title']}" for d in shown)
    more = f" and {len(schedule) - len(shown)} more" if len(schedule) > len(shown) else ""
    text = (
        f"Planned {plural(len(schedule), 'dinner')} from {day_text(schedule[0]['date'])} in "
        f"plan {plan['id']}: {lines}{more}. Your pantry covers {round(coverage * 100)}% of "
        "the measured ingredients"
    )
    if limit:
        text += f"; weeknight dinners take at most {limit} minutes"
    return text + ". get_shopping_list gives what to buy; add_recipe_to_plan changes a day."


async def add_recipe_to_plan(client: PantryClient, user: str, args: dict[str, Any]) -> JSON:
    recipe_id, on = args["recipe_id"], date.fromisoformat(args["date"])
    slot = args.get("meal_slot", "dinner")
    if args.get("plan_id"):
        plan = await plan_by_id(client, user, args["plan_id"])
        if not covers(plan, on):
            raise outside_plan(plan["id"], plan, on)
    else:
        plan = await plan_by_id(client, user, (await plan_covering(client, user, on))["id"])
    day = (on - date.fromisoformat(plan["start_date"])).days + 1
    in_slot = [entry for entry in plan["days"][day - 1]["entries"] if entry["slot"] == slot]
    existing = any(entry["recipe_id"] == recipe_id for entry in in_slot)
    others = [entry for entry in in_slot if entry["recipe_id"] != recipe_id]
    try:
        entry = await client.add_plan_entry(
            user,
            plan["id"],
            {"recipe_id": recipe_id, "day": day, "slot": slot},
            idempotency_key=call_key("plan-entry"),
        )
    except PantryNotFound:
        raise ToolError(
            f"No recipe has id '{recipe_id}'.", "Find recipe ids with search_recipes."
        ) from None
    # The new entry exists before any other leaves: a failure half way never empties a meal.
    replaced = await _take_off(client, user, plan["id"], others) if args.get("replace") else []
    state = "already" if existing else "now"
    summary = (
        f"{entry['recipe_title']} is {state} {slot} on {day_text(entry['date'])} "
        f"in plan {plan['id']} ({span_text(plan)})."
    )
    if replaced:
        summary += f" It replaces {join_names(replaced)}."
    elif others:  # without replace the meal keeps what it had: say so
        summary += f" That {slot} also has {join_names([e['recipe_title'] for e in others])}."
    return {
        "summary": summary,
        "plan_id": plan["id"],
        "entry_id": entry["id"],
        "date": entry["date"],
        "title": entry["recipe_title"],
        "already_planned": existing,
        "replaced": replaced,
    }


async def _take_off(
    client: PantryClient, user: str, plan_id: str, entries: list[JSON]
) -> list[str]:
    """Remove ``entries`` from the plan, one after another; one already gone (a retried
    call) counts as removed. Returns their titles."""
    for entry in entries:
        with suppress(PantryNotFound):
            await client.remove_plan_entry(user, plan_id, entry["id"])
    return [entry["recipe_title"] for entry in entries]


async def get_shopping_list(client: PantryClient, user: str, args: dict[str, Any]) -> JSON:
    exclude_pantry: bool = args.get("exclude_pantry", True)
    on = date.fromisoformat(args["date"]) if args.get("date") else None
    if args.get("plan_id"):
        # One call: the list names its plan's dates (and a half-open circuit lets only
        # one trial call through, so a tool must not need two at once to answer).
        shopping = await shopping_list(client, user, args["plan_id"])
        if on is not None and not covers(shopping, on):
            raise outside_plan(shopping["plan_id"], shopping, on)
    else:
        plan = await (
            plan_covering(client, user, on) if on else current_plan(client, user, date.today())
        )
        shopping = await shopping_list(client, user, plan["id"])
    aisles, skipped = shopping_to_buy(shopping, exclude_pantry)
    count = sum(len(a["items"]) for a in aisles)
    ticked = sum(item["checked"] for a in aisles for item in a["items"])
    return {
        "summary": _shopping_summary(shopping, aisles, count, ticked, skipped, exclude_pantry),
        "plan_id": shopping["plan_id"],
        "start_date": shopping["start_date"],
        "end_date": shopping["end_date"],
        "aisles": aisles,
        "item_count": count,
        "checked_count": ticked,
        "covered_by_pantry": skipped,
    }


def shopping_to_buy(shopping: JSON, exclude_pantry: bool) -> tuple[list[JSON], list[str]]:
    """The list's aisles as the tools show them, and the names left off because the pantry
    covers them in full (only when ``exclude_pantry``)."""
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
                    "key": item["key"],
                    "name": item["name"],
                    "amounts": [{"quantity": a["quantity"], "unit": a["unit"]} for a in amounts],
                    "to_taste": item["to_taste"] and not amounts,
                    "in_pantry": item["in_pantry"],
                    "checked": item["checked"],
                }
            )
        if items:
            aisles.append({"aisle": aisle["aisle"], "items": items})
    return aisles, skipped


async def shopping_list(client: PantryClient, user: str, plan_id: str) -> JSON:
    try:
        return await client.get_shopping_list(user, plan_id)
    except PantryNotFound:
        raise unknown_plan(plan_id) from None


def _shopping_summary(
    shopping: JSON,
    aisles: list[JSON],
    count: int,
    ticked: int,
    skipped: list[str],
    exclude_pantry: bool,
) -> str:
    plan = f"plan {shopping['plan_id']} ({span_text(shopping)})"
    if count == 0 and not skipped:
        return f"Nothing to buy: {plan} has no recipes yet."
    if count == 0:
        return f"Nothing to buy: your pantry already covers everything {plan} needs."
    first = aisles[0]["items"][0]
    amount = ", ".join(amount_text(a["quantity"], a["unit"]) for a in first["amounts"])
    text = (
        f"{plural(count, 'item')} to buy in {plural(len(aisles), 'aisle')} for {plan}; "
        f"first: {first['name']}{', ' + amount if amount else ''}."
    )
    if ticked:
        text += f" {ticked} of them ticked off already."
    if exclude_pantry and skipped:
        text += f" Left off because your pantry has them: {join_names(skipped)}."
    return text
