"""JSON Schema checks that are fast when the value is valid and precise when it is not.

Every tool call checks its arguments against the inputSchema and its result against the
outputSchema. The ``jsonschema`` library walks the schema anew each time (about 0.25 ms for
a page of search results); ``fastjsonschema`` compiles the schema to Python once and checks
a valid value some 40 times faster, but stops at the first problem and words it for
programmers. So the compiled check answers "valid?", and only when it says no does
``jsonschema`` (Draft 2020-12, with the date format checked) list the problems, and decide:
the verdict is always the one ``jsonschema`` would give.

``jsonschema`` (with ``attrs``, ``referencing`` and ``rpds``) is imported, and its
validator built, on the first value that fails the compiled check: most processes never
see an invalid argument, and the library costs some 3 MB of resident memory from start-up.
That the shipped schemas are valid Draft 2020-12 is checked by the tests.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

import fastjsonschema

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _is_date(value: Any) -> bool:
    """RFC 3339 full-date only (fromisoformat alone also takes 20261130 and 2026-W48-1)."""
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


class SchemaCheck:
    def __init__(self, schema: dict[str, Any]) -> None:
        self._schema = schema
        self._precise: Draft202012Validator | None = None  # built on the first failure
        self._fast: Callable[[Any], Any] = fastjsonschema.compile(
            schema, formats={"date": _is_date}, use_default=False
        )

    def problems(self, instance: Any, limit: int) -> list[ValidationError]:
        """Up to ``limit`` problems with ``instance``; an empty list when it is valid."""
        try:
            self._fast(instance)
        except fastjsonschema.JsonSchemaException:
            return list(itertools.islice(self._validator().iter_errors(instance), limit))
        return []

    def _validator(self) -> Draft202012Validator:
        if self._precise is None:
            from jsonschema import Draft202012Validator, FormatChecker

            self._precise = Draft202012Validator(self._schema, format_checker=FormatChecker())
        return self._precise
