"""MCP Apps views: one HTML document per view, all built from one bundle.

The bundle (``dist/app.js`` and ``dist/app.css``, built from ``src/`` by ``make views``)
holds the three views; the document names the one to render in ``body[data-view]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

__all__ = ["APP_MIME_TYPE", "EXTENSION_ID", "VIEWS", "View", "view_html"]


@dataclass(frozen=True)
class View:
    name: str
    uri: str
    title: str
    description: str


VIEWS: dict[str, View] = {
    view.uri: view
    for view in (
        View(
            "week-plan",
            "ui://pantry/week-plan",
            "Week plan",
            "A meal plan as one card per day: open a recipe, swap a day.",
        ),
        View(
            "shopping-list",
            "ui://pantry/shopping-list",
            "Shopping list",
            "A plan's shopping list by aisle, with items to tick off in the shop.",
        ),
        View(
            "dinner-ideas",
            "ui://pantry/dinner-ideas",
            "Tonight's ideas",
            "Dinner ideas with how much the pantry covers and what is missing.",
        ),
    )
}


@cache
def _bundle() -> tuple[str, str]:
    dist = resources.files("pantry_mcp.views").joinpath("dist")
    script = dist.joinpath("app.js").read_text("utf-8")
    style = dist.joinpath("app.css").read_text("utf-8")
    # Inlined, a closing tag inside the code would end the element early.
    script = script.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")
    style = style.replace("</style", "<\\/style")
    return script, style


def view_html(view: View) -> str:
    """The whole document for ``view``: self-contained, no network needed."""
    script, style = _bundle()
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        f"<title>{view.title}</title><style>{style}</style></head>"
        f'<body data-view="{view.name}"><main id="app"></main>'
        f"<script>{script}</script></body></html>\n"
    )
