"""Ranking quality of GET /recipes against fixed human judgements (relevance.json).

Each query's nDCG@10 and precision@5 over the seed catalog must be at least what the
search scored when these floors were recorded: a faster search may rank better, never
worse. Both engines are held to their own floors (their tokenizers differ a little).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.pantry_api.conftest import Api

pytestmark = pytest.mark.anyio

JUDGEMENTS: list[dict[str, Any]] = json.loads(
    (Path(__file__).with_name("relevance.json")).read_text()
)["queries"]

# (nDCG@10, precision@5) per query and engine, measured on the search as it was before
# the large-catalog work (FTS5 bm25 / ts_rank over every match).
FLOORS: dict[str, dict[str, tuple[float, float]]] = {
    "sqlite": {
        "chicken": (1.0, 1.0),
        "garlic lemon": (0.516, 0.6),
        "tomato basil pasta": (0.145, 0.2),
        "curry": (0.938, 1.0),
        "vegan curry (filter)": (0.658, 0.2),
        "rice": (0.858, 1.0),
        "chickpeas": (0.99, 1.0),
        "lentil soup": (0.826, 0.6),
        "shrimp": (0.927, 1.0),
        "chocolate dessert": (0.941, 0.8),
        "beef stew": (0.887, 0.6),
        "eggplant": (0.992, 1.0),
        "noodles": (0.993, 1.0),
        "spicy tofu": (0.946, 0.8),
        "salmon": (1.0, 0.4),
    },
    "postgresql": {
        "chicken": (1.0, 1.0),
        "garlic lemon": (0.575, 0.6),
        "tomato basil pasta": (0.145, 0.2),
        "curry": (0.938, 1.0),
        "vegan curry (filter)": (0.658, 0.2),
        "rice": (0.806, 1.0),
        "chickpeas": (0.99, 1.0),
        "lentil soup": (0.868, 0.6),
        "shrimp": (0.901, 1.0),
        "chocolate dessert": (0.941, 0.8),
        "beef stew": (0.887, 0.6),
        "eggplant": (0.992, 1.0),
        "noodles": (1.0, 1.0),
        "spicy tofu": (0.942, 0.6),
        "salmon": (1.0, 0.4),
    },
}


def dcg(gains: list[int]) -> float:
    return sum(((1 << gain) - 1) / math.log2(rank + 2) for rank, gain in enumerate(gains))


def ndcg_at(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    ideal = dcg(sorted(relevant.values(), reverse=True)[:k])
    return dcg([relevant.get(recipe_id, 0) for recipe_id in ranked[:k]]) / ideal


def precision_at(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    return sum(1 for recipe_id in ranked[:k] if relevant.get(recipe_id, 0) > 0) / k


async def ranked_ids(client: httpx2.AsyncClient, params: dict[str, Any]) -> list[str]:
    response = await client.get("/recipes", params={**params, "page_size": 10})
    assert response.status_code == 200, response.text
    return [hit["id"] for hit in response.json()["items"]]


@pytest.mark.parametrize("judged", JUDGEMENTS, ids=[j["name"] for j in JUDGEMENTS])
async def test_ranking_is_no_worse_than_recorded(
    api: Api, client: httpx2.AsyncClient, judged: dict[str, Any]
) -> None:
    ranked = await ranked_ids(client, judged["params"])
    ndcg = round(ndcg_at(ranked, judged["relevant"], 10), 3)
    precision = round(precision_at(ranked, judged["relevant"], 5), 3)
    floor_ndcg, floor_precision = FLOORS[api.engine][judged["name"]]
    found = f"{judged['name']!r} on {api.engine}: nDCG@10 {ndcg}, P@5 {precision}, {ranked}"
    assert ndcg >= floor_ndcg, found
    assert precision >= floor_precision, found
