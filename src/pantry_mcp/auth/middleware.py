"""Pure ASGI guards in front of /mcp: Host and Origin first, then the bearer token.

The bearer check answers as RFC 6750 and the MCP authorization spec ask: no token is a
401 naming our protected-resource metadata and the scopes; a bad token is a 401
``invalid_token``; a good token without a needed scope is a 403 ``insufficient_scope``
naming every scope the request needs. A token is only read from the Authorization
header (never the query string) and never logged or echoed.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from typing import Any

import structlog
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from pantry_mcp.asgi_body import MAX_BODY, NOT_JSON, parsed, read_body, replay
from pantry_mcp.auth.verifier import InvalidToken, Principal, TokenVerifier
from pantry_mcp.scopes import ALL_SCOPES, READ_SCOPE

log = structlog.get_logger("pantry_mcp.auth")
_MAX_KNOWN_USERS = 4096  # tokens whose SDK user is kept (the verifier caches as many)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class _Patterns:
    """Host or Origin patterns (``fnmatch``, case-insensitive) as one compiled expression,
    with the verdicts on recent values remembered: a client sends the same Host each time."""

    _MAX_REMEMBERED = 1024  # values are the client's to choose: bounded

    def __init__(self, patterns: tuple[str, ...]) -> None:
        either = "|".join(f"(?:{fnmatch.translate(p.lower())})" for p in patterns) or "(?!)"
        self._match = re.compile(either).match
        self._verdicts: dict[str, bool] = {}

    def allow(self, value: str) -> bool:
        verdict = self._verdicts.get(value)
        if verdict is None:
            if len(self._verdicts) >= self._MAX_REMEMBERED:
                self._verdicts.clear()
            verdict = self._verdicts[value] = self._match(value.lower()) is not None
        return verdict


class HostOriginGuard:
    """421 for a Host we do not serve, 403 for a foreign Origin (DNS rebinding, CSRF)."""

    def __init__(
        self, app: ASGIApp, hosts: tuple[str, ...], origins: tuple[str, ...], path: str
    ) -> None:
        self.app = app
        self.hosts = _Patterns(hosts)
        self.origins = _Patterns(origins)
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host") or ""
        if not self.hosts.allow(host):
            log.warning("host_refused", host=host[:100])
            await JSONResponse(
                {"error": "misdirected_request", "error_description": "Host not served here"}, 421
            )(scope, receive, send)
            return
        origin = _header(scope, b"origin")
        if origin is not None and not self.origins.allow(origin):
            log.warning("origin_refused", origin=origin[:100])
            await JSONResponse(
                {"error": "forbidden", "error_description": "Origin not allowed"}, 403
            )(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BearerAuth:
    def __init__(
        self,
        app: ASGIApp,
        verifier: TokenVerifier,
        resource_metadata_url: str,
        scope_for_tool: Callable[[str], str | None],
        path: str,
        on_refusal: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self.app = app
        self.on_refusal = on_refusal
        self.verifier = verifier
        self.metadata = resource_metadata_url
        self.scope_for_tool = scope_for_tool
        self.path = path
        # token -> (its Principal, the SDK's user made from it): a client sends one token many
        # times, and the verifier hands back the same Principal object while it trusts it.
        self._users: dict[str, tuple[Principal, AuthenticatedUser]] = {}

    def _sdk_user(self, principal: Principal, token: str) -> AuthenticatedUser:
        known = self._users.get(token)
        if known is not None and known[0] is principal:
            return known[1]
        if len(self._users) >= _MAX_KNOWN_USERS:
            self._users.clear()  # rebuilt in a few requests; never grows without bound
        user = _sdk_user(principal, token)
        self._users[token] = (principal, user)
        return user

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        authorization = _header(scope, b"authorization")
        if not authorization:
            await self._challenge(scope, receive, send, 401, None, "A bearer token is required.")
            return
        kind, _, token = authorization.partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            await self._challenge(
                scope, receive, send, 401, "invalid_request", "Use Authorization: Bearer <token>."
            )
            return
        try:
            principal = await self.verifier.verify(token.strip())
        except InvalidToken as error:
            log.info("token_refused", reason=error.reason)
            await self._challenge(scope, receive, send, 401, "invalid_token", error.reason)
            return
        body = b""
        if scope["method"] == "POST":
            body, too_large = await read_body(receive, MAX_BODY)
            if too_large:
                await JSONResponse({"error": "payload_too_large"}, 413)(scope, receive, send)
                return
        needed = self._needed_scopes(scope, body)
        if not needed <= principal.scopes:
            log.info("scope_refused", user=principal.user, needed=sorted(needed))
            await self._challenge(
                scope,
                receive,
                send,
                403,
                "insufficient_scope",
                "The token lacks a scope this request needs.",
            )
            return
        state = scope.setdefault("state", {})
        state["pantry_user"] = principal.user
        state["pantry_scopes"] = principal.scopes
        scope["user"] = self._sdk_user(principal, token.strip())
        await self.app(scope, replay(body, receive) if body else receive, send)

    def _needed_scopes(self, asgi_scope: Scope, body: bytes) -> set[str]:
        """pantry:read for anything; pantry:write too for a call to a tool that writes."""
        needed = {READ_SCOPE}
        message: Any = parsed(asgi_scope, body) if body else None
        if message is NOT_JSON:
            return needed  # not JSON: the MCP layer answers with a parse error
        for item in message if isinstance(message, list) else [message]:
            if isinstance(item, dict) and item.get("method") == "tools/call":
                params = item.get("params")
                name = params.get("name") if isinstance(params, dict) else None
                scope = self.scope_for_tool(name) if isinstance(name, str) else None
                if scope is not None:
                    needed.add(scope)
        return needed

    async def _challenge(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        error: str | None,
        description: str,
    ) -> None:
        parts = []
        if error is not None:
            parts.append(f'error="{error}"')
            parts.append(f'error_description="{description}"')
        parts.append(f'resource_metadata="{self.metadata}"')
        parts.append(f'scope="{" ".join(ALL_SCOPES)}"')
        self.on_refusal(error or "missing_token")
        body = {"error": error or "unauthorized", "error_description": description}
        headers = {"WWW-Authenticate": "Bearer " + ", ".join(parts)}
        await JSONResponse(body, status, headers=headers)(scope, receive, send)


def _sdk_user(principal: Principal, token: str) -> AuthenticatedUser:
    """The SDK binds a stateful session to this user: same issuer, client and subject."""
    claims = principal.claims
    return AuthenticatedUser(
        AccessToken(
            token=token,
            client_id=principal.client_id,
            scopes=sorted(principal.scopes),
            expires_at=int(claims["exp"]) if isinstance(claims.get("exp"), int | float) else None,
            subject=principal.subject,
            claims={"iss": claims.get("iss")},
        )
    )
