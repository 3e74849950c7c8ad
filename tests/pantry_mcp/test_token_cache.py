"""A verified token is remembered until it expires, and never past what made it valid.

Real keys, a real JWKS served over HTTP by a local issuer, real signed tokens. The count
of signature checks is read with a spy that calls through to PyJWT.
"""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from pantry_mcp.auth.jwks import JwksCache
from pantry_mcp.auth.verifier import InvalidToken, TokenVerifier
from tests.issuer import Issuer, auth_settings, rsa_key

pytestmark = pytest.mark.anyio
RESOURCE = "http://127.0.0.1/mcp"


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every signature check the verifier makes (the real one still runs)."""
    seen: list[str] = []
    real = jwt.decode

    def spy(token: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", spy)  # the verifier calls jwt.decode
    return seen


def verifier_for(issuer: Issuer, keys: JwksCache, cache_size: int = 4096) -> TokenVerifier:
    return TokenVerifier(auth_settings(issuer, RESOURCE), keys, cache_size=cache_size)


async def test_a_token_is_checked_once_then_remembered(
    issuer: Issuer, keys: JwksCache, decodes: list[str]
) -> None:
    verifier = verifier_for(issuer, keys)
    token = issuer.token("alice", audience=RESOURCE)
    first = await verifier.verify(token)
    again = await verifier.verify(token)
    assert again == first and first.subject == "alice"
    assert decodes == [token]
    other = issuer.token("bob", audience=RESOURCE, scope="pantry:read")
    assert (await verifier.verify(other)).scopes == frozenset({"pantry:read"})
    assert decodes == [token, other]


async def test_a_refused_token_is_never_remembered(
    issuer: Issuer, keys: JwksCache, decodes: list[str]
) -> None:
    verifier = verifier_for(issuer, keys)
    wrong_audience = issuer.token("alice", audience="http://127.0.0.1/other")
    for _ in range(2):
        with pytest.raises(InvalidToken):
            await verifier.verify(wrong_audience)
    assert decodes == [wrong_audience, wrong_audience]


async def test_a_remembered_token_is_checked_again_once_it_expires(
    issuer: Issuer, keys: JwksCache, decodes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = verifier_for(issuer, keys)
    token = issuer.token("alice", audience=RESOURCE, lifetime=60)
    await verifier.verify(token)
    later = time.time() + 3600
    monkeypatch.setattr(time, "time", lambda: later)
    # PyJWT reads the real clock, so the token still verifies; the point is that the
    # cached verdict was not used past the token's exp
    await verifier.verify(token)
    assert decodes == [token, token]


async def test_a_token_whose_key_left_the_key_set_is_refused(
    issuer: Issuer, keys: JwksCache, decodes: list[str]
) -> None:
    verifier = verifier_for(issuer, keys)
    token = issuer.token("alice", audience=RESOURCE)
    await verifier.verify(token)
    issuer.keys = [rsa_key()]  # the issuer drops the key (rotation, or a compromised key)
    await keys.refresh()
    with pytest.raises(InvalidToken, match="not signed by a key of the issuer"):
        await verifier.verify(token)


async def test_the_cache_is_bounded_and_forgets_the_oldest(
    issuer: Issuer, keys: JwksCache, decodes: list[str]
) -> None:
    verifier = verifier_for(issuer, keys, cache_size=3)
    tokens = [issuer.token(f"user-{n}", audience=RESOURCE) for n in range(4)]
    for token in tokens:
        await verifier.verify(token)
    await verifier.verify(tokens[3])  # still remembered
    assert decodes == tokens
    await verifier.verify(tokens[0])  # forgotten when the fourth came in
    assert decodes == [*tokens, tokens[0]]
