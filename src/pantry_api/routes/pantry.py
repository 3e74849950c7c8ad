"""Pantry endpoints: what the acting user has at home."""

from __future__ import annotations

from pantry_api import models
from pantry_api.routing import Call, Reply, Router
from pantry_api.store import pantry as store

router = Router(tag="pantry")


@router.add(
    "GET",
    "/pantry",
    summary="List your pantry, grouped by aisle; filter by ingredient name",
    query=models.PantryQuery,
    response=models.PantryList,
)
async def list_pantry(call: Call, query: models.PantryQuery) -> models.PantryList:
    return await store.list_items(call.conn, call.user, query)


@router.add(
    "POST",
    "/pantry/items",
    summary="Add an ingredient to your pantry; one already there gains the quantity",
    body=models.PantryItemIn,
    response=models.PantryItem,
    status=201,
    other_statuses=(200,),
    errors=(404, 409),
    idempotent=True,
)
async def add_pantry_item(call: Call, body: models.PantryItemIn) -> Reply:
    item, created = await store.add(call.conn, call.user, body)
    return Reply(item, 201 if created else 200)


@router.add(
    "PATCH",
    "/pantry/items/{ingredient_id}",
    summary="Set the quantity, unit or expiry date of a pantry item",
    path_model=models.IngredientPath,
    body=models.PantryItemPatch,
    response=models.PantryItem,
)
async def update_pantry_item(
    call: Call, path: models.IngredientPath, body: models.PantryItemPatch
) -> models.PantryItem:
    return await store.patch(call.conn, call.user, path.ingredient_id, body)


@router.add(
    "DELETE",
    "/pantry/items/{ingredient_id}",
    summary="Remove an ingredient from your pantry",
    path_model=models.IngredientPath,
    status=204,
)
async def remove_pantry_item(call: Call, path: models.IngredientPath) -> None:
    await store.remove(call.conn, call.user, path.ingredient_id)
