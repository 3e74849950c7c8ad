"""Recipe tools: find recipes, save one, pick tonight's dinner, and swap an ingredient."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from pantry_mcp.client import JSON, PantryClient, PantryNotFound
from pantry_mcp.errors import ToolError
from pantry_mcp.handlers.common import content_key, gather, join_names, plural, slug
from pantry_mcp.handlers.menu import Menu, is_weeknight, menu_seed, suits, time_limit

PAGE_SIZE = 10


async def search_recipes(client: PantryClient, user: str, args: dict[str, Any]) -> JSON:
    query = args["query"].strip()
    params: dict[str, Any] = {
        "q": query,
        "max_minutes": args.get("max_minutes"),
        "dietary": args.get("dietary") or None,
        "cuisine": slug(args["cuisine"]) if args.get("cuisine") else None,
        "page": args.get("page", 1),
        "page_size": PAGE_SIZE,
    }
    page = await client.search_recipes(user, **params)
    results = [
        {
            "id": hit["id"],
            "title": hit["title"],
            "total_minutes": hit["total_minutes"],
            "summary": hit["summary"],
        }
        for hit in page["items"]
    ]
    return {
        "summary": _search_summary(query, args, page, len(results)),
        "results": results,
        "page": page["page"],
        "total": page["total"],
        "has_more": page["has_more"],
    }


def _search_summary(query: str, args: dict[str, Any], page: JSON, shown: int) -> str:
    filters = []
    if args.get("max_minutes"):
        filters.append(f"at most {args['max_minutes']} minutes")
    if args.get("dietary"):
        filters.append(", ".join(args["dietary"]))
    if args.get("cuisine"):
        filters.append(str(args["cuisine"]))
    where = f" ({'; '.join(filters)})" if filters else ""
    if page["total"] == 0:
        return (
            f"No recipes match '{query}'{where}. Try fewer or more general words, or drop a filter."
        )
    first = (page["page"] - 1) * PAGE_SIZE + 1
    # Pantry counts up to a bound; past it the total is a lower bound (total_exact false)
    exact = page.get("total_exact", True)
    matches = plural(page["total"], "recipe") if exact else f"{page['total']:,}+ recipes"
    if shown == 0:
        return f"{matches} match '{query}'{where}, but page {page['page']} is past the end."
    text = f"{matches} match '{query}'{where}; showing {first}-{first + shown - 1}."
    if not exact:
        text += " Add words or filters to narrow them down."
    if page.get("match") == "any":
        text += " No recipe has every word, so these match some of them."
    if page["has_more"]:
        text += f" Ask for page {page['page'] + 1} for more."
    return text + " Read one in full at recipe://{id}."


async def save_recipe(client: PantryClient, user: str, args: dict[str, Any]) -> JSON:
    body: JSON = {
        "title": args["title"],
        "total_minutes": args["total_minutes"],
        "ingredients": [
            {
                "name": line["name"],
                "quantity": line.get("quantity"),
                "unit": line.get("unit"),
                **({"note": line["note"]} if line.get("note") else {}),
            }
            for line in args["ingredients"]
        ],
        "steps": args["steps"],
    }
    for optional in ("summary", "servings"):
        if args.get(optional) is not None:
            body[optional] = args[optional]
    if args.get("cuisine"):
        body["cuisine"] = slug(args["cuisine"])
    if args.get("dietary"):
        body["dietary"] = sorted(set(args["dietary"]))
    recipe = await client.create_recipe(
        user, body, idempotency_key=content_key(user, "save-recipe", body)
    )
    unmatched = [line["name"] for line in recipe["ingredients"] if line["ingredient_id"] is None]
    summary = f"Saved '{recipe['title']}' as recipe {recipe['id']} (recipe://{recipe['id']})."
    if unmatched:
        summary += (
            f" {plural(len(unmatched), 'ingredient')} not in Pantry's catalog "
            f"({join_names(unmatched)}) will not count toward pantry matches."
        )
    return {
        "summary": summary,
        "recipe_id": recipe["id"],
        "title": recipe["title"],
        "uri": f"recipe://{recipe['id']}",
        "unmatched_ingredients": unmatched,
    }


async def whats_for_dinner(client: PantryClient, user: str, args: dict[str, Any]) -> JSON:
    count = args.get("count", 5)
    asked = list(args.get("dietary") or [])
    today = date.today()
    preferences, page, pantry = await gather(
        lambda: client.get_preferences(user),
        lambda: client.search_recipes(
            user,
            sort="pantry",
            course="main",
            dietary=asked or None,
            max_minutes=args.get("max_minutes"),
            seed=menu_seed(user, today),  # today's ties in today's order: new ideas daily
            page_size=50,
        ),
        lambda: client.list_pantry(user),
    )
    saved: int | None = preferences.get("max_weeknight_minutes")
    limit = time_limit(today, saved, args.get("max_minutes"))
    soon = _use_soon(pantry["items"], today)
    menu = Menu([hit for hit in page["items"] if suits(hit, preferences)], use_soon=soon)
    for _ in range(count):
        if menu.pick(limit, weeknight=is_weeknight(today)) is None:
            break
    picks = [
        {
            "recipe_id": hit["id"],
            "title": hit["title"],
            "total_minutes": hit["total_minutes"],
            "pantry_coverage": hit["pantry_coverage"],
            "missing": [line["name"] for line in hit["ingredients"] if not line["in_pantry"]],
        }
        for hit in menu.picks
    ]
    using = menu.uses_soon(menu.picks[0]) if menu.picks else []
    weeknight = limit if limit and not args.get("max_minutes") else None
    summary = _dinner_summary(picks, args, weeknight)
    if using:
        named = [f"{line['name']} (use by {soon[line['ingredient_id']]})" for line in using]
        summary += f" {picks[0]['title']} uses up your {join_names(named, 3)}."
    return {"summary": summary, "suggestions": picks}


USE_SOON_DAYS = 3  # food expiring today or within this many days is worth cooking first


def _use_soon(items: list[JSON], today: date) -> dict[str, str]:
    """Ingredient id: expiry date, for what the pantry holds that expires within days."""
    horizon = today + timedelta(days=USE_SOON_DAYS)
    return {
        item["ingredient_id"]: item["expires_on"]
        for item in items
        if item.get("expires_on") and today <= date.fromisoformat(item["expires_on"]) <= horizon
    }


def _dinner_summary(picks: list[JSON], args: dict[str, Any], weeknight: int | None) -> str:
    if not picks:
        minutes = args.get("max_minutes") or weeknight
        limit = f" within {minutes} minutes" if minutes else ""
        return (
            f"No recipe fits{limit} with these dietary needs and dislikes. "
            "Allow more time or fewer dietary filters."
        )
    best = picks[0]
    within = f" All within your weeknight limit of {weeknight} minutes." if weeknight else ""
    if best["pantry_coverage"] == 0:
        return (
            f"{plural(len(picks), 'idea')}, but your pantry covers none of them; "
            "tell me what you have (update_pantry) for better matches. "
            f"First: {best['title']} ({best['total_minutes']} min).{within}"
        )
    missing = best["missing"]
    need = f"you need {join_names(missing, 4)}" if missing else "you have everything"
    return (
        f"Best match: {best['title']} ({best['total_minutes']} min): your pantry covers "
        f"{round(best['pantry_coverage'] * 100)}% and {need}. "
        f"{plural(len(picks) - 1, 'more suggestion')} ranked by pantry coverage and varied.{within}"
    )


async def suggest_substitutes(client: PantryClient, user: str, args: dict[str, Any]) -> JSON:
    name = args["ingredient"].strip()
    recipe_id = args.get("recipe_id")
    found, pantry, recipe = await gather(
        lambda: client.search_ingredients(user, name, page_size=1),
        lambda: client.list_pantry(user),
        lambda: _recipe_or_none(client, user, recipe_id),
    )
    if not found["items"]:
        raise ToolError(
            f"No ingredient called '{name}' is in Pantry's catalog.",
            "Check the spelling or use the plain name (for example 'butter', 'soy sauce').",
        )
    if recipe_id and recipe is None:
        raise ToolError(
            f"No recipe has id '{recipe_id}'.",
            "Leave recipe_id out, or find the id with search_recipes.",
        )
    ingredient = await client.get_ingredient(user, found["items"][0]["id"])
    held = {item["ingredient_id"] for item in pantry["items"]}
    needed_tags = set(recipe["dietary"]) if recipe else set()
    kept, dropped = [], []
    for sub in ingredient["substitutes"]:
        if not needed_tags <= set(sub["dietary"]):
            dropped.append(sub["name"])
            continue
        kept.append(
            {
                "ingredient_id": sub["ingredient_id"],
                "name": sub["name"],
                "ratio": sub["ratio"],
                "note": sub["note"],
                "in_pantry": sub["ingredient_id"] in held,
            }
        )
    kept.sort(key=lambda sub: not sub["in_pantry"])  # stable: Pantry's order within each group
    return {
        "summary": _substitutes_summary(ingredient["name"], kept, dropped, recipe),
        "ingredient": {"id": ingredient["id"], "name": ingredient["name"]},
        "substitutes": kept,
        "left_out_for_diet": dropped,
    }


async def _recipe_or_none(client: PantryClient, user: str, recipe_id: str | None) -> JSON | None:
    if not recipe_id:
        return None
    try:
        return await client.get_recipe(user, recipe_id)
    except PantryNotFound:
        return None


def _substitutes_summary(
    name: str, kept: list[JSON], dropped: list[str], recipe: JSON | None
) -> str:
    if not kept:
        text = f"No substitute for {name} suits"
        text += f" {recipe['title']}'s dietary tags" if recipe and dropped else " this"
        return text + "."
    best = kept[0]
    text = f"Use {best['name']} for {name}"
    text += " (you have it)" if best["in_pantry"] else ""
    text += f": {best['note']}"
    if len(kept) > 1:
        text += f" {plural(len(kept) - 1, 'other option')} listed."
    if dropped:
        text += f" Left out for the recipe's diet: {join_names(dropped)}."
    return text
