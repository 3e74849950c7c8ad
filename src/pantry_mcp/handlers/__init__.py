"""Domain functions behind the tools: ``(client, user, arguments) -> result``.

They know Pantry (through ``PantryClient``) and nothing of MCP, HTTP or auth. ``TOOLS``
fixes the order in which tools are listed.
"""

from __future__ import annotations

from pantry_mcp.handlers.meal_plans import add_recipe_to_plan, get_shopping_list, plan_week_meals
from pantry_mcp.handlers.pantry import update_pantry
from pantry_mcp.handlers.plan_views import check_shopping_item, get_meal_plan
from pantry_mcp.handlers.preferences import ask_preferences
from pantry_mcp.handlers.recipes import (
    save_recipe,
    search_recipes,
    suggest_substitutes,
    whats_for_dinner,
)

TOOLS = [
    ("search_recipes", search_recipes),
    ("save_recipe", save_recipe),
    ("whats_for_dinner", whats_for_dinner),
    ("plan_week_meals", plan_week_meals),
    ("update_pantry", update_pantry),
    ("add_recipe_to_plan", add_recipe_to_plan),
    ("get_shopping_list", get_shopping_list),
    ("suggest_substitutes", suggest_substitutes),
    ("ask_preferences", ask_preferences),
    # For the MCP Apps views only (_meta.ui.visibility ["app"]): hosts keep them from the model.
    ("get_meal_plan", get_meal_plan),
    ("check_shopping_item", check_shopping_item),
]
