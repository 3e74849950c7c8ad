"""A stand-in for WorkOS AuthKit with Standalone Connect, on 127.0.0.1, for tests only.

It plays the documented shapes of the flow an MCP client goes through when Pantry owns the
accounts and AuthKit is the authorization server:

1. ``GET /.well-known/oauth-authorization-server`` (RFC 8414; also served as
   ``openid-configuration``) and ``POST /oauth2/register`` (RFC 7591 dynamic registration of
   a public client, as MCP clients do it).
2. ``GET /oauth2/authorize``: ``response_type=code``, PKCE S256 required, ``redirect_uri``
   must be registered, ``resource`` (RFC 8707) becomes the token's ``aud``. The request is
   kept under a fresh ``external_auth_id`` and the browser is sent to the Login URI with it.
3. ``POST /authkit/oauth2/complete`` (api.workos.com in production): the application, with
   ``Authorization: Bearer <API key>``, names the person who signed in; the stand-in creates
   or updates its user ``user_<random>`` with ``external_id`` = that id (a new id with an
   email another user has is refused) and answers ``{"redirect_uri": ...}``.
4. ``GET /oauth2/authorize/complete?state=...``: back to the client's ``redirect_uri`` with
   ``code`` and the client's ``state``.
5. ``POST /oauth2/token``: ``authorization_code`` (with the PKCE verifier) and
   ``refresh_token``; an RS256 JWT whose ``sub`` is the stand-in's user id and which carries
   the JWT template's claims (by default ``pantry_user`` = the user's ``external_id``), with
   keys published at ``GET /oauth2/jwks``.

Simplifications, on purpose: one origin serves both the AuthKit domain and the WorkOS API;
only public clients (``token_endpoint_auth_method=none``); no consent screen, no session
cookie binding the browser across steps 2 and 4 (the opaque ``state`` is single use); the
granted scope is the requested one. ``completion`` makes the completion API fail
(``"down"``: 503) or answer late (``"slow"``: after ``slow_seconds``) for failure tests.
Production code never imports this module.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

import anyio
import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.issuer import SigningKey, rsa_key
from tests.support import serve_in_thread

ACCESS_TOKEN_SECONDS = 300
PENDING_SECONDS = 600  # how long an authorization request waits for the application
CODE_SECONDS = 60
Completion = Literal["ok", "down", "slow"]


@dataclass
class StandinUser:
    id: str  # AuthKit's own id: the token's sub
    external_id: str  # the application's id for the person (Pantry's user id)
    email: str
    first_name: str | None = None
    last_name: str | None = None


@dataclass
class Pending:
    """An authorization request waiting for the application to sign the person in."""

    client_id: str
    redirect_uri: str
    state: str | None
    code_challenge: str
    scope: str
    resource: str | None
    created: float
    user_id: str | None = None  # set by the completion API


@dataclass
class Grant:
    """What a code or refresh token stands for."""

    client_id: str
    user_id: str
    scope: str
    audience: str
    redirect_uri: str = ""
    code_challenge: str = ""
    expires: float = 0.0


def pantry_user_template(user: StandinUser) -> dict[str, Any]:
    """The JWT template ``{"pantry_user": "{{ user.external_id }}"}``."""
    return {"pantry_user": user.external_id}


def _loopback_or_https(uri: str) -> bool:
    parts = urlsplit(uri)
    if parts.fragment or not parts.netloc:
        return False
    return parts.scheme == "https" or (
        parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
    )


def _error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


@dataclass
class AuthKitStandin:
    """Serve it with ``running_authkit_standin()``; set ``login_uri`` once the app is up."""

    api_key: str = field(default_factory=lambda: f"sk_test_{secrets.token_urlsafe(24)}")
    login_uri: str = ""
    jwt_template: Callable[[StandinUser], dict[str, Any]] = pantry_user_template
    completion: Completion = "ok"
    slow_seconds: float = 30.0
    key: SigningKey = field(default_factory=rsa_key)
    url: str = ""
    clients: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, StandinUser] = field(default_factory=dict)
    pending: dict[str, Pending] = field(default_factory=dict)  # by external_auth_id
    returning: dict[str, str] = field(default_factory=dict)  # completion state -> ext auth id
    codes: dict[str, Grant] = field(default_factory=dict)
    refresh_tokens: dict[str, Grant] = field(default_factory=dict)
    # What happened, for assertions: (external_auth_id, status) per completion call, and
    # the claims of every access token issued.
    completions: list[tuple[str, int]] = field(default_factory=list)
    issued: list[dict[str, Any]] = field(default_factory=list)

    def user_by_external_id(self, external_id: str) -> StandinUser | None:
        return next((u for u in self.users.values() if u.external_id == external_id), None)

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/oauth2/authorize",
            "token_endpoint": f"{self.url}/oauth2/token",
            "registration_endpoint": f"{self.url}/oauth2/register",
            "jwks_uri": f"{self.url}/oauth2/jwks",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["none"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["email", "offline_access", "openid", "profile"],
        }

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/oauth-authorization-server", self._metadata),
                Route("/.well-known/openid-configuration", self._metadata),
                Route("/oauth2/jwks", self._jwks),
                Route("/oauth2/register", self._register, methods=["POST"]),
                Route("/oauth2/authorize", self._authorize),
                Route("/oauth2/authorize/complete", self._authorize_complete),
                Route("/authkit/oauth2/complete", self._complete, methods=["POST"]),
                Route("/oauth2/token", self._token, methods=["POST"]),
            ]
        )

    async def _metadata(self, _: Request) -> Response:
        return JSONResponse(self.metadata())

    async def _jwks(self, _: Request) -> Response:
        return JSONResponse({"keys": [self.key.public_jwk()]})

    async def _register(self, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _error(400, "invalid_client_metadata", "The body must be a JSON object.")
        uris = body.get("redirect_uris")
        if not isinstance(uris, list) or not uris or not all(isinstance(u, str) for u in uris):
            return _error(400, "invalid_redirect_uri", "redirect_uris must list URIs.")
        if not all(_loopback_or_https(u) for u in uris):
            return _error(400, "invalid_redirect_uri", "Use https, or http on a loopback host.")
        method = body.get("token_endpoint_auth_method", "none")
        if method != "none":
            return _error(400, "invalid_client_metadata", "Only public clients (none) here.")
        grants = body.get("grant_types") or ["authorization_code"]
        if not set(grants) <= {"authorization_code", "refresh_token"}:
            return _error(400, "invalid_client_metadata", "Unsupported grant_types.")
        client_id = f"client_{secrets.token_hex(12)}"
        client = {
            "client_id": client_id,
            "client_id_issued_at": int(time.time()),
            "client_name": body.get("client_name"),
            "redirect_uris": uris,
            "grant_types": grants,
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }
        self.clients[client_id] = client
        return JSONResponse(client, status_code=201)

    async def _authorize(self, request: Request) -> Response:
        query = request.query_params
        client = self.clients.get(query.get("client_id", ""))
        redirect_uri = query.get("redirect_uri", "")
        if client is None or redirect_uri not in client["redirect_uris"]:
            # Never redirect to an unverified URI (RFC 6749 section 4.1.2.1).
            return PlainTextResponse("Unknown client or unregistered redirect_uri.", 400)
        state = query.get("state")

        def refuse(error: str, description: str) -> Response:
            params = {"error": error, "error_description": description}
            if state is not None:
                params["state"] = state
            return RedirectResponse(f"{redirect_uri}?{urlencode(params)}", 302)

        if query.get("response_type") != "code":
            return refuse("unsupported_response_type", "Only response_type=code.")
        challenge = query.get("code_challenge", "")
        if not challenge or query.get("code_challenge_method") != "S256":
            return refuse("invalid_request", "PKCE with code_challenge_method=S256 is required.")
        resource = query.get("resource")
        if resource is not None and not _loopback_or_https(resource):
            return refuse("invalid_target", "resource must be an absolute https URI.")
        if not self.login_uri:
            return PlainTextResponse("No Login URI is configured.", 500)
        external_auth_id = f"ext_auth_{secrets.token_hex(13)}"
        self.pending[external_auth_id] = Pending(
            client_id=client["client_id"],
            redirect_uri=redirect_uri,
            state=state,
            code_challenge=challenge,
            scope=query.get("scope", ""),
            resource=resource,
            created=time.monotonic(),
        )
        location = f"{self.login_uri}?{urlencode({'external_auth_id': external_auth_id})}"
        return RedirectResponse(location, 302)

    async def _complete(self, request: Request) -> Response:
        if request.headers.get("authorization", "") != f"Bearer {self.api_key}":
            return JSONResponse({"message": "Unauthorized"}, status_code=401)
        body: Any
        try:
            body = await request.json()
        except ValueError:
            body = None
        external_auth_id = body.get("external_auth_id") if isinstance(body, dict) else None
        record = external_auth_id if isinstance(external_auth_id, str) else "?"
        if self.completion == "down":
            self.completions.append((record, 503))
            return JSONResponse({"message": "Service Unavailable"}, status_code=503)
        if self.completion == "slow":
            await anyio.sleep(self.slow_seconds)
        status, answer = self._completed(body)
        self.completions.append((record, status))
        return JSONResponse(answer, status_code=status)

    def _completed(self, body: Any) -> tuple[int, dict[str, Any]]:
        invalid = {"code": "invalid_request_parameters", "message": "Validation failed"}
        if not isinstance(body, dict):
            return 422, invalid
        external_auth_id, person = body.get("external_auth_id"), body.get("user")
        if not isinstance(external_auth_id, str) or not isinstance(person, dict):
            return 422, invalid
        user_id, email = person.get("id"), person.get("email")
        names = (person.get("first_name"), person.get("last_name"))
        if not isinstance(user_id, str) or not user_id or not isinstance(email, str):
            return 422, invalid
        if "@" not in email or not all(n is None or isinstance(n, str) for n in names):
            return 422, invalid
        pending = self.pending.get(external_auth_id)
        fresh = pending is not None and time.monotonic() - pending.created < PENDING_SECONDS
        if pending is None or not fresh or pending.user_id is not None:
            return 404, {"code": "not_found", "message": "External auth request not found."}
        # Created or updated by the application's id; emails are unique across users.
        user = self.user_by_external_id(user_id)
        email = email.lower()
        taken = next((u for u in self.users.values() if u.email == email), None)
        if taken is not None and taken is not user:
            return 409, {"code": "email_not_available", "message": "Email already in use."}
        if user is None:
            user = StandinUser(f"user_{secrets.token_hex(13)}", user_id, email)
            self.users[user.id] = user
        user.email = email
        user.first_name, user.last_name = names
        pending.user_id = user.id
        state = secrets.token_urlsafe(24)
        self.returning[state] = external_auth_id
        return 200, {"redirect_uri": f"{self.url}/oauth2/authorize/complete?state={state}"}

    async def _authorize_complete(self, request: Request) -> Response:
        external_auth_id = self.returning.pop(request.query_params.get("state", ""), None)
        pending = self.pending.pop(external_auth_id, None) if external_auth_id else None
        if pending is None or pending.user_id is None:
            return PlainTextResponse("This sign-in link is not valid (any more).", 400)
        code = secrets.token_urlsafe(32)
        self.codes[code] = Grant(
            client_id=pending.client_id,
            user_id=pending.user_id,
            scope=pending.scope,
            audience=pending.resource or pending.client_id,
            redirect_uri=pending.redirect_uri,
            code_challenge=pending.code_challenge,
            expires=time.monotonic() + CODE_SECONDS,
        )
        params = {"code": code} | ({"state": pending.state} if pending.state is not None else {})
        return RedirectResponse(f"{pending.redirect_uri}?{urlencode(params)}", 302)

    async def _token(self, request: Request) -> Response:
        form = await request.form()
        values = {key: value for key, value in form.items() if isinstance(value, str)}
        client_id = values.get("client_id", "")
        if client_id not in self.clients:
            return _error(401, "invalid_client", "Unknown client_id.")
        kind = values.get("grant_type")
        if kind == "authorization_code":
            grant = self.codes.pop(values.get("code", ""), None)
            verifier = values.get("code_verifier", "").encode()
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
            if (
                grant is None
                or grant.expires < time.monotonic()
                or grant.client_id != client_id
                or grant.redirect_uri != values.get("redirect_uri")
                or not secrets.compare_digest(challenge.decode(), grant.code_challenge)
            ):
                return _error(400, "invalid_grant", "The code is invalid, used or expired.")
        elif kind == "refresh_token":
            grant = self.refresh_tokens.pop(values.get("refresh_token", ""), None)
            if grant is None or grant.client_id != client_id:
                return _error(400, "invalid_grant", "The refresh token is invalid.")
        else:
            return _error(400, "unsupported_grant_type", "authorization_code or refresh_token.")
        resource = values.get("resource")
        if resource is not None and resource != grant.audience:
            return _error(400, "invalid_target", "resource differs from the authorization.")
        refresh = secrets.token_urlsafe(32)
        self.refresh_tokens[refresh] = Grant(
            grant.client_id, grant.user_id, grant.scope, grant.audience
        )
        return JSONResponse(
            {
                "access_token": self._access_token(grant),
                "token_type": "Bearer",
                "expires_in": ACCESS_TOKEN_SECONDS,
                "refresh_token": refresh,
                "scope": grant.scope,
            },
            headers={"Cache-Control": "no-store"},
        )

    def _access_token(self, grant: Grant) -> str:
        now = int(time.time())
        user = self.users[grant.user_id]
        claims: dict[str, Any] = {
            **self.jwt_template(user),
            "iss": self.url,
            "sub": user.id,
            "aud": grant.audience,
            "iat": now,
            "exp": now + ACCESS_TOKEN_SECONDS,
            "jti": secrets.token_hex(13),
            "client_id": grant.client_id,
            "azp": grant.client_id,
            "scope": grant.scope,
        }
        self.issued.append(claims)
        return jwt.encode(
            claims, self.key.private, algorithm=self.key.algorithm, headers={"kid": self.key.kid}
        )


@contextmanager
def running_authkit_standin(**options: Any) -> Iterator[AuthKitStandin]:
    standin = AuthKitStandin(**options)
    with serve_in_thread(standin.app()) as server:
        standin.url = server.base_url
        yield standin
