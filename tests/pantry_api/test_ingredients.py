"""Ingredients: search by name or alias, and substitutes with their dietary tags."""

from __future__ import annotations

import httpx2
import pytest

pytestmark = pytest.mark.anyio


async def test_exact_name_comes_first(client: httpx2.AsyncClient) -> None:
    page = (await client.get("/ingredients", params={"q": "onion"})).json()
    assert page["items"][0]["id"] == "onion"
    assert page["items"][0]["matched"] == "onion"
    assert "red-onion" in {item["id"] for item in page["items"]}
    assert page["total"] >= 2


async def test_aliases_find_the_ingredient(client: httpx2.AsyncClient) -> None:
    page = (await client.get("/ingredients", params={"q": "green onion"})).json()
    assert page["items"][0]["id"] == "scallion"
    assert page["items"][0]["matched"] == "green onion"


async def test_filter_by_aisle_and_page(client: httpx2.AsyncClient) -> None:
    page = (await client.get("/ingredients", params={"aisle": "herbs", "page_size": 100})).json()
    assert page["total"] >= 5
    assert {item["aisle"] for item in page["items"]} == {"herbs"}
    everything = (await client.get("/ingredients", params={"page_size": 100})).json()
    assert everything["total"] >= 200 and everything["has_more"]


async def test_like_wildcards_are_literal(client: httpx2.AsyncClient) -> None:
    for q in ("_", "\\", "%%"):
        page = (await client.get("/ingredients", params={"q": q})).json()
        assert page["total"] == 0
    percent = (await client.get("/ingredients", params={"q": "%"})).json()
    assert [(item["id"], item["matched"]) for item in percent["items"]] == [("milk", "2% milk")]


async def test_read_with_substitutes(client: httpx2.AsyncClient) -> None:
    butter = (await client.get("/ingredients/butter")).json()
    assert butter["aisle"] == "dairy & eggs"
    assert "dairy-free" not in butter["dietary"]
    assert butter["substitutes"], "butter should have substitutes"
    for sub in butter["substitutes"]:
        assert sub["ratio"] > 0 and sub["note"]
        assert sub["ingredient_id"] != "butter"
    assert any("dairy-free" in sub["dietary"] for sub in butter["substitutes"])
