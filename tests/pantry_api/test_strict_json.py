"""The strict decoding step on its own: each refusal, its status, and the field it names.

The HTTP-level sweep is test_hostile_input.py; here are the cases a model would refuse
anyway today (a bound, a pattern), so that the step is seen to work without their help.
"""

from __future__ import annotations

import pytest

from pantry_api.errors import ApiError, BadRequest, ValidationFailed
from pantry_api.strict_json import MAX_DEPTH, decode


def refusal(raw: bytes) -> ApiError:
    with pytest.raises(ApiError) as raised:
        decode(raw)
    return raised.value


@pytest.mark.parametrize(
    ("raw", "status", "field"),
    [
        (b'{"a": "\\ud800"}', 400, "body.a"),
        (b'{"a": ["ok", {"b": "x\\udfffy"}]}', 400, "body.a.1.b"),
        (b'{"\\udbff": 1}', 400, "body.\\udbff"),
        (b'{"a": NaN}', 400, "body.a"),
        (b'{"a": [-Infinity]}', 400, "body.a.0"),
        (b'{"a": 1e400}', 400, "body.a"),
        (b'{"a": 1, "b": {"c": 1, "c": 2}}', 400, "body.b.c"),
        (b'\xef\xbb\xbf{"a": 1}', 400, "body"),
        (b'{"a": "\xff"}', 400, "body"),
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), 400, "body" + ".0" * MAX_DEPTH),
        (b"[" * 100_000 + b"]" * 100_000, 400, "body"),
        (b'{"a": -0}', 422, "body.a"),
        (b'{"a": [1, -0.0]}', 422, "body.a.1"),
        (b'{"a": -0e5}', 422, "body.a"),
        (b'{"a": "x\\u0000"}', 422, "body.a"),
        (b'{"a\\u0000": 1}', 422, "body.a\x00"),
        (b'{"a": 2147483648}', 422, "body.a"),
        (b'{"a": -2147483649}', 422, "body.a"),
        (b'{"a": ' + b"9" * 5000 + b"}", 422, "body.a"),
    ],
    ids=lambda value: repr(value)[:40] if isinstance(value, bytes) else str(value)[:24],
)
def test_what_json_allows_but_pantry_cannot_hold_is_refused(
    raw: bytes, status: int, field: str
) -> None:
    error = refusal(raw)
    assert isinstance(error, BadRequest if status == 400 else ValidationFailed)
    assert error.status == status
    assert isinstance(error.details, list)
    assert [detail["field"] for detail in error.details] == [field]


def test_malformed_json_is_400_without_details() -> None:
    error = refusal(b'{"a": ')
    assert error.status == 400 and error.details == {}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"title": "Caf\\u00e9 \xf0\x9f\x8d\xb2 \\ud83c\\udf72", "n": 0, "x": -1.5, "z": 0.0}',
        b'{"a": [[[[1]]]], "b": 2147483647, "c": -2147483648, "d": null, "e": true}',
        b"[" * MAX_DEPTH + b"]" * MAX_DEPTH,
    ],
    ids=lambda value: repr(value)[:40],
)
def test_ordinary_json_passes(raw: bytes) -> None:
    decode(raw)  # paired surrogate escapes, zero, the integer limits, MAX_DEPTH levels
