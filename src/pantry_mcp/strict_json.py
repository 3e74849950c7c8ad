"""JSON as a client may send it, checked below any schema.

JSON allows texts that are not data a server can keep or pass on: strings with lone
surrogate escapes ("\\ud800" is valid JSON but no valid Unicode, so it cannot be encoded
as UTF-8 to reach Pantry or a log) or a NUL character (which no stored text may hold), the
literals NaN and Infinity (Python's json module takes them; JSON does not define them),
numbers that overflow to infinity (1e400), objects that repeat a key (which value is
meant?), and nesting deep enough to exhaust a recursive validator. Every JSON-RPC message
is checked here once, on every transport, and a bad one is refused with a JSON-RPC error
that names where the problem is (``params.arguments.query``), before any handler runs.

``decode`` parses a body (an HTTP POST, a stdio line) and checks it; ``find_problem``
checks an already parsed value.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
MAX_DEPTH = 64  # an MCP message needs a handful of levels; validators recurse on each


@dataclass(frozen=True)
class Refusal:
    """Why a message is refused: the JSON-RPC code, a message naming the place, and the
    request id when the message had a usable one (else the answer carries ``id: null``)."""

    code: int
    message: str
    request_id: str | int | None = None

    def error(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}

    def response(self) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": self.request_id, "error": self.error()}


class _NonFinite(float):
    """NaN, Infinity and overflowing numbers, kept as markers so the check can say where."""

    def __new__(cls, text: str) -> _NonFinite:
        return super().__new__(cls, "nan")

    def __init__(self, text: str) -> None:
        self.text = text


class _Repeated(dict[str, Any]):
    """An object that named a key more than once (the last value kept, as json does)."""

    repeated: str


class _Marks:
    """How many markers (non-finite numbers, repeated keys) the parser has made so far:
    a decode that made none, in a text with no escape and little nesting, needs no walk."""

    made = 0


def _constant(text: str) -> _NonFinite:
    _Marks.made += 1
    return _NonFinite(text)


def _number(text: str) -> float:
    value = float(text)
    if math.isfinite(value):
        return value
    _Marks.made += 1
    return _NonFinite(text)


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) == len(pairs):
        return result
    _Marks.made += 1
    repeated = _Repeated(result)
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            repeated.repeated = key
            break
        seen.add(key)
    return repeated


_DECODER = json.JSONDecoder(parse_float=_number, parse_constant=_constant, object_pairs_hook=_pairs)


def decode(body: bytes | str) -> tuple[Any, Refusal | None]:
    """The message and, if it must be refused, why. Not JSON at all (or not UTF-8) is a
    parse error; a byte-order mark before the JSON is allowed (RFC 8259 lets a parser
    ignore it)."""
    marks = _Marks.made
    try:
        text = body.decode("utf-8-sig") if isinstance(body, bytes) else body.lstrip("\ufeff")
        message = _DECODER.decode(text)
    except RecursionError:
        return None, Refusal(INVALID_REQUEST, "Invalid Request: the JSON is nested too deeply")
    except ValueError as error:  # UnicodeDecodeError and JSONDecodeError alike
        return None, Refusal(PARSE_ERROR, f"Parse error: {_reason(error)}")
    # A lone surrogate or a NUL can only arrive as a \u escape (valid UTF-8 holds neither,
    # and JSON refuses a raw NUL), deep nesting needs as many brackets, and the parser marks
    # the rest: without any of these the walk would find nothing.
    shallow = text.count("[") + text.count("{") < MAX_DEPTH
    if _Marks.made == marks and "\\u" not in text and shallow:
        return message, None
    return message, find_problem(message)


def _reason(error: ValueError) -> str:
    if isinstance(error, UnicodeDecodeError):
        return f"the body is not valid UTF-8 (byte {error.start})"
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at line {error.lineno} column {error.colno}"
    return "not JSON"


def find_problem(message: Any) -> Refusal | None:
    """What makes a parsed message unacceptable below the schema, or None."""
    request_id = _usable_id(message)
    found = _walk(message, 0)
    if found is None:
        return None
    path, what = found
    where = ".".join(path) or "the message"
    inside_params = bool(path) and path[0] == "params" and request_id is not None
    if inside_params:
        return Refusal(INVALID_PARAMS, f"Invalid params: {where} {what}", request_id)
    return Refusal(INVALID_REQUEST, f"Invalid Request: {where} {what}")


def _usable_id(message: Any) -> str | int | None:
    if not isinstance(message, dict):
        return None
    request_id = message.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, str | int):
        return None
    if isinstance(request_id, str) and not _is_text(request_id):
        return None
    return request_id


def _is_text(value: str) -> bool:
    """True when the string is valid Unicode (no lone surrogate), so it encodes as UTF-8."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text_problem(value: str) -> str | None:
    if not _is_text(value):
        return _LONE_SURROGATE
    if "\x00" in value:  # valid JSON and Unicode, but no text Pantry keeps can hold it
        return "holds a NUL character (\\u0000), which no text here may contain"
    return None


_LONE_SURROGATE = "is not valid Unicode (it holds a lone surrogate escape such as \\ud800)"


def _walk(value: Any, depth: int) -> tuple[list[str], str] | None:
    """(path, problem) of the first problem found, depth first; None when all is well."""
    if isinstance(value, str):
        problem = _text_problem(value)
        return None if problem is None else ([], problem)
    if isinstance(value, float):
        if isinstance(value, _NonFinite):
            return [], f"is {value.text}, which JSON numbers cannot be; send a finite number"
        return None
    if depth >= MAX_DEPTH and isinstance(value, dict | list):
        return [], f"is nested more than {MAX_DEPTH} levels deep"
    if isinstance(value, dict):
        if isinstance(value, _Repeated):
            return [], f"names the key {value.repeated!r} twice; send each key once"
        for key, item in value.items():
            problem = _text_problem(key)
            if problem is not None:
                return [_label(key)], "is a key that " + problem
            found = _walk(item, depth + 1)
            if found is not None:
                found[0].insert(0, key)
                return found
        return None
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _walk(item, depth + 1)
            if found is not None:
                found[0].insert(0, str(index))
                return found
    return None


def _label(key: str) -> str:
    """A key that cannot be printed as it is, written with escapes instead."""
    return key.encode("utf-8", "backslashreplace").decode("ascii", "replace")
