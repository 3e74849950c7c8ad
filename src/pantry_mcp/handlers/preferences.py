"""What the person's saved preferences are, said plainly. Changing them is the person's
alone: the server asks them with a form (``preferences_question``) before this runs."""

from __future__ import annotations

from typing import Any

from pantry_mcp.client import JSON, PantryClient
from pantry_mcp.handlers.common import join_names


async def ask_preferences(client: PantryClient, user: str, args: dict[str, Any]) -> JSON:
    saved = await client.get_preferences(user)
    preferences = {
        "dietary": saved["dietary"],
        "disliked": saved["disliked"],
        "max_weeknight_minutes": saved.get("max_weeknight_minutes"),
        "servings": saved.get("servings"),
        "set_at": saved.get("set_at"),
    }
    return {"summary": preferences_text(preferences), "preferences": preferences}


def preferences_text(preferences: JSON) -> str:
    parts = []
    if preferences["dietary"]:
        parts.append(join_names(preferences["dietary"]))
    if preferences["disliked"]:
        parts.append(f"avoid {join_names(preferences['disliked'])}")
    if preferences["max_weeknight_minutes"]:
        parts.append(f"weeknight dinners up to {preferences['max_weeknight_minutes']} min")
    if preferences["servings"]:
        parts.append(f"cooking for {preferences['servings']}")
    if not parts:
        return "No preferences saved."
    return f"Saved preferences: {'; '.join(parts)}."
