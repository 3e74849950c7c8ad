"""Meal plan endpoints, their shopping lists, and a calendar export."""

from __future__ import annotations

from pantry_api import models
from pantry_api.calendar import plan_to_ics
from pantry_api.routing import Call, Reply, Router
from pantry_api.store import plans as store
from pantry_api.store import shopping

router = Router(tag="meal plans")


@router.add(
    "GET",
    "/meal-plans",
    summary="List your meal plans, latest start date first (or earliest), optionally by dates",
    query=models.PlanListQuery,
    response=models.PlanPage,
)
async def list_meal_plans(call: Call, query: models.PlanListQuery) -> models.PlanPage:
    return await store.list_plans(call.conn, call.user, query)


@router.add(
    "POST",
    "/meal-plans",
    summary="Create a meal plan of 1 to 28 days, empty or with its entries (all or nothing)",
    body=models.PlanIn,
    response=models.Plan,
    status=201,
    errors=(404, 409),
    idempotent=True,
)
async def create_meal_plan(call: Call, body: models.PlanIn) -> models.Plan:
    return await store.create(call.conn, call.user, body)


@router.add(
    "GET",
    "/meal-plans/{plan_id}",
    summary="Read a meal plan with its entries, day by day",
    path_model=models.PlanPath,
    response=models.Plan,
)
async def get_meal_plan(call: Call, path: models.PlanPath) -> models.Plan:
    return await store.get(call.conn, call.user, path.plan_id)


@router.add(
    "DELETE",
    "/meal-plans/{plan_id}",
    summary="Delete a meal plan and its entries",
    path_model=models.PlanPath,
    status=204,
)
async def delete_meal_plan(call: Call, path: models.PlanPath) -> None:
    await store.remove(call.conn, call.user, path.plan_id)


@router.add(
    "POST",
    "/meal-plans/{plan_id}/entries",
    summary="Put a recipe on a day and meal slot; the same recipe, day and slot again is a no-op",
    path_model=models.PlanPath,
    body=models.EntryIn,
    response=models.Entry,
    status=201,
    other_statuses=(200,),
    idempotent=True,
)
async def add_meal_plan_entry(call: Call, path: models.PlanPath, body: models.EntryIn) -> Reply:
    entry, created = await store.add_entry(call.conn, call.user, path.plan_id, body)
    return Reply(entry, 201 if created else 200)


@router.add(
    "DELETE",
    "/meal-plans/{plan_id}/entries/{entry_id}",
    summary="Take an entry off a meal plan",
    path_model=models.EntryPath,
    status=204,
)
async def remove_meal_plan_entry(call: Call, path: models.EntryPath) -> None:
    await store.remove_entry(call.conn, call.user, path.plan_id, path.entry_id)


@router.add(
    "GET",
    "/meal-plans/{plan_id}/shopping-list",
    summary="The plan's shopping list: ingredients summed across recipes, grouped by aisle",
    path_model=models.PlanPath,
    response=models.ShoppingList,
)
async def get_shopping_list(call: Call, path: models.PlanPath) -> models.ShoppingList:
    return await shopping.build(call.conn, call.user, path.plan_id)


@router.add(
    "PUT",
    "/meal-plans/{plan_id}/shopping-list/items/{item_key}",
    summary="Check a shopping-list item off (or back on)",
    path_model=models.ShoppingItemPath,
    body=models.CheckIn,
    response=models.ShoppingItem,
)
async def check_shopping_item(
    call: Call, path: models.ShoppingItemPath, body: models.CheckIn
) -> models.ShoppingItem:
    return await shopping.check(call.conn, call.user, path.plan_id, path.item_key, body.checked)


@router.add(
    "GET",
    "/meal-plans/{plan_id}/calendar.ics",
    summary="Export a meal plan as an iCalendar file",
    path_model=models.PlanPath,
    media_type="text/calendar",
)
async def export_meal_plan_calendar(call: Call, path: models.PlanPath) -> Reply:
    plan = await store.get(call.conn, call.user, path.plan_id)
    return Reply(None, 200, media_type="text/calendar", text=plan_to_ics(plan))
