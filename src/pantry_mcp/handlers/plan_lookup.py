"""Finding the plan a person means from what they can say: "this week", "Wednesday".

A model in a new conversation knows no plan id, so the meal-plan tools take a calendar date
(or nothing) and find the plan here; every answer names the plan it chose, and a date no
plan covers is an error that lists the person's plans, so the next call can succeed.
"""

from __future__ import annotations

from datetime import date

from pantry_mcp.client import JSON, PantryClient, PantryNotFound
from pantry_mcp.errors import ToolError
from pantry_mcp.handlers.common import gather

PLANS_NAMED_IN_HINTS = 5


def day_text(day: date | str) -> str:
    """``Wed 2026-12-09``: the weekday spares the model a calendar sum."""
    when = date.fromisoformat(day) if isinstance(day, str) else day
    return f"{when:%a} {when.isoformat()}"


def span_text(plan: JSON) -> str:
    return f"{day_text(plan['start_date'])} to {day_text(plan['end_date'])}"


def covers(plan: JSON, day: date) -> bool:
    return date.fromisoformat(plan["start_date"]) <= day <= date.fromisoformat(plan["end_date"])


async def plan_by_id(client: PantryClient, user: str, plan_id: str) -> JSON:
    """The whole plan, entries included; an unknown id is the model's mistake."""
    try:
        return await client.get_plan(user, plan_id)
    except PantryNotFound:
        raise unknown_plan(plan_id) from None


def unknown_plan(plan_id: str) -> ToolError:
    return ToolError(
        f"No meal plan has id '{plan_id}'.",
        "Leave plan_id out to use your current plan (or the one covering a date you name); "
        "plan_week_meals and get_shopping_list return plan ids.",
    )


def outside_plan(plan_id: str, span: JSON, day: date) -> ToolError:
    """A date the named plan does not cover; ``span`` holds its start and end dates."""
    return ToolError(
        f"{day_text(day)} is outside plan {plan_id} ({span_text(span)}).",
        "Use a date inside the plan, or leave plan_id out to use the plan that covers the date.",
    )


async def plan_covering(client: PantryClient, user: str, day: date) -> JSON:
    """The plan that covers ``day`` (the latest to start, should several), as listed."""
    page = await client.list_plans(user, page_size=1, ends_on_or_after=day, starts_on_or_before=day)
    if page["items"]:
        plan: JSON = page["items"][0]
        return plan
    raise await _no_plan_on(client, user, day)


async def current_plan(client: PantryClient, user: str, today: date) -> JSON:
    """The plan covering today, else the next to start, else the most recent."""
    covering, upcoming, latest = await gather(
        lambda: client.list_plans(
            user, page_size=1, ends_on_or_after=today, starts_on_or_before=today
        ),
        lambda: client.list_plans(user, page_size=1, ends_on_or_after=today, order="earliest"),
        lambda: client.list_plans(user, page_size=1),
    )
    for page in (covering, upcoming, latest):
        if page["items"]:
            plan: JSON = page["items"][0]
            return plan
    raise _no_plans()


def _no_plans() -> ToolError:
    return ToolError(
        "You have no meal plans yet.",
        "Plan the week first with plan_week_meals (start_date YYYY-MM-DD), then call this again.",
    )


async def _no_plan_on(client: PantryClient, user: str, day: date) -> ToolError:
    page = await client.list_plans(user, page_size=PLANS_NAMED_IN_HINTS)
    if not page["items"]:
        return _no_plans()
    named = "; ".join(f"{plan['id']} ({span_text(plan)})" for plan in page["items"])
    more = f" and {page['total'] - len(page['items'])} older" if page["has_more"] else ""
    return ToolError(
        f"None of your meal plans covers {day_text(day)}.",
        f"Your plans: {named}{more}. Use a date inside one of them, or plan that week "
        "with plan_week_meals.",
        details={"plans": [_brief(plan) for plan in page["items"]]},
    )


def _brief(plan: JSON) -> JSON:
    return {"plan_id": plan["id"], "start_date": plan["start_date"], "end_date": plan["end_date"]}
