"""One strict decoding step for request bodies: JSON that every part of Pantry can hold.

Python's json module takes more than JSON and Unicode allow: ``NaN`` and ``Infinity``,
numbers that overflow to infinity (``1e400``), lone surrogate escapes (``"\\ud800"``) that
no UTF-8 text can carry, repeated keys (which one counts?), a byte-order mark, and nesting
deep enough to exhaust the stack. Each is a malformed body: 400, naming where it is.
A NUL character, an integer beyond 32 bits or a negative zero is well-formed JSON that no
field means (PostgreSQL text has no NUL; Pantry's integer columns are PostgreSQL INTEGER,
32 bits, and SQLite's stop at 2^63): 422 for that field, whatever its model says, so a
new field cannot forget it.

Normal bodies pay for one walk over the parsed value; strings are only searched when the
text has a ``\\u`` escape, the one way a surrogate or a NUL gets into a decoded body.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from typing import Any

from pantry_api.errors import ApiError, BadRequest, ValidationFailed

MAX_DEPTH = 32  # Pantry's deepest body is 3 levels (a recipe's ingredient lines)
INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # PostgreSQL INTEGER, the narrowest column
_SURROGATE = re.compile("[\ud800-\udfff]")


class _Refused(Exception):
    """A problem found at some depth; the path is filled in on the way back up.

    ``malformed`` is the 400's message; without one the value is well-formed JSON that no
    field takes: a 422, like any other invalid field.
    """

    def __init__(self, problem: str, *, malformed: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.malformed = malformed
        self.path: list[str] = []

    def error(self) -> ApiError:
        field = ".".join(["body", *reversed(self.path)])
        details = [{"field": field, "problem": self.problem}]
        if self.malformed is None:
            return ValidationFailed("A field of the body is invalid.", details=details)
        return BadRequest(self.malformed, details=details)


class _Repeated(dict[str, Any]):
    """An object whose text named a key twice (the walk refuses it, knowing where)."""

    repeated: str = ""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) == len(pairs):
        return value
    flagged = _Repeated(value)
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            flagged.repeated = key
            break
        seen.add(key)
    return flagged


def _int(literal: str) -> int | float:
    # -0 would parse as 0 and be lost; as the float -0.0 the walk can refuse it, knowing where.
    if literal == "-0":
        return -0.0
    try:
        return int(literal)
    except ValueError:  # more digits than Python converts (4300): out of range all the same
        return INT_MAX + 1


def decode(raw: bytes) -> Any:
    """The body's JSON value, or an :class:`ApiError` saying what is wrong and where."""
    if raw.startswith(codecs.BOM_UTF8):
        raise BadRequest(
            "The request body starts with a byte-order mark; send JSON without one.",
            details=[{"field": "body", "problem": "starts with U+FEFF (a byte-order mark)"}],
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest(
            "The request body is not UTF-8 text.",
            details=[{"field": "body", "problem": f"invalid UTF-8 at byte {error.start}"}],
        ) from None
    try:
        value = json.loads(text, object_pairs_hook=_object, parse_int=_int)
    except RecursionError:
        raise _too_deep().error() from None
    except ValueError:
        raise BadRequest("The request body is not valid JSON.") from None
    try:
        _check(value, 0, "\\u" in text)
    except _Refused as refused:
        raise refused.error() from None
    return value


def _too_deep() -> _Refused:
    return _Refused(
        f"nests deeper than {MAX_DEPTH} levels", malformed="The request body is nested too deeply."
    )


def _check(node: Any, depth: int, escapes: bool) -> None:
    kind = type(node)
    if kind is str:
        if escapes:
            _check_text(node)
    elif kind is float:
        if not math.isfinite(node):
            raise _Refused(
                "is NaN, Infinity or too large for a number",
                malformed="The request body holds a number JSON cannot carry.",
            )
        if node == 0 and math.copysign(1.0, node) < 0:
            raise _Refused("is negative zero, which no field takes")
    elif kind is int:
        if not INT_MIN <= node <= INT_MAX:
            raise _Refused("is beyond the integers Pantry can store")
    elif kind is list:
        if depth >= MAX_DEPTH:
            raise _too_deep()
        for index, item in enumerate(node):
            try:
                _check(item, depth + 1, escapes)
            except _Refused as refused:
                refused.path.append(str(index))
                raise
    elif kind is dict or kind is _Repeated:
        if depth >= MAX_DEPTH:
            raise _too_deep()
        if kind is _Repeated:
            twice = _Refused(
                "appears more than once in its object",
                malformed="The request body names a key twice.",
            )
            twice.path.append(_shown(node.repeated))
            raise twice
        for key, item in node.items():
            try:
                if escapes:
                    _check_text(key)
                _check(item, depth + 1, escapes)
            except _Refused as refused:
                refused.path.append(_shown(key))
                raise


def _check_text(text: str) -> None:
    if _SURROGATE.search(text):
        raise _Refused(
            "has a lone surrogate escape (\\ud800 to \\udfff)",
            malformed="The request body is not valid Unicode text.",
        )
    if "\x00" in text:
        raise _Refused("contains a NUL character (\\u0000), which Pantry cannot store")


def _shown(key: str) -> str:
    """A key as it can be shown in an answer (a lone surrogate cannot be encoded)."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8")
