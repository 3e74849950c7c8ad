"""Recipe endpoints: search, read, save, replace, delete, and rate."""

from __future__ import annotations

from pantry_api import models
from pantry_api.routing import Call, Router
from pantry_api.store import recipes as store

router = Router(tag="recipes")


@router.add(
    "GET",
    "/recipes",
    summary="Search the catalog and your own recipes (ranked full text, filters combined with AND)",
    query=models.RecipeSearchQuery,
    response=models.RecipePage,
)
async def search_recipes(call: Call, query: models.RecipeSearchQuery) -> models.RecipePage:
    return await store.search(call.conn, call.user, query)


@router.add(
    "POST",
    "/recipes",
    summary="Save a recipe of your own",
    body=models.RecipeIn,
    response=models.Recipe,
    status=201,
    idempotent=True,
)
async def create_recipe(call: Call, body: models.RecipeIn) -> models.Recipe:
    return await store.create(call.conn, call.user, body)


@router.add(
    "GET",
    "/recipes/{recipe_id}",
    summary="Read one recipe with its ingredients, steps and rating",
    path_model=models.RecipePath,
    response=models.Recipe,
)
async def get_recipe(call: Call, path: models.RecipePath) -> models.Recipe:
    return await store.get(call.conn, call.user, path.recipe_id)


@router.add(
    "PUT",
    "/recipes/{recipe_id}",
    summary="Replace one of your own recipes",
    path_model=models.RecipePath,
    body=models.RecipeIn,
    response=models.Recipe,
    errors=(403,),
)
async def replace_recipe(
    call: Call, path: models.RecipePath, body: models.RecipeIn
) -> models.Recipe:
    return await store.replace(call.conn, call.user, path.recipe_id, body)


@router.add(
    "DELETE",
    "/recipes/{recipe_id}",
    summary="Delete one of your own recipes (and its places in your meal plans)",
    path_model=models.RecipePath,
    status=204,
    errors=(403,),
)
async def delete_recipe(call: Call, path: models.RecipePath) -> None:
    await store.remove(call.conn, call.user, path.recipe_id)


@router.add(
    "PUT",
    "/recipes/{recipe_id}/rating",
    summary="Rate a recipe from 1 to 5 stars (your rating replaces any earlier one)",
    path_model=models.RecipePath,
    body=models.RatingIn,
    response=models.RatingSummary,
)
async def rate_recipe(
    call: Call, path: models.RecipePath, body: models.RatingIn
) -> models.RatingSummary:
    return await store.rate(call.conn, call.user, path.recipe_id, body.stars)
