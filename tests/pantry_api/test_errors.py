"""The one error shape, and a clear 4xx for every kind of bad request."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest

from tests.pantry_api.conftest import Api, ClientFactory

pytestmark = pytest.mark.anyio


def assert_error(response: httpx2.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert "Traceback" not in response.text
    error: dict[str, object] = body["error"]
    return error


async def test_missing_credential_is_401(api: Api) -> None:
    async with httpx2.AsyncClient(base_url=api.base_url) as anonymous:
        response = await anonymous.get("/recipes", headers={"X-Pantry-User": "someone"})
    assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_wrong_credential_is_401(make_client: ClientFactory) -> None:
    client = make_client(Authorization="Bearer not-the-service-token-at-all")
    assert_error(await client.get("/recipes"), 401, "unauthorized")


async def test_acting_user_header_is_required_and_checked(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.token}"}
    async with httpx2.AsyncClient(base_url=api.base_url, headers=headers) as client:
        assert_error(await client.get("/recipes"), 400, "bad_request")
        bad = await client.get("/recipes", headers={"X-Pantry-User": "has space"})
        assert_error(bad, 400, "bad_request")
        too_long = await client.get("/recipes", headers={"X-Pantry-User": "u" * 129})
        assert_error(too_long, 400, "bad_request")


async def test_public_routes_need_no_credential(api: Api) -> None:
    async with httpx2.AsyncClient(base_url=api.base_url) as anonymous:
        assert (await anonymous.get("/healthz")).json() == {"status": "ok"}
        assert (await anonymous.get("/openapi.json")).json()["openapi"] == "3.1.0"


async def test_malformed_json_is_400(client: httpx2.AsyncClient) -> None:
    response = await client.post(
        "/meal-plans", content=b'{"start_date": ', headers={"content-type": "application/json"}
    )
    assert_error(response, 400, "bad_request")


async def test_body_must_be_json(client: httpx2.AsyncClient) -> None:
    response = await client.post("/meal-plans", content=b"start_date=2026-01-01")
    assert_error(response, 415, "unsupported_media_type")


async def test_wrong_types_missing_and_extra_fields_name_the_field(
    client: httpx2.AsyncClient,
) -> None:
    response = await client.post(
        "/meal-plans", json={"start_date": "not a date", "days": "7", "colour": "blue"}
    )
    error = assert_error(response, 422, "validation_failed")
    fields = {detail["field"] for detail in error["details"]}  # type: ignore[attr-defined]
    assert fields == {"body.start_date", "body.days", "body.colour"}


async def test_body_that_is_not_an_object_is_422(client: httpx2.AsyncClient) -> None:
    assert_error(await client.post("/meal-plans", json=[1, 2, 3]), 422, "validation_failed")


async def test_bad_query_parameter_names_it(client: httpx2.AsyncClient) -> None:
    response = await client.get("/recipes", params={"max_minutes": "soon", "dietary": "carnivore"})
    error = assert_error(response, 422, "validation_failed")
    fields = {detail["field"] for detail in error["details"]}  # type: ignore[attr-defined]
    assert fields == {"query.max_minutes", "query.dietary.0"}


@pytest.mark.parametrize(
    ("path", "name", "value"),
    [
        ("/recipes", "seed", "-1"),
        ("/recipes", "seed", "2147483648"),
        ("/recipes", "seed", "1.5"),
        ("/recipes", "seed", "random"),
        ("/recipes", "seed", ""),
        ("/meal-plans", "order", "newest"),
        ("/meal-plans", "order", ""),
        ("/meal-plans", "ends_on_or_after", "2026-02-30"),
        ("/meal-plans", "ends_on_or_after", "2026-1-5"),
        ("/meal-plans", "ends_on_or_after", "0"),
        ("/meal-plans", "starts_on_or_before", "2026-01-05T00:00:00"),
        ("/meal-plans", "starts_on_or_before", "tomorrow"),
        ("/meal-plans", "starts_on_or_before", "\uff12\uff10\uff12\uff16-01-05"),
    ],
)
async def test_bad_new_query_parameters_name_themselves(
    client: httpx2.AsyncClient, path: str, name: str, value: str
) -> None:
    error = assert_error(await client.get(path, params={name: value}), 422, "validation_failed")
    fields = {detail["field"] for detail in error["details"]}  # type: ignore[attr-defined]
    assert fields == {f"query.{name}"}


async def test_huge_body_is_413_and_writes_nothing(client: httpx2.AsyncClient) -> None:
    huge = {
        "title": "x",
        "total_minutes": 5,
        "ingredients": [{"name": "salt"}],
        "steps": ["a" * 400_000],
    }
    assert_error(await client.post("/recipes", json=huge), 413, "payload_too_large")
    assert (await client.get("/users/me")).json()["saved_recipes"] == 0


async def test_streamed_body_over_the_limit_is_413(client: httpx2.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"x" * 10_000

    response = await client.post(
        "/recipes", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_error(response, 413, "payload_too_large")


async def test_unknown_route_and_method_use_the_error_shape(client: httpx2.AsyncClient) -> None:
    assert_error(await client.get("/no-such-thing"), 404, "not_found")
    assert_error(await client.patch("/recipes"), 405, "method_not_allowed")


async def test_unknown_ids_are_404(client: httpx2.AsyncClient) -> None:
    for path in ("/recipes/no-such-recipe", "/meal-plans/plan-nothing", "/ingredients/unobtainium"):
        assert_error(await client.get(path), 404, "not_found")
    assert_error(await client.get("/recipes/NOT%20A%20SLUG"), 404, "not_found")
