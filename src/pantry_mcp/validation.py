"""JSON Schema checks that are fast when the value is valid and precise when it is not.

Every tool call checks its arguments against the inputSchema and its result against the
outputSchema. The ``jsonschema`` library walks the schema anew each time in Python (about
0.25 ms for a page of search results); ``jsonschema-rs`` compiles the schema once in Rust
and says whether a value is valid some eight times faster than even a schema compiled to
Python (``fastjsonschema``, which this module used before: 17.8 µs against 2.2 µs for a
page of search results), but words its problems its own way. So the compiled check answers
"valid?", and only when it says no does ``jsonschema`` (Draft 2020-12, with the date
format checked) list the problems, and decide: the verdict is always the one ``jsonschema``
would give. A value the Rust check cannot even take in (a key that is not a string, a NaN)
counts as a no, and goes to ``jsonschema`` too.

``jsonschema`` (with ``attrs``, ``referencing`` and ``rpds``) is imported, and its
validator built, on the first value that fails the compiled check: most processes never
see an invalid argument, and the library costs some 3 MB of resident memory from start-up.
That the shipped schemas are valid Draft 2020-12 is checked by the tests.
"""

from __future__ import annotations

import itertools
import re
from datetime import date
from typing import TYPE_CHECKING, Any

import jsonschema_rs

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
        # Draft 2020-12 whatever the schema says, formats checked, never a $ref fetched
        self._fast = jsonschema_rs.Draft202012Validator(
            schema, formats={"date": _is_date}, validate_formats=True, offline=True
        )

    def problems(self, instance: Any, limit: int) -> list[ValidationError]:
        """Up to ``limit`` problems with ``instance``; an empty list when it is valid."""
        try:
            valid = self._fast.is_valid(instance)
        except ValueError:  # not a JSON value Rust can hold (a key that is not a string)
            valid = False
        if valid:
            return []
        return list(itertools.islice(self._validator().iter_errors(instance), limit))

    def _validator(self) -> Draft202012Validator:
        if self._precise is None:
            from jsonschema import Draft202012Validator, FormatChecker

            self._precise = Draft202012Validator(self._schema, format_checker=FormatChecker())
        return self._precise
