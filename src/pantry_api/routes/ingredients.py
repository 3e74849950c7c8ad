"""Ingredient endpoints: search by name or alias, and read one with its substitutes."""

from __future__ import annotations

from pantry_api import models
from pantry_api.routing import Call, Router
from pantry_api.store import ingredients as store

router = Router(tag="ingredients")


@router.add(
    "GET",
    "/ingredients",
    summary="Search ingredients by name or alias (exact matches first)",
    query=models.IngredientSearchQuery,
    response=models.IngredientPage,
)
async def search_ingredients(
    call: Call, query: models.IngredientSearchQuery
) -> models.IngredientPage:
    return await store.search(call.conn, query)


@router.add(
    "GET",
    "/ingredients/{ingredient_id}",
    summary="Read one ingredient with its substitutes",
    path_model=models.IngredientPath,
    response=models.Ingredient,
)
async def get_ingredient(call: Call, path: models.IngredientPath) -> models.Ingredient:
    return await store.get(call.conn, path.ingredient_id)
