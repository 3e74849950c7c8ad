"""PANTRY_MCP_AUTH_USER_CLAIM: which Pantry user a verified token acts as.

With AuthKit Standalone Connect a token's ``sub`` is AuthKit's own user id (``user_01...``)
and a JWT template adds Pantry's id (the AuthKit user's ``external_id``) as a custom claim.
Proven here, with real keys, a real JWKS over HTTP (tests/issuer.py) and real signed tokens:

- with the claim configured, a token acts as the claim's value, never as its subject, both
  in the verifier and through the served app (the write lands in that user's pantry);
- a token without the claim, or with one that is not a usable user id (wrong type, empty,
  bad characters, too long), is refused as ``invalid_token`` with a reason that names the
  claim, and there is no falling back to the subject;
- the claim is only ever read from a verified token: a forged payload, a key the issuer does
  not publish, another audience or an expired token carrying the claim are all refused;
- with the setting off (the default), the claim is ignored and the subject acts, as before.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any

import httpx2
import jwt
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from pantry_mcp.app import create_app
from pantry_mcp.auth.jwks import JwksCache
from pantry_mcp.auth.verifier import InvalidToken, TokenVerifier
from pantry_mcp.client import PantryClient
from pantry_mcp.config import AuthSettings
from tests.issuer import Issuer, auth_settings, rsa_key
from tests.support import SERVICE_TOKEN, RunningServer, mcp_settings, serve_in_thread, unique

pytestmark = pytest.mark.anyio
RESOURCE = "http://127.0.0.1/mcp"
CLAIM = "pantry_user"
AUTHKIT_SUB = "user_01JABCDEFGHJKMNPQRSTVWXYZ0"  # the shape of AuthKit's user ids


def settings_for(issuer: Issuer, user_claim: str | None = CLAIM) -> AuthSettings:
    return auth_settings(issuer, RESOURCE, user_claim=user_claim)


def forge(token: str, change: dict[str, Any]) -> str:
    """The same header and signature over a payload with ``change`` applied."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(change)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


async def test_a_token_with_the_claim_acts_as_that_user(issuer: Issuer, keys: JwksCache) -> None:
    verifier = TokenVerifier(settings_for(issuer), keys)
    token = issuer.token(AUTHKIT_SUB, audience=RESOURCE, pantry_user="demo")
    principal = await verifier.verify(token)
    assert principal.user == "demo"
    assert principal.subject == AUTHKIT_SUB  # kept as who signed in, never acted as
    assert principal.scopes == frozenset({"pantry:read", "pantry:write"})
    assert (await verifier.verify(token)) is principal  # remembered like any verified token


async def test_a_token_without_the_claim_is_refused(issuer: Issuer, keys: JwksCache) -> None:
    verifier = TokenVerifier(settings_for(issuer), keys)
    with pytest.raises(InvalidToken) as refused:
        await verifier.verify(issuer.token(AUTHKIT_SUB, audience=RESOURCE))
    assert refused.value.reason == "the token lacks the pantry_user claim"
    signer = issuer.keys[0]
    null = jwt.encode(
        {
            **jwt.decode(
                issuer.token(AUTHKIT_SUB, audience=RESOURCE), options={"verify_signature": False}
            ),
            CLAIM: None,
        },
        signer.private,
        algorithm=signer.algorithm,
        headers={"kid": signer.kid},
    )
    with pytest.raises(InvalidToken, match="lacks the pantry_user claim"):
        await verifier.verify(null)  # a JSON null is no user either


@pytest.mark.parametrize(
    "value",
    [42, 4.2, True, ["demo"], {"id": "demo"}, "", "not a user", "-demo", "x" * 129],
    ids=["int", "float", "bool", "list", "object", "empty", "spaces", "leading-dash", "long"],
)
async def test_a_claim_that_is_not_a_user_id_is_refused(
    issuer: Issuer, keys: JwksCache, value: object
) -> None:
    verifier = TokenVerifier(settings_for(issuer), keys)
    token = issuer.token(AUTHKIT_SUB, audience=RESOURCE, pantry_user=value)
    with pytest.raises(InvalidToken) as refused:
        await verifier.verify(token)
    assert refused.value.reason == "the token's pantry_user claim is not a usable user id"


async def test_the_claim_is_read_only_from_a_verified_token(
    issuer: Issuer, keys: JwksCache
) -> None:
    verifier = TokenVerifier(settings_for(issuer), keys)
    good = issuer.token(AUTHKIT_SUB, audience=RESOURCE, pantry_user="alice")
    assert (await verifier.verify(good)).user == "alice"
    bad = {
        "payload rewritten to another user": forge(good, {CLAIM: "mallory"}),
        "claim added to a token that had none": forge(
            issuer.token(AUTHKIT_SUB, audience=RESOURCE), {CLAIM: "mallory"}
        ),
        "signed by a key the issuer does not publish": issuer.token(
            AUTHKIT_SUB, audience=RESOURCE, key=rsa_key(), pantry_user="mallory"
        ),
        "minted for another resource": issuer.token(
            AUTHKIT_SUB, audience="http://127.0.0.1/other", pantry_user="mallory"
        ),
        "expired": issuer.token(AUTHKIT_SUB, audience=RESOURCE, lifetime=-120, pantry_user="m"),
    }
    accepted = []
    for case, token in bad.items():
        try:
            principal = await verifier.verify(token)
        except InvalidToken:
            continue
        accepted.append(f"{case}: acted as {principal.user}")
    assert accepted == []
    assert (await verifier.verify(good)).user == "alice"


async def test_without_the_setting_the_claim_is_ignored(issuer: Issuer, keys: JwksCache) -> None:
    verifier = TokenVerifier(settings_for(issuer, user_claim=None), keys)
    principal = await verifier.verify(
        issuer.token("alice", audience=RESOURCE, pantry_user="mallory")
    )
    assert (principal.subject, principal.user) == ("alice", "alice")
    other = TokenVerifier(replace(settings_for(issuer), user_claim="urn:pantry:user"), keys)
    with pytest.raises(InvalidToken, match="lacks the urn:pantry:user claim"):
        await other.verify(issuer.token("alice", audience=RESOURCE, pantry_user="alice"))


async def test_the_served_app_acts_as_the_claim_and_names_it_when_refusing(
    issuer: Issuer, pantry_server: RunningServer
) -> None:
    user = unique("claimed-user")
    settings = mcp_settings(
        pantry_server.base_url,
        "demo",
        PANTRY_MCP_AUTH_ISSUER=issuer.url,
        PANTRY_MCP_RESOURCE_URL=RESOURCE,
        PANTRY_MCP_AUTH_USER_CLAIM=CLAIM,
    )
    with serve_in_thread(create_app(settings)) as server:
        url = f"{server.base_url}/mcp"
        token = issuer.token(AUTHKIT_SUB, audience=RESOURCE, pantry_user=user)
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            bought = await client.call_tool(
                "update_pantry",
                {
                    "changes": [
                        {"action": "add", "ingredient": "saffron", "quantity": 3, "unit": "g"}
                    ]
                },
            )
            assert not bought.is_error, bought
        async with httpx2.AsyncClient(timeout=30) as http:
            refused = await http.post(
                url,
                json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                headers={
                    "Authorization": f"Bearer {issuer.token(AUTHKIT_SUB, audience=RESOURCE)}",
                    "Accept": "application/json, text/event-stream",
                },
            )
    assert refused.status_code == 401
    challenge = refused.headers["www-authenticate"]
    assert 'error="invalid_token"' in challenge
    assert 'error_description="the token lacks the pantry_user claim"' in challenge
    pantry = PantryClient(pantry_server.base_url, SERVICE_TOKEN)
    try:
        claimed = json.dumps(await pantry.list_pantry(user))
        by_subject = json.dumps(await pantry.list_pantry(AUTHKIT_SUB))
    finally:
        await pantry.aclose()
    assert "saffron" in claimed, claimed
    assert "saffron" not in by_subject, by_subject
