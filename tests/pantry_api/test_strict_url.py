"""Query strings and paths as strict text, on their own (the sweep is test_hostile_input)."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from pantry_api.errors import ApiError
from pantry_api.strict_url import check_path, check_query


def request(path: bytes, query: bytes = b"") -> Request:
    scope = {
        "type": "http",
        "method": "GET",
        "path": path.decode("latin-1"),
        "raw_path": path,
        "query_string": query,
        "headers": [],
    }
    return Request(scope)


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        (b"q=%ED%A0%80", 400, "query.q"),
        (b"page=1&q=a%FFb", 400, "query.q"),
        (b"q=%C0%80", 400, "query.q"),
        (b"q=a%00b", 422, "query.q"),
        (b"a%00=1", 422, "query.a\x00"),
        (b"%FF=1", 400, "query.\ufffd"),
    ],
)
def test_a_query_that_is_not_text_is_refused(query: bytes, status: int, field: str) -> None:
    with pytest.raises(ApiError) as raised:
        check_query(request(b"/recipes", query))
    assert raised.value.status == status
    details = raised.value.details
    assert isinstance(details, list) and [detail["field"] for detail in details] == [field]


@pytest.mark.parametrize("query", [b"", b"q=soup&page=2", b"q=caf%C3%A9+%F0%9F%8D%B2", b"q=%25"])
def test_ordinary_queries_pass(query: bytes) -> None:
    check_query(request(b"/recipes", query))


@pytest.mark.parametrize("path", [b"/recipes/%ED%A0%80", b"/recipes/%FF", b"/recipes/a%00b"])
def test_a_path_that_is_not_text_names_nothing(path: bytes) -> None:
    with pytest.raises(ApiError) as raised:
        check_path(request(path))
    assert raised.value.status == 404


@pytest.mark.parametrize("path", [b"/recipes/soup", b"/recipes/caf%C3%A9"])
def test_ordinary_paths_pass(path: bytes) -> None:
    check_path(request(path))
