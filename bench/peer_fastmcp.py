"""The peer: fastmcp 4.x serving a search_recipes equivalent to ours over the same stub.

Same arguments and bounds (pydantic does the checking), the same upstream request to the
same in-process stub transport, the same result shape (structured, with a summary), on
fastmcp's stateless streamable HTTP with JSON answers. fastmcp is installed only in the
bench environment (`make bench` builds .venv-bench with the `bench` dependency group).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import httpx2
from fastmcp import FastMCP
from pydantic import BaseModel, Field
from starlette.types import ASGIApp

Dietary = Literal["vegetarian", "vegan", "pescatarian", "gluten-free", "dairy-free", "nut-free"]


class Hit(BaseModel):
    id: str
    title: str
    total_minutes: int
    summary: str


class SearchResult(BaseModel):
    summary: str
    results: list[Hit]
    page: int
    total: int
    has_more: bool


def app(stub: httpx2.MockTransport) -> ASGIApp:
    pantry = httpx2.AsyncClient(
        base_url="http://pantry.stub",
        headers={"Authorization": "Bearer bench-token-0123456789"},
        transport=stub,
    )
    server = FastMCP("fastmcp-peer")

    @server.tool
    async def search_recipes(
        query: Annotated[str, Field(min_length=1, max_length=200)],
        max_minutes: Annotated[int | None, Field(ge=1, le=1440)] = None,
        dietary: Annotated[list[Dietary] | None, Field(max_length=6)] = None,
        cuisine: Annotated[str | None, Field(max_length=40)] = None,
        page: Annotated[int, Field(ge=1, le=100)] = 1,
    ) -> SearchResult:
        """Find recipes by free text, best match first."""
        params: dict[str, Any] = {"q": query.strip(), "page": page, "page_size": 10}
        if max_minutes is not None:
            params["max_minutes"] = max_minutes
        if dietary:
            params["dietary"] = dietary
        if cuisine:
            params["cuisine"] = cuisine
        answer = await pantry.get("/recipes", params=params, headers={"X-Pantry-User": "demo"})
        answer.raise_for_status()
        found = answer.json()
        hits = [Hit.model_validate(item, from_attributes=False) for item in _hits(found)]
        return SearchResult(
            summary=f"{found['total']} recipes match '{query}'; showing 1-{len(hits)}.",
            results=hits,
            page=found["page"],
            total=found["total"],
            has_more=found["has_more"],
        )

    return server.http_app(path="/mcp", stateless_http=True, json_response=True)


def _hits(found: dict[str, Any]) -> list[dict[str, Any]]:
    keys = ("id", "title", "total_minutes", "summary")
    return [{key: item[key] for key in keys} for item in found["items"]]
