"""A CLIENT span for every SQL statement Pantry runs, named and attributed by the stable
OpenTelemetry database conventions, SQLite and PostgreSQL alike.

Made here with the OpenTelemetry API, on SQLAlchemy's cursor events, rather than by the
official SQLAlchemy instrumentation: that one declares ``sqlalchemy<2.1`` (its
``instrument()`` does nothing on the 2.1 Pantry runs) and patches engine creation for the
whole process.

Statements run in SQLAlchemy's greenlets, which carry the caller's context, so each span
is a child of the request's span. A span holds the statement as sent (placeholders, never
values) and, on failure, the error's type only: a driver's message may quote a value.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from opentelemetry.trace import SpanKind, StatusCode, Tracer
from sqlalchemy import event
from sqlalchemy.engine import Engine, ExceptionContext

_SPAN = "_pantry_sql_span"  # where a statement's span waits on its execution context
# SQLite's deferred BEGIN takes no lock and no time: a span for it would only be noise
# (BEGIN IMMEDIATE, which waits for the write lock, keeps its span).
_UNTRACED = frozenset({"BEGIN"})


def trace_statements(engine: Engine, tracer: Tracer) -> None:
    """Listen on ``engine`` (an async engine's ``sync_engine``) for the rest of its life."""
    fixed = _fixed_attributes(engine)
    system = str(fixed["db.system.name"])
    target = f" {fixed['db.namespace']}" if "db.namespace" in fixed else ""

    @event.listens_for(engine, "before_cursor_execute")
    def start(
        _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        if context is None or statement in _UNTRACED:
            return
        words = statement.split(None, 1)
        operation = words[0].upper() if words else ""
        attributes: dict[str, str | int] = {**fixed, "db.query.text": statement}
        if operation.isalpha():
            attributes["db.operation.name"] = operation
        name = f"{operation}{target}" if operation.isalpha() else system
        span = tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
        setattr(context, _SPAN, span)

    @event.listens_for(engine, "after_cursor_execute")
    def end(
        _conn: Any, _cursor: Any, _statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        span = getattr(context, _SPAN, None)
        if span is not None:
            delattr(context, _SPAN)
            span.end()

    @event.listens_for(engine, "handle_error")
    def failed(error: ExceptionContext) -> None:
        context = error.execution_context
        span = getattr(context, _SPAN, None)
        if span is None:
            return
        delattr(context, _SPAN)
        # SQLAlchemy's class for it (IntegrityError, DBAPIError): the same for every driver.
        raised = error.sqlalchemy_exception or error.original_exception
        span.set_attribute("error.type", type(raised).__qualname__)
        span.set_status(StatusCode.ERROR)
        span.end()


def _fixed_attributes(engine: Engine) -> dict[str, str | int]:
    """What every statement's span shares: the system, the database, the server."""
    url = engine.url
    backend = url.get_backend_name()
    system = "postgresql" if backend in ("postgresql", "postgres") else backend
    attributes: dict[str, str | int] = {"db.system.name": system}
    database = url.database or ""
    if system == "sqlite":
        # The file's name, not its path: paths name home folders and are not the database.
        database = PurePath(database).name if database not in ("", ":memory:") else ""
    if database:
        attributes["db.namespace"] = database
    if url.host:
        attributes["server.address"] = url.host
        attributes["server.port"] = url.port or 5432
    return attributes
