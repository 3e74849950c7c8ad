"""The JSON of a lone request's answer (single_exchange._json): compact UTF-8, and still an
answer when a string holds what UTF-8 cannot (a lone surrogate goes out as its escape)."""

from __future__ import annotations

import json

from pantry_mcp.single_exchange import _json


def test_an_answer_is_compact_utf8_json() -> None:
    answer = {"jsonrpc": "2.0", "id": 7, "result": {"text": "crème brûlée", "n": [1, 2.5]}}
    body = _json(answer)
    assert body == json.dumps(answer, separators=(",", ":"), ensure_ascii=False).encode()
    assert json.loads(body) == answer


def test_a_lone_surrogate_is_written_as_its_escape() -> None:
    answer = {"jsonrpc": "2.0", "id": 1, "result": {"text": "a\ud800b"}}
    body = _json(answer)
    assert b"\\ud800" in body
    assert json.loads(body) == answer
