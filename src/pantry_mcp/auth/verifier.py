"""Verify one bearer token: signature by a key from the issuer's JWKS, a fixed list of
asymmetric algorithms, and the claims iss, aud, exp, nbf, sub.

The Pantry user a token acts as is its subject, or, when ``AuthSettings.user_claim`` is set
(``PANTRY_MCP_AUTH_USER_CLAIM``), the value of that claim: with AuthKit Standalone Connect the
subject is AuthKit's own user id and a JWT template carries Pantry's id (the AuthKit user's
``external_id``). That claim is read from the verified claims only, and a token without a
usable one is refused; there is no falling back to the subject.

A verified token is remembered until its expiry, so a client that sends the same token on
every request pays for one signature check, not one per request. The verdict is dropped
early when the key that signed it leaves the issuer's key set (rotation or revocation of a
key), and the cache is bounded so a flood of distinct tokens cannot grow it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt
from jwt import PyJWK
from jwt.exceptions import InvalidTokenError

from pantry_mcp.auth.jwks import JwksCache, KeyNotFound
from pantry_mcp.config import USER_PATTERN, AuthSettings

# Never "none", never HS* (a public key must not double as an HMAC secret).
ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
LEEWAY_SECONDS = 30
CACHED_TOKENS = 4096


class InvalidToken(Exception):
    """The token does not prove anything; ``reason`` is safe to show (it names no secret)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Principal:
    subject: str  # the token's sub: who the issuer says signed in
    scopes: frozenset[str]
    client_id: str
    claims: dict[str, Any]
    user: str  # the Pantry user to act as: sub, or the value of the configured user claim


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


@dataclass(frozen=True)
class _Verdict:
    principal: Principal
    kid: str | None
    key: PyJWK
    expires_at: float


class TokenVerifier:
    def __init__(
        self, settings: AuthSettings, keys: JwksCache, *, cache_size: int = CACHED_TOKENS
    ) -> None:
        self.settings = settings
        self.keys = keys
        required = ["iss", "aud", "exp", "sub"] + (["nbf"] if settings.require_nbf else [])
        self._options = {"require": required}
        self._cache: dict[str, _Verdict] = {}
        self._cache_size = cache_size

    async def verify(self, token: str) -> Principal:
        verdict = self._cache.get(token)
        if verdict is not None:
            if time.time() < verdict.expires_at and self.keys.current(verdict.kid) is verdict.key:
                return verdict.principal
            del self._cache[token]
        return await self._verify(token)

    def _remember(self, token: str, verdict: _Verdict) -> None:
        if len(self._cache) >= self._cache_size:
            now = time.time()
            for stale in [t for t, v in self._cache.items() if v.expires_at <= now]:
                del self._cache[stale]
            while len(self._cache) >= self._cache_size:  # still full: forget the oldest
                del self._cache[next(iter(self._cache))]
        self._cache[token] = verdict

    async def _verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except InvalidTokenError:
            raise InvalidToken("the token is not a well-formed JWT") from None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise InvalidToken("the token's signing algorithm is not accepted")
        kid = header.get("kid") if isinstance(header.get("kid"), str) else None
        try:
            key = await self.keys.key_for(kid)
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
        user = subject
        name = self.settings.user_claim
        if name is not None:
            value = claims.get(name)
            if value is None:
                raise InvalidToken(f"the token lacks the {name} claim")
            if not isinstance(value, str) or not USER_PATTERN.match(value):
                raise InvalidToken(f"the token's {name} claim is not a usable user id")
            user = value
        scopes = scopes_of(claims)
        client = claims.get("client_id") or claims.get("azp") or "unknown-client"
        principal = Principal(
            subject=subject,
            scopes=self.settings.implied_scopes if scopes is None else scopes,
            client_id=str(client),
            claims=claims,
            user=user,
        )
        expires = claims["exp"]
        if isinstance(expires, int | float) and not isinstance(expires, bool):
            self._remember(token, _Verdict(principal, kid, key, float(expires)))
        return principal
