"""The one question pantry-mcp asks a person: their standing preferences, as a form.

Only the person answers it (MCP elicitation); the model can neither fill it in nor see a
way to. This module is the form and its rules, with no SDK in it: when to ask, what the
form says, and how an answer becomes Pantry's preferences (or a refusal naming the field).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pantry_mcp.client import JSON

DIETARY = ("vegetarian", "vegan", "pescatarian", "gluten-free", "dairy-free", "nut-free")
QUIET_AFTER_DECLINE = timedelta(days=30)  # a person who said no is not asked again for this
MAX_AVOID_TEXT = 500
MAX_AVOID_ITEMS = 30

MESSAGE = (
    "Before I plan: a few things to remember about how you eat. Everything is optional, "
    "and you can change it later."
)
CHANGE_MESSAGE = "Your preferences, as saved. Change what you like; everything is optional."
FIRST_MESSAGE = (
    "A few things to remember about how you eat. Everything is optional, and you can change "
    "it later."
)
# Flat primitives only (what every form-capable client can render): a multi-select of
# Pantry's dietary tags, a free-text list of foods, and two whole numbers.
FORM: dict[str, Any] = {
    "type": "object",
    "properties": {
        "dietary": {
            "type": "array",
            "title": "Dietary needs",
            "description": "Every dinner will meet all you choose.",
            "items": {"type": "string", "enum": list(DIETARY)},
            "uniqueItems": True,
        },
        "avoid": {
            "type": "string",
            "title": "Foods to avoid",
            "description": "Separated by commas, e.g. mushrooms, coriander.",
            "maxLength": MAX_AVOID_TEXT,
        },
        "max_weeknight_minutes": {
            "type": "integer",
            "title": "Longest weeknight cooking time (minutes)",
            "minimum": 10,
            "maximum": 240,
        },
        "servings": {
            "type": "integer",
            "title": "How many people you cook for",
            "minimum": 1,
            "maximum": 20,
        },
    },
}


class InvalidAnswer(ValueError):
    """The person's answer does not fit the form; nothing is saved."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field = field
        self.problem = problem


def needs_asking(preferences: JSON, now: datetime) -> bool:
    """Never set by the person, and not declined in the last 30 days."""
    if preferences.get("set_at"):
        return False
    declined = preferences.get("declined_at")
    return not declined or now - _instant(declined) >= QUIET_AFTER_DECLINE


def answered_since(preferences: JSON, asked_at: datetime) -> bool:
    """The person saved or declined after ``asked_at``: that question has had its answer."""
    recorded = (preferences.get("set_at"), preferences.get("declined_at"))
    return any(when and _instant(when) >= asked_at for when in recorded)


def is_unset(preferences: JSON) -> bool:
    return not preferences.get("set_at")


def prefilled(preferences: JSON) -> dict[str, Any]:
    """The form with what is saved as defaults, for changing them later."""
    form: dict[str, Any] = {
        **FORM,
        "properties": {k: dict(v) for k, v in FORM["properties"].items()},
    }
    props = form["properties"]
    if preferences.get("dietary"):
        props["dietary"]["default"] = list(preferences["dietary"])
    if preferences.get("disliked"):
        props["avoid"]["default"] = ", ".join(preferences["disliked"])
    for name in ("max_weeknight_minutes", "servings"):
        if preferences.get(name) is not None:
            props[name]["default"] = preferences[name]
    return form


@dataclass(frozen=True)
class Answer:
    """A validated answer, as Pantry's PUT /users/me/preferences body."""

    body: JSON


def read_answer(content: object) -> Answer:
    """Check an accepted form's content against the form, field by field. (What JSON
    allows below any schema, lone surrogates or NaN, was refused at the edge already.)"""
    if content is None:
        content = {}
    if not isinstance(content, dict):
        raise InvalidAnswer("(answer)", "must be an object of the form's fields")
    unknown = sorted(set(content) - set(FORM["properties"]))
    if unknown:
        raise InvalidAnswer("(answer)", f"has fields the form does not ask: {', '.join(unknown)}")
    return Answer(
        {
            "dietary": _dietary(content.get("dietary")),
            "disliked": _avoid(content.get("avoid")),
            "max_weeknight_minutes": _whole(content, "max_weeknight_minutes"),
            "servings": _whole(content, "servings"),
        }
    )


def _dietary(value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise InvalidAnswer("dietary", "must be a list of dietary tags")
    unknown = [tag for tag in value if tag not in DIETARY]
    if unknown:
        raise InvalidAnswer("dietary", f"must be among {', '.join(DIETARY)} (got {unknown[0]!r})")
    return sorted(set(value), key=DIETARY.index)


def _avoid(value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, str):
        raise InvalidAnswer("avoid", "must be text")
    if len(value) > MAX_AVOID_TEXT:
        raise InvalidAnswer("avoid", f"must be at most {MAX_AVOID_TEXT} characters")
    names = list(dict.fromkeys(n.strip().lower() for n in value.split(",") if n.strip()))
    if len(names) > MAX_AVOID_ITEMS:
        raise InvalidAnswer("avoid", f"must name at most {MAX_AVOID_ITEMS} foods")
    if any(len(name) > 100 for name in names):
        raise InvalidAnswer("avoid", "names a food longer than 100 characters")
    return names


def _whole(content: dict[str, Any], name: str) -> int | None:
    value = content.get(name)
    if value is None:
        return None
    bounds = FORM["properties"][name]
    low, high = bounds["minimum"], bounds["maximum"]
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not whole:
        raise InvalidAnswer(name, "must be a whole number")
    if not low <= value <= high:
        raise InvalidAnswer(name, f"must be from {low} to {high} (got {value})")
    return int(value)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
