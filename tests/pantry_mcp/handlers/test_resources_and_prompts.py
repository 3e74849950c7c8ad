"""Resources render Markdown for reading; prompts name the tools they rely on."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from pantry_mcp.client import PantryClient
from pantry_mcp.handlers import prompts
from pantry_mcp.handlers.resources import (
    ResourceNotFound,
    read_plan,
    read_recipe,
    render_pantry,
)

pytestmark = pytest.mark.anyio


async def test_recipe_markdown(pantry_client: PantryClient, user: str) -> None:
    text = await read_recipe(pantry_client, user, "chana-masala")
    assert text.startswith("# Chana Masala\n")
    assert "## Ingredients" in text and "## Steps" in text
    assert "\n1. " in text
    with pytest.raises(ResourceNotFound):
        await read_recipe(pantry_client, user, "no-such-dish")


def test_pantry_markdown_puts_expiring_items_first_then_aisles() -> None:
    items: list[dict[str, Any]] = [
        {
            "name": "milk",
            "aisle": "dairy & eggs",
            "quantity": 1,
            "unit": "l",
            "expires_on": "2026-11-27",
        },
        {
            "name": "rice",
            "aisle": "grains & pasta",
            "quantity": 2,
            "unit": "kg",
            "expires_on": None,
        },
        {
            "name": "yogurt",
            "aisle": "dairy & eggs",
            "quantity": None,
            "unit": None,
            "expires_on": "2026-11-20",
        },
    ]
    text = render_pantry(items, date(2026, 11, 25))
    use_soon = text.index("## Use soon")
    assert use_soon < text.index("## Dairy & eggs") < text.index("## Grains & pasta")
    soon = text[use_soon : text.index("## Dairy & eggs")]
    assert soon.index("yogurt: some (expired 2026-11-20)") < soon.index(
        "milk: 1 l (use by 2026-11-27)"
    )
    assert "- rice: 2 kg" in text
    assert "empty" in render_pantry([], date(2026, 11, 25))


async def test_plan_markdown_by_day(pantry_client: PantryClient, user: str) -> None:
    plan = await pantry_client.create_plan(
        user, {"start_date": "2026-11-30", "days": 2}, idempotency_key="p"
    )
    await pantry_client.add_plan_entry(
        user, plan["id"], {"recipe_id": "shakshuka", "day": 2}, idempotency_key="e"
    )
    text = await read_plan(pantry_client, user, plan["id"])
    assert "## Day 1: Monday 30 November\n\n- nothing planned" in text
    assert "- Dinner: Shakshuka" in text and "recipe://shakshuka" in text
    with pytest.raises(ResourceNotFound):
        await read_plan(pantry_client, user, "plan-nothing")


def test_prompts_name_their_tools() -> None:
    weekly = prompts.weekly_meal_planning(None, today=date(2026, 11, 25))
    assert "week starting 2026-11-30" in weekly
    for name in ("pantry://current", "plan_week_meals", "get_shopping_list"):
        assert name in weekly
    text = prompts.recipe_from_text("Pancakes: mix 2 eggs and flour.")
    assert "save_recipe" in text and "Pancakes: mix 2 eggs and flour." in text
    assert prompts.next_monday(date(2026, 11, 30)) == date(2026, 12, 7)
