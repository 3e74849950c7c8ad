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

import httpx2

from tests.pantry_api.conftest import Api

EXPECTED_OPERATIONS = 24


def test_document_lists_all_24_operations(api: Api) -> None:
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
