"""Verify one bearer token: signature by a key from the issuer's JWKS, a fixed list of
asymmetric algorithms, and the claims iss, aud, exp, nbf, sub."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt
from jwt.exceptions import InvalidTokenError

from pantry_mcp.auth.jwks import JwksCache, KeyNotFound
from pantry_mcp.config import USER_PATTERN, AuthSettings

# Never "none", never HS* (a public key must not double as an HMAC secret).
ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
LEEWAY_SECONDS = 30


class InvalidToken(Exception):
    """The token does not prove anything; ``reason`` is safe to show (it names no secret)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Principal:
    subject: str
    scopes: frozenset[str]
    client_id: str
    claims: dict[str, Any]


def scopes_of(claims: dict[str, Any]) -> frozenset[str] | None:
    """Scopes from ``scope`` (space-separated), ``scp`` or ``permissions``; None if none."""
    found: set[str] = set()
    present = False
    for name in ("scope", "scp", "permissions"):
        value = claims.get(name)
        if isinstance(value, str):
            found.update(value.split())
            present = True
        elif isinstance(value, list):
            found.update(str(item) for item in value)
            present = True
    return frozenset(found) if present else None


class TokenVerifier:
    def __init__(self, settings: AuthSettings, keys: JwksCache) -> None:
        self.settings = settings
        self.keys = keys
        required = ["iss", "aud", "exp", "sub"] + (["nbf"] if settings.require_nbf else [])
        self._options = {"require": required}

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except InvalidTokenError:
            raise InvalidToken("the token is not a well-formed JWT") from None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise InvalidToken("the token's signing algorithm is not accepted")
        kid = header.get("kid")
        try:
            key = await self.keys.key_for(kid if isinstance(kid, str) else None)
        except KeyNotFound:
            raise InvalidToken("the token was not signed by a key of the issuer") from None
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[algorithm],
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=LEEWAY_SECONDS,
                options=self._options,  # type: ignore[arg-type]
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("the token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("the token was issued for another resource") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("the token was issued by another authorization server") from None
        except jwt.MissingRequiredClaimError as error:
            raise InvalidToken(f"the token lacks the {error.claim} claim") from None
        except (InvalidTokenError, ValueError, TypeError):
            raise InvalidToken("the token's signature or contents are invalid") from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not USER_PATTERN.match(subject):
            raise InvalidToken("the token's subject is not a usable user id")
        scopes = scopes_of(claims)
        client = claims.get("client_id") or claims.get("azp") or "unknown-client"
        return Principal(
            subject=subject,
            scopes=self.settings.implied_scopes if scopes is None else scopes,
            client_id=str(client),
            claims=claims,
        )
