"""A large synthetic catalog made from the seed recipes, for search benchmarks.

Each synthetic recipe is a seed recipe with a new title, shuffled optional ingredients
and a varied time, so the text index sees realistic word frequencies at any size.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from pantry_api.seed import Catalog

ADJECTIVES = (
    "rustic", "quick", "smoky", "spicy", "creamy", "crispy", "herby", "zesty", "hearty",
    "light", "golden", "sticky", "roasted", "one-pan", "weeknight", "family", "summer",
    "winter", "garden", "street-style",
)  # fmt: skip
STYLES = (
    "bowl",
    "bake",
    "skillet",
    "stew",
    "salad",
    "wrap",
    "plate",
    "feast",
    "supper",
    "traybake",
)


def synthetic_recipes(catalog: Catalog, count: int, *, seed: int = 7) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    ingredient_ids = [item["id"] for item in catalog.ingredients]
    for number in range(count):
        base = catalog.recipes[number % len(catalog.recipes)]
        lines = [dict(line) for line in base["ingredients"]]
        rng.shuffle(lines)
        used = {line["ingredient"] for line in lines}
        extra = rng.choice(ingredient_ids)
        if extra not in used:
            lines.append({"ingredient": extra, "quantity": None, "unit": None, "note": None})
        adjective, style = rng.choice(ADJECTIVES), rng.choice(STYLES)
        yield {
            **base,
            "id": f"synthetic-{number}",
            "title": f"{adjective.capitalize()} {base['title']} {style} no. {number}",
            "total_minutes": max(5, base["total_minutes"] + rng.randint(-10, 30)),
            "ingredients": lines,
        }
