"""Resources as Markdown for reading: a recipe, the pantry, a meal plan."""

from __future__ import annotations

from datetime import date, timedelta

from pantry_mcp.client import JSON, PantryClient, PantryNotFound
from pantry_mcp.errors import ToolError
from pantry_mcp.handlers.common import amount_text

USE_SOON_DAYS = 7


class ResourceNotFound(ToolError):
    """The URI names nothing this user can read."""


async def read_recipe(client: PantryClient, user: str, recipe_id: str) -> str:
    try:
        recipe = await client.get_recipe(user, recipe_id)
    except PantryNotFound:
        raise ResourceNotFound(
            f"No recipe has id '{recipe_id}'.", "Find recipe ids with search_recipes."
        ) from None
    return render_recipe(recipe)


def render_recipe(recipe: JSON) -> str:
    facts = [
        recipe["cuisine"].replace("-", " ") if recipe["cuisine"] else None,
        f"{recipe['total_minutes']} minutes",
        f"serves {recipe['servings']}",
        ", ".join(recipe["dietary"]) or None,
    ]
    lines = [f"# {recipe['title']}", "", "*" + " · ".join(f for f in facts if f) + "*", ""]
    if recipe["summary"]:
        lines += [recipe["summary"], ""]
    lines += ["## Ingredients", ""]
    for line in recipe["ingredients"]:
        amount = amount_text(line["quantity"], line["unit"])
        note = f" ({line['note']})" if line.get("note") else ""
        lines.append(
            f"- {line['name']}, {amount}{note}"
            if line["quantity"] is None
            else f"- {amount} {line['name']}{note}"
        )
    lines += ["", "## Steps", ""]
    lines += [f"{number}. {step}" for number, step in enumerate(recipe["steps"], 1)]
    owner = "your own recipe" if recipe["owner"] == "me" else "from the Pantry catalog"
    lines += ["", f"Recipe id `{recipe['id']}`, {owner}."]
    return "\n".join(lines) + "\n"


async def read_pantry(client: PantryClient, user: str, today: date | None = None) -> str:
    pantry = await client.list_pantry(user)
    return render_pantry(pantry["items"], today or date.today())


def render_pantry(items: list[JSON], today: date) -> str:
    if not items:
        return (
            "# Your pantry\n\nThe pantry is empty. Tell the assistant what you have and it "
            "will record it with update_pantry.\n"
        )
    soon_limit = today + timedelta(days=USE_SOON_DAYS)

    def describe(item: JSON) -> str:
        amount = (
            amount_text(item["quantity"], item["unit"]) if item["quantity"] is not None else "some"
        )
        text = f"- {item['name']}: {amount}"
        if item["expires_on"]:
            expires = date.fromisoformat(item["expires_on"])
            text += " (expired " if expires < today else " (use by "
            text += f"{expires.isoformat()})"
        return text

    expiring = sorted(
        (i for i in items if i["expires_on"] and date.fromisoformat(i["expires_on"]) <= soon_limit),
        key=lambda i: str(i["expires_on"]),
    )
    lines = ["# Your pantry", "", f"{len(items)} items."]
    if expiring:
        lines += ["", f"## Use soon (within {USE_SOON_DAYS} days)", ""]
        lines += [describe(item) for item in expiring]
    by_aisle: dict[str, list[JSON]] = {}
    for item in items:
        by_aisle.setdefault(item["aisle"], []).append(item)
    for aisle in sorted(by_aisle):
        lines += ["", f"## {aisle.capitalize()}", ""]
        lines += [describe(item) for item in sorted(by_aisle[aisle], key=lambda i: i["name"])]
    return "\n".join(lines) + "\n"


async def read_plan(client: PantryClient, user: str, plan_id: str) -> str:
    try:
        plan = await client.get_plan(user, plan_id)
    except PantryNotFound:
        raise ResourceNotFound(
            f"No meal plan has id '{plan_id}'.",
            "get_shopping_list with no arguments names your current plan; plan_week_meals "
            "creates one.",
        ) from None
    return render_plan(plan)


def render_plan(plan: JSON) -> str:
    lines = [
        f"# {plan['name']}",
        "",
        f"{plan['start_date']} to {plan['end_date']} · plan id `{plan['id']}`",
    ]
    for day in plan["days"]:
        when = date.fromisoformat(day["date"])
        lines += ["", f"## Day {day['day']}: {when:%A} {when.day} {when:%B}", ""]
        if not day["entries"]:
            lines.append("- nothing planned")
        for entry in day["entries"]:
            lines.append(
                f"- {entry['slot'].capitalize()}: {entry['recipe_title']} "
                f"({entry['total_minutes']} min, serves {entry['servings']}), "
                f"recipe://{entry['recipe_id']}"
            )
    return "\n".join(lines) + "\n"
