"""The OpenAPI document describes exactly what the service does.

schemathesis generates requests from the document (valid and deliberately invalid ones),
sends them to the running service, and checks every answer against the document: no 5xx,
only documented status codes, bodies that match their schemas, invalid input refused,
valid input accepted, and stateful sequences (create, then use) that hold together.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2

from tests.pantry_api.conftest import Api

EXPECTED_OPERATIONS = 25


def test_document_lists_all_25_operations(api: Api) -> None:
    document = httpx2.get(f"{api.base_url}/openapi.json").json()
    operations = [
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    ]
    assert len(operations) == EXPECTED_OPERATIONS
    assert (
        len({op["operationId"] for item in document["paths"].values() for op in item.values()})
        == EXPECTED_OPERATIONS
    )
    for item in document["paths"].values():
        for operation in item.values():
            assert operation["summary"]
            assert "422" in operation["responses"] and "401" in operation["responses"]


def test_document_shows_the_weeknight_limit_seed_aisles_and_plan_dates(api: Api) -> None:
    document = httpx2.get(f"{api.base_url}/openapi.json").json()
    schemas = document["components"]["schemas"]

    def query(path: str) -> dict[str, Any]:
        parameters = document["paths"][path]["get"]["parameters"]
        return {p["name"]: p for p in parameters if p["in"] == "query"}

    seed = query("/recipes")["seed"]
    assert not seed["required"] and "same seed gives the same order" in seed["description"]
    assert {"type": "integer", "minimum": 0, "maximum": 2147483647} in seed["schema"]["anyOf"]
    plans = query("/meal-plans")
    assert plans["order"]["schema"] == {
        "type": "string",
        "enum": ["latest", "earliest"],
        "default": "latest",
    }
    for name in ("ends_on_or_after", "starts_on_or_before"):
        assert {"type": "string", "format": "date"} in plans[name]["schema"]["anyOf"]
    assert "recipe_ids" in schemas["PlanSummary"]["required"]
    assert "aisle" in schemas["HitIngredient"]["required"]
    assert "max_weeknight_minutes" in schemas["Preferences"]["required"]
    limit = schemas["PreferencesIn"]["properties"]["max_weeknight_minutes"]
    assert {"type": "integer", "minimum": 1, "maximum": 1440} in limit["anyOf"]
    assert limit["default"] is None and "Monday to Friday" in limit["description"]


def test_document_shows_servings_and_when_preferences_were_set_or_declined(api: Api) -> None:
    document = httpx2.get(f"{api.base_url}/openapi.json").json()
    schemas = document["components"]["schemas"]
    servings = schemas["PreferencesIn"]["properties"]["servings"]
    assert {"type": "integer", "minimum": 1, "maximum": 20} in servings["anyOf"]
    assert servings["default"] is None and "How many people" in servings["description"]
    assert set(schemas["PreferencesIn"]["properties"]) == {
        "dietary",
        "disliked",
        "max_weeknight_minutes",
        "servings",
    }
    assert {"servings", "set_at", "declined_at"} <= set(schemas["Preferences"]["required"])
    declined = document["paths"]["/users/me/preferences/declined"]
    assert list(declined) == ["post"]
    operation = declined["post"]
    assert operation["summary"] == (
        "Record that the person declined to give their preferences, now"
    )
    assert "requestBody" not in operation
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Preferences"
    }


def test_schemathesis_finds_no_failure(api: Api, tmp_path: Path) -> None:
    schemathesis = Path(sys.executable).parent / "schemathesis"
    command = [
        str(schemathesis),
        "run",
        f"{api.base_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {api.token}",
        "--checks",
        "all",
        "--max-examples",
        os.environ.get("PANTRY_TEST_SCHEMATHESIS_EXAMPLES", "25"),
        "--workers",
        "2",
        "--seed",
        "20261125",
        "--request-timeout",
        "30",
        "--max-failures",
        "20",
        "--no-color",
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=600, cwd=tmp_path, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-15000:]
    assert f"Tested: {EXPECTED_OPERATIONS}" in output, output[-3000:]
