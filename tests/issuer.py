"""A real (if small) token issuer for tests: fresh RSA and EC keys, a JWKS and RFC 8414
metadata served over HTTP on 127.0.0.1, and tokens signed with those keys."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pantry_mcp.config import AuthSettings, metadata_url_for
from tests.support import serve_in_thread


@dataclass
class SigningKey:
    kid: str
    algorithm: str
    private: Any

    def public_jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.algorithm)
        jwk: dict[str, Any] = algorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.algorithm, "use": "sig"}


def rsa_key() -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return SigningKey(f"rsa-{secrets.token_hex(4)}", "RS256", private)


def ec_key() -> SigningKey:
    return SigningKey(
        f"ec-{secrets.token_hex(4)}", "ES256", ec.generate_private_key(ec.SECP256R1())
    )


@dataclass
class Issuer:
    """Serve it with ``running_issuer()``; change ``keys`` or ``down`` while tests run."""

    keys: list[SigningKey] = field(default_factory=lambda: [rsa_key(), ec_key()])
    url: str = ""
    down: bool = False
    jwks_fetches: int = 0

    def app(self) -> Starlette:
        async def metadata(_: Request) -> Response:
            if self.down:
                return JSONResponse({"error": "down"}, status_code=503)
            return JSONResponse(
                {
                    "issuer": self.url,
                    "authorization_endpoint": f"{self.url}/authorize",
                    "token_endpoint": f"{self.url}/token",
                    "jwks_uri": f"{self.url}/jwks",
                    "response_types_supported": ["code"],
                    "code_challenge_methods_supported": ["S256"],
                }
            )

        async def jwks(_: Request) -> Response:
            self.jwks_fetches += 1
            if self.down:
                return JSONResponse({"error": "down"}, status_code=503)
            return JSONResponse({"keys": [key.public_jwk() for key in self.keys]})

        return Starlette(
            routes=[
                Route("/.well-known/oauth-authorization-server", metadata),
                Route("/.well-known/openid-configuration", metadata),
                Route("/jwks", jwks),
            ]
        )

    def token(
        self,
        subject: str | None = "alice",
        *,
        audience: str,
        scope: str | None = "pantry:read pantry:write",
        key: SigningKey | None = None,
        lifetime: int = 300,
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.url,
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "client_id": "test-client",
        }
        if subject is not None:
            payload["sub"] = subject
        if scope is not None:
            payload["scope"] = scope
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        signer = key or self.keys[0]
        return jwt.encode(
            payload, signer.private, algorithm=signer.algorithm, headers={"kid": signer.kid}
        )


@contextmanager
def running_issuer() -> Iterator[Issuer]:
    issuer = Issuer()
    with serve_in_thread(issuer.app()) as server:
        issuer.url = server.base_url
        yield issuer


def auth_settings(issuer: Issuer, resource: str, *, user_claim: str | None = None) -> AuthSettings:
    """pantry-mcp's auth settings for tokens from ``issuer`` minted for ``resource``."""
    return AuthSettings(
        issuer=issuer.url,
        metadata_url=metadata_url_for(issuer.url),
        jwks_url=None,
        resource_url=resource,
        audience=resource,
        implied_scopes=frozenset(),
        require_nbf=False,
        user_claim=user_claim,
    )
