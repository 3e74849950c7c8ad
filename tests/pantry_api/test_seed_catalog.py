"""The seed catalog is big, varied and self-consistent enough to be worth planning with."""

from __future__ import annotations

from collections import Counter
from typing import get_args

import pytest

from pantry_api.models import DIETARY_TAGS, Course
from pantry_api.seed import Catalog, load_catalog
from pantry_api.units import UNITS


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_sizes(catalog: Catalog) -> None:
    assert len(catalog.recipes) >= 150
    assert len(catalog.ingredients) >= 200
    cuisines = Counter(recipe["cuisine"] for recipe in catalog.recipes)
    assert len(cuisines) >= 10
    assert min(cuisines.values()) >= 5


def test_every_dietary_tag_is_well_represented(catalog: Catalog) -> None:
    tags = Counter(tag for recipe in catalog.recipes for tag in catalog.dietary(recipe))
    for tag in DIETARY_TAGS:
        assert tags[tag] >= 20, (tag, tags)


def test_ingredients_have_aisles_and_most_have_substitutes(catalog: Catalog) -> None:
    assert all(item["aisle"] for item in catalog.ingredients)
    with_substitutes = sum(1 for item in catalog.ingredients if item["substitutes"])
    assert with_substitutes >= 200
    for item in catalog.ingredients:
        assert set(item["dietary"]) <= set(DIETARY_TAGS)
        if "vegan" in item["dietary"]:
            assert {"vegetarian", "dairy-free"} <= set(item["dietary"]), item["id"]


def test_recipes_are_complete(catalog: Catalog) -> None:
    courses = Counter(recipe["course"] for recipe in catalog.recipes)
    assert set(courses) <= set(get_args(Course))
    assert courses["main"] >= 90
    for recipe in catalog.recipes:
        assert recipe["title"] and recipe["summary"] and recipe["cuisine"]
        assert 1 <= recipe["servings"] <= 12
        assert 1 <= recipe["total_minutes"] <= 1440
        assert 3 <= len(recipe["steps"]) <= 12
        ids = [line["ingredient"] for line in recipe["ingredients"]]
        assert len(ids) == len(set(ids)), recipe["id"]
        for line in recipe["ingredients"]:
            assert line["quantity"] is None or line["quantity"] > 0
            assert line["unit"] is None or line["unit"] in UNITS


def test_dietary_tags_follow_from_ingredients(catalog: Catalog) -> None:
    by_id = {item["id"]: item for item in catalog.ingredients}
    for recipe in catalog.recipes:
        tags = catalog.dietary(recipe)
        for line in recipe["ingredients"]:
            assert set(tags) <= set(by_id[line["ingredient"]]["dietary"])
