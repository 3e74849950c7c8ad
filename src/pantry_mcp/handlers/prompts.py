"""Prompts: ready-made conversations that name the tools and resources they rely on."""

from __future__ import annotations

from datetime import date, timedelta

UNITS = (
    "g, kg, mg, oz, lb, ml, l, tsp, tbsp, cup, fl-oz, pinch, piece, clove, slice, can, "
    "bunch, sprig, stalk, sheet, handful"
)


def next_monday(today: date) -> date:
    return today + timedelta(days=(7 - today.weekday()) % 7 or 7)


def weekly_meal_planning(start_date: str | None, today: date | None = None) -> str:
    start = start_date or next_monday(today or date.today()).isoformat()
    return (
        f"Plan my dinners for the week starting {start}.\n\n"
        "1. Read pantry://current to see what I already have, noting anything to use soon.\n"
        f"2. Call plan_week_meals with start_date {start} and prefer_pantry true "
        "(it already honours my saved dietary preferences and dislikes).\n"
        "3. Call get_shopping_list with the plan_id it returns (exclude_pantry true).\n"
        "4. Show me the plan day by day, then the shopping list by aisle. If I want a "
        "change, use search_recipes to find a replacement and add_recipe_to_plan to put it "
        "on that day.\n"
        "Keep the answer short; the meal-plan:// resource has the full plan."
    )


def recipe_from_text(text: str) -> str:
    return (
        "Save the recipe below to my Pantry cookbook.\n\n"
        "Read it and call save_recipe once with: title; ingredients as a list of "
        f"{{name, quantity, unit}} (unit one of: {UNITS}; quantity null and unit null for "
        "'to taste'; countable things like eggs use unit 'piece'); steps as short imperative "
        "sentences in order; total_minutes (estimate from the steps if the text does not say); "
        "servings, cuisine and dietary tags only when the text makes them clear. Use plain "
        "ingredient names ('red onion', not 'one medium red onion, diced': put 'diced' in the "
        "note). Then tell me the recipe id and any ingredients Pantry did not recognise.\n\n"
        "--- recipe text ---\n"
        f"{text.strip()}\n"
        "--- end ---"
    )
