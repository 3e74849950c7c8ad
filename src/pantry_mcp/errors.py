"""Errors that handlers raise. No SDK, no HTTP: a handler only knows what went wrong."""

from __future__ import annotations

from typing import Any


class ToolError(Exception):
    """A fact about the world the agent can act on: it becomes an ``isError`` result.

    ``message`` says what is wrong; ``hint`` says what to do next (which tool to call,
    which argument to change). ``details`` carries anything structured (bad fields).
    """

    def __init__(self, message: str, hint: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details or {}
