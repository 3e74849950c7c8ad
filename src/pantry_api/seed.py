"""The seed catalog: shared ingredients and recipes, loaded into an empty database.

The data lives in ``catalog/`` as JSON written for this project. Recipe dietary tags are
not written by hand: a recipe is vegan (say) exactly when every ingredient is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from pantry_api.diet import to_mask
from pantry_api.ids import shuffle_key
from pantry_api.models import DIETARY_TAGS
from pantry_api.store import accounts
from pantry_api.store.common import now
from pantry_api.store.tables import (
    ingredient_names,
    ingredient_substitutes,
    ingredients,
    pantry_items,
    recipe_ingredients,
    recipes,
)
from pantry_api.store.users import ensure as ensure_user
from pantry_api.units import UNITS

SEED_DIR = Path(__file__).parent / "catalog"
DEMO_USER = "demo"
DEMO_EMAIL = "demo@pantry.example"
# For local demos only: anyone who reads this file can sign in as the demo user. A server
# others can reach should start with PANTRY_API_DEMO_ACCOUNT=false.
DEMO_PASSWORD = "pantry-demo-password"  # noqa: S105


@dataclass(frozen=True)
class DemoItem:
    ingredient_id: str
    quantity: float
    unit: str
    expires_in_days: int | None = None  # counted from the day the database is seeded


# What the demo user has in the pantry on a first run: everyday staples, chosen so that
# several catalog mains are mostly covered (GET /recipes?sort=pantry shows the product at
# once), with four perishables to use within days and a few things that keep for weeks.
DEMO_PANTRY: tuple[DemoItem, ...] = (
    DemoItem("spinach", 200, "g", expires_in_days=1),
    DemoItem("chicken-thigh", 600, "g", expires_in_days=2),
    DemoItem("parsley", 1, "bunch", expires_in_days=3),
    DemoItem("milk", 1, "l", expires_in_days=4),
    DemoItem("lemon", 3, "piece", expires_in_days=12),
    DemoItem("egg", 10, "piece", expires_in_days=14),
    DemoItem("carrot", 5, "piece", expires_in_days=14),
    DemoItem("potato", 1.5, "kg", expires_in_days=21),
    DemoItem("butter", 250, "g", expires_in_days=30),
    DemoItem("parmesan", 150, "g", expires_in_days=45),
    DemoItem("onion", 4, "piece"),
    DemoItem("garlic", 10, "clove"),
    DemoItem("olive-oil", 500, "ml"),
    DemoItem("rice", 1, "kg"),
    DemoItem("spaghetti", 500, "g"),
    DemoItem("canned-tomato", 800, "g"),
    DemoItem("salt", 500, "g"),
    DemoItem("black-pepper", 50, "g"),
    DemoItem("dried-oregano", 15, "g"),
)


class SeedError(ValueError):
    """The seed files contradict themselves (a dangling id, a duplicate, an unknown unit)."""


@dataclass(frozen=True)
class Catalog:
    ingredients: list[dict[str, Any]]
    recipes: list[dict[str, Any]]

    @cached_property
    def diets_by_ingredient(self) -> dict[str, frozenset[str]]:
        return {item["id"]: frozenset(item["dietary"]) for item in self.ingredients}

    def dietary(self, recipe: dict[str, Any]) -> list[str]:
        tags = set(DIETARY_TAGS)
        for line in recipe["ingredients"]:
            tags &= self.diets_by_ingredient[line["ingredient"]]
        return [tag for tag in DIETARY_TAGS if tag in tags]


def _read(folder: Path) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.json")):
        items.extend(json.loads(path.read_text(encoding="utf-8")))
    return items


def load_catalog(seed_dir: Path = SEED_DIR) -> Catalog:
    catalog = Catalog(_read(seed_dir / "ingredients"), _read(seed_dir / "recipes"))
    if not catalog.ingredients or not catalog.recipes:
        raise SeedError(f"no seed ingredients or recipes under {seed_dir}")
    ids = [item["id"] for item in catalog.ingredients]
    if len(ids) != len(set(ids)):
        raise SeedError("an ingredient id appears twice")
    known = set(ids)
    names: set[str] = set()
    for item in catalog.ingredients:
        for name in (item["name"], *item["aliases"]):
            if name in names:
                raise SeedError(f"ingredient name or alias {name!r} appears twice")
            names.add(name)
        for sub in item["substitutes"]:
            if sub["id"] not in known or sub["id"] == item["id"]:
                raise SeedError(f"{item['id']}: bad substitute {sub['id']!r}")
    recipe_ids = [recipe["id"] for recipe in catalog.recipes]
    if len(recipe_ids) != len(set(recipe_ids)):
        raise SeedError("a recipe id appears twice")
    for recipe in catalog.recipes:
        for line in recipe["ingredients"]:
            if line["ingredient"] not in known:
                raise SeedError(f"{recipe['id']}: unknown ingredient {line['ingredient']!r}")
            if line.get("unit") is not None and line["unit"] not in UNITS:
                raise SeedError(f"{recipe['id']}: unknown unit {line['unit']!r}")
    return catalog


async def seed_if_empty(
    conn: AsyncConnection, catalog: Catalog | None = None, *, demo_account: bool = True
) -> bool:
    """Load the catalog and the demo user (with its account, unless told not to, and a
    stocked pantry, ``DEMO_PANTRY``) into an empty database; returns whether it did."""
    if (await conn.execute(select(func.count()).select_from(ingredients))).scalar_one():
        return False
    catalog = catalog or load_catalog()
    await ensure_user(conn, DEMO_USER)
    if demo_account:
        await accounts.create(
            conn,
            email=DEMO_EMAIL,
            password=DEMO_PASSWORD,
            first_name="Demo",
            last_name="Cook",
            user_id=DEMO_USER,
        )
    await conn.execute(
        insert(ingredients),
        [
            {"id": i["id"], "name": i["name"], "aisle": i["aisle"], "dietary": i["dietary"]}
            for i in catalog.ingredients
        ],
    )
    await conn.execute(
        insert(ingredient_names),
        [
            {"name": name, "ingredient_id": i["id"]}
            for i in catalog.ingredients
            for name in dict.fromkeys((i["name"], *i["aliases"]))
        ],
    )
    substitutes = [
        {
            "ingredient_id": i["id"],
            "substitute_id": sub["id"],
            "position": position,
            "ratio": sub["ratio"],
            "note": sub["note"],
        }
        for i in catalog.ingredients
        for position, sub in enumerate(i["substitutes"])
    ]
    if substitutes:
        await conn.execute(insert(ingredient_substitutes), substitutes)
    await insert_recipes(conn, catalog, catalog.recipes)
    await _stock_demo_pantry(conn, catalog)
    await conn.exec_driver_sql("ANALYZE")  # give the query planner statistics from the start
    return True


async def _stock_demo_pantry(conn: AsyncConnection, catalog: Catalog) -> None:
    known = {item["id"] for item in catalog.ingredients}
    unknown = [item.ingredient_id for item in DEMO_PANTRY if item.ingredient_id not in known]
    if unknown:
        raise SeedError(f"the demo pantry names ingredients not in the catalog: {unknown}")
    today, stamp = date.today(), now()  # expiry dates are days on the local calendar
    await conn.execute(
        insert(pantry_items),
        [
            {
                "user_id": DEMO_USER,
                "ingredient_id": item.ingredient_id,
                "quantity": item.quantity,
                "unit": item.unit,
                "expires_on": None
                if item.expires_in_days is None
                else today + timedelta(days=item.expires_in_days),
                "updated_at": stamp,
            }
            for item in DEMO_PANTRY
        ],
    )


async def insert_recipes(
    conn: AsyncConnection, catalog: Catalog, items: list[dict[str, Any]]
) -> None:
    """Insert catalog recipes (no owner) in bulk; also used by the benchmarks' big catalog."""
    if not items:
        return
    names = {i["id"]: i["name"] for i in catalog.ingredients}
    stamp = now()
    await conn.execute(
        insert(recipes),
        [
            {
                "id": r["id"],
                "owner_id": None,
                "title": r["title"],
                "summary": r["summary"],
                "cuisine": r["cuisine"],
                "course": r.get("course"),
                "shuffle_key": shuffle_key(r["id"]),
                "diet_mask": to_mask(catalog.dietary(r)),
                "measured": sum(1 for line in r["ingredients"] if line.get("quantity") is not None),
                "servings": r["servings"],
                "total_minutes": r["total_minutes"],
                "steps": r["steps"],
                "ingredient_names": "\n".join(
                    names[line["ingredient"]] for line in r["ingredients"]
                ),
                "created_at": stamp,
                "updated_at": stamp,
            }
            for r in items
        ],
    )
    await conn.execute(
        insert(recipe_ingredients),
        [
            {
                "recipe_id": r["id"],
                "position": position,
                "ingredient_id": line["ingredient"],
                "name": names[line["ingredient"]],
                "quantity": line.get("quantity"),
                "unit": line.get("unit"),
                "note": line.get("note"),
            }
            for r in items
            for position, line in enumerate(r["ingredients"])
        ],
    )
