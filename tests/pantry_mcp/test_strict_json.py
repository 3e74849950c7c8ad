"""pantry-mcp's check below the schema: every problem is found, with or without the walk.

``decode`` skips walking a parsed message when its text cannot hold a problem (no escape,
no parser mark, little nesting); these cases pin that the skip never lets one through.
"""

from __future__ import annotations

import json

import pytest

from pantry_mcp.strict_json import INVALID_PARAMS, INVALID_REQUEST, MAX_DEPTH, decode


def call(arguments: str) -> str:
    return (
        '{"jsonrpc":"2.0","id":7,"method":"tools/call",'
        f'"params":{{"name":"search_recipes","arguments":{arguments}}}}}'
    )


@pytest.mark.parametrize(
    ("arguments", "place", "words"),
    [
        ('{"query":"a\\ud800b"}', "params.arguments.query", "lone surrogate"),
        ('{"query":"a\\u0000b"}', "params.arguments.query", "NUL"),
        ('{"max_minutes":NaN}', "params.arguments.max_minutes", "NaN"),
        ('{"max_minutes":-Infinity}', "params.arguments.max_minutes", "-Infinity"),
        ('{"max_minutes":1e400}', "params.arguments.max_minutes", "1e400"),
        ('{"max_minutes":' + "9" * 400 + ".5}", "params.arguments.max_minutes", "finite"),
        ('{"query":"a","query":"b"}', "params.arguments", "twice"),
        ('{"\\udc00":"a"}', "params.arguments", "key"),
    ],
)
def test_each_problem_is_refused_where_it_is(arguments: str, place: str, words: str) -> None:
    _, refused = decode(call(arguments).encode())
    assert refused is not None
    assert refused.code == INVALID_PARAMS and refused.request_id == 7
    assert place in refused.message and words in refused.message


def test_deep_nesting_is_refused() -> None:
    deep = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    _, refused = decode(call(f'{{"query":{deep}}}').encode())
    assert refused is not None and refused.code == INVALID_PARAMS
    assert "nested" in refused.message


def test_a_problem_after_a_clean_message_is_still_found() -> None:
    # the parser's marks are counted per decode, not remembered from an earlier one
    assert decode(call('{"query":"soup"}').encode())[1] is None
    _, refused = decode(call('{"a":1,"a":2}').encode())
    assert refused is not None and "twice" in refused.message
    assert decode(call('{"query":"stew"}').encode())[1] is None


def test_clean_messages_pass_unchanged() -> None:
    text = call('{"query":"crème brûlée \\"fast\\"","max_minutes":30.5,"dietary":["vegan"]}')
    message, refused = decode(text.encode())
    assert refused is None
    assert message == json.loads(text)


def test_an_escape_that_is_fine_is_fine() -> None:
    message, refused = decode(call('{"query":"caf\\u00e9 \\ud83c\\udf72"}').encode())
    assert refused is None
    assert message["params"]["arguments"]["query"] == "café 🍲"


def test_a_bare_non_finite_message_is_an_invalid_request() -> None:
    _, refused = decode(b"NaN")
    assert refused is not None and refused.code == INVALID_REQUEST
