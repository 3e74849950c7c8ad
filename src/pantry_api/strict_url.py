"""Query strings and path segments as strict text: UTF-8 once percent-decoded, no NUL.

Starlette decodes ``%FF`` or an encoded surrogate (``%ED%A0%80``) to U+FFFD without a
word, so a search would quietly run for something nobody sent. Only a query or path with
a ``%`` or a raw non-ASCII byte needs the closer look: ordinary requests pay nothing.
"""

from __future__ import annotations

from urllib.parse import unquote, unquote_to_bytes

from starlette.requests import Request

from pantry_api.errors import BadRequest, NotFound, ValidationFailed

_NOT_UTF8 = "is not UTF-8 once percent-decoded"
_NUL = "contains a NUL character, which Pantry cannot store"


def _plain(raw: bytes) -> bool:
    return b"%" not in raw and raw.isascii()


def _flaw(raw: bytes) -> str | None:
    """Why this percent-encoded text cannot be taken, or None when it can."""
    try:
        text = unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return _NOT_UTF8
    return _NUL if "\x00" in text else None


def check_query(request: Request) -> None:
    """Not UTF-8 is a malformed request (400); a NUL is a value no store can hold (422)."""
    raw: bytes = request.scope.get("query_string", b"")
    if _plain(raw):
        return
    for pair in raw.split(b"&"):
        name, _, value = pair.replace(b"+", b" ").partition(b"=")
        flaws = {_flaw(name), _flaw(value)} - {None}
        if not flaws:
            continue
        field = "query." + unquote(name.decode("latin-1"), errors="replace")
        if _NOT_UTF8 in flaws:
            raise BadRequest(
                "A query parameter is not UTF-8 text.",
                details=[{"field": field, "problem": _NOT_UTF8}],
            )
        raise ValidationFailed(
            "A query parameter is invalid.", details=[{"field": field, "problem": _NUL}]
        )


def check_path(request: Request) -> None:
    """A path that is not text names nothing: 404, as for any unknown id."""
    raw: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
    if not _plain(raw) and _flaw(raw) is not None:
        raise NotFound(f"Nothing exists at {request.url.path}.")
