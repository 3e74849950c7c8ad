"""update_pantry against a real Pantry: many changes, names resolved, failures per change."""

from __future__ import annotations

import pytest

from pantry_mcp.client import PantryClient
from pantry_mcp.errors import ToolError
from pantry_mcp.handlers.pantry import update_pantry

pytestmark = pytest.mark.anyio


async def held(client: PantryClient, user: str) -> dict[str, tuple[float | None, str | None]]:
    items = (await client.list_pantry(user))["items"]
    return {item["ingredient_id"]: (item["quantity"], item["unit"]) for item in items}


async def test_bought_milk_and_eggs_used_up_the_flour(
    pantry_client: PantryClient, user: str
) -> None:
    await update_pantry(
        pantry_client,
        user,
        {
            "changes": [
                {"action": "add", "ingredient": "all-purpose flour", "quantity": 1, "unit": "kg"}
            ]
        },
    )
    result = await update_pantry(
        pantry_client,
        user,
        {
            "changes": [
                {"action": "add", "ingredient": "Milk", "quantity": 1, "unit": "l"},
                {
                    "action": "add",
                    "ingredient": "eggs",
                    "quantity": 12,
                    "unit": "piece",
                    "expires_on": "2026-12-10",
                },
                {"action": "remove", "ingredient": "all-purpose flour"},
            ]
        },
    )
    assert (result["applied"], result["failed"]) == (3, 0)
    assert result["summary"].startswith("Applied all 3 changes")
    assert await held(pantry_client, user) == {"milk": (1.0, "l"), "egg": (12.0, "piece")}


async def test_partial_failure_is_reported_change_by_change(
    pantry_client: PantryClient, user: str
) -> None:
    result = await update_pantry(
        pantry_client,
        user,
        {
            "changes": [
                {"action": "add", "ingredient": "rice", "quantity": 500, "unit": "g"},
                {"action": "add", "ingredient": "unobtainium", "quantity": 1, "unit": "g"},
                {"action": "remove", "ingredient": "butter"},
                {"action": "add", "ingredient": "rice", "quantity": 1, "unit": "cup"},
                {"action": "update", "ingredient": "rice", "quantity": 2, "unit": "kg"},
            ]
        },
    )
    statuses = [(c["ingredient"], c["status"]) for c in result["changes"]]
    assert statuses == [
        ("rice", "applied"),
        ("unobtainium", "failed"),
        ("butter", "failed"),
        ("rice", "failed"),
        ("rice", "applied"),
    ]
    messages = [c["message"] for c in result["changes"]]
    assert "not in Pantry's catalog" in messages[1]
    assert "not in the pantry" in messages[2]
    assert "does not convert" in messages[3]
    assert (result["applied"], result["failed"]) == (2, 3)
    assert result["summary"].startswith("Applied 2 of 5 changes.")
    assert await held(pantry_client, user) == {"rice": (2.0, "kg")}


async def test_near_miss_names_are_not_guessed(pantry_client: PantryClient, user: str) -> None:
    result = await update_pantry(
        pantry_client,
        user,
        {"changes": [{"action": "add", "ingredient": "basma", "quantity": 1, "unit": "kg"}]},
    )
    change = result["changes"][0]
    assert change["status"] == "failed"
    assert "did you mean 'basmati rice'" in change["message"]
    assert await held(pantry_client, user) == {}


async def test_an_add_without_amount_refuses_the_whole_call(
    pantry_client: PantryClient, user: str
) -> None:
    with pytest.raises(ToolError, match="nothing was changed") as error:
        await update_pantry(
            pantry_client,
            user,
            {
                "changes": [
                    {"action": "add", "ingredient": "milk", "quantity": 1, "unit": "l"},
                    {"action": "add", "ingredient": "eggs", "quantity": 6},
                ]
            },
        )
    assert error.value.details == {"changes_without_amount": [1]}
    assert await held(pantry_client, user) == {}
