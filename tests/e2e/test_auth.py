"""pantry-mcp as an OAuth 2.1 resource server: real keys, a real JWKS over HTTP, real
tokens, and the official client carrying them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from pantry_mcp.app import create_app
from pantry_mcp.client import PantryClient
from pantry_mcp.http1 import Http1Transport, RawResponse
from pantry_mcp.views import VIEWS
from tests.e2e.conftest import McpServerFactory
from tests.issuer import Issuer, ec_key, rsa_key
from tests.support import (
    SERVICE_TOKEN,
    RunningServer,
    mcp_settings,
    serve_in_thread,
    text_of,
    unique,
)

pytestmark = pytest.mark.anyio
RESOURCE = "http://127.0.0.1/mcp"  # the canonical URL tokens are minted for (the audience)
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture
def secured(mcp_server: McpServerFactory, issuer: Issuer) -> str:
    return mcp_server(PANTRY_MCP_AUTH_ISSUER=issuer.url, PANTRY_MCP_RESOURCE_URL=RESOURCE)


def token_for(issuer: Issuer, **kwargs: Any) -> str:
    return issuer.token(audience=RESOURCE, **kwargs)


@asynccontextmanager
async def client_as(
    url: str, token: str, mode: str = "2026-07-28", **headers: str
) -> AsyncIterator[Client]:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}", **headers}, timeout=30)
    async with http, Client(streamable_http_client(url, http_client=http), mode=mode) as client:
        yield client


async def post(
    url: str, headers: dict[str, str] | None = None, body: Any = INIT, **params: str
) -> httpx2.Response:
    async with httpx2.AsyncClient(timeout=30) as http:
        return await http.post(
            url, json=body, headers={**HEADERS, **(headers or {})}, params=params
        )


async def test_no_token_gets_a_challenge_that_leads_to_discovery(
    secured: str, issuer: Issuer
) -> None:
    response = await post(secured)
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert "error=" not in challenge
    assert 'scope="pantry:read pantry:write"' in challenge
    metadata_url = challenge.split('resource_metadata="')[1].split('"')[0]
    assert metadata_url == "http://127.0.0.1/.well-known/oauth-protected-resource/mcp"
    base = secured.removesuffix("/mcp")
    async with httpx2.AsyncClient(base_url=base) as http:
        for path in (
            "/.well-known/oauth-protected-resource/mcp",
            "/.well-known/oauth-protected-resource",
        ):
            document = (await http.get(path)).json()
            assert document == {
                "resource": RESOURCE,
                "authorization_servers": [issuer.url],
                "scopes_supported": ["pantry:read", "pantry:write"],
                "bearer_methods_supported": ["header"],
                "resource_name": "Pantry",
            }
        proxied = (await http.get("/.well-known/oauth-authorization-server")).json()
        assert proxied["issuer"] == issuer.url
        assert proxied["jwks_uri"] == f"{issuer.url}/jwks"
        assert (await http.get("/.well-known/openid-configuration")).json()["issuer"] == issuer.url


async def test_metadata_proxy_serves_a_stale_copy_while_the_issuer_is_down(
    secured: str, issuer: Issuer
) -> None:
    base = secured.removesuffix("/mcp")
    async with httpx2.AsyncClient(base_url=base) as http:
        assert (await http.get("/.well-known/oauth-authorization-server")).status_code == 200
        issuer.down = True
        again = await http.get("/.well-known/oauth-authorization-server")
        assert again.status_code == 200
        assert again.json()["issuer"] == issuer.url
        never_fetched = await http.get("/.well-known/openid-configuration")
        assert never_fetched.status_code == 503


async def test_a_valid_token_acts_as_its_subject(secured: str, issuer: Issuer) -> None:
    user = unique("oauth-user")
    async with client_as(secured, token_for(issuer, subject=user)) as client:
        bought = await client.call_tool(
            "update_pantry",
            {"changes": [{"action": "add", "ingredient": "eggs", "quantity": 6, "unit": "piece"}]},
        )
        assert bought.structured_content["applied"] == 1
        pantry = text_of((await client.read_resource("pantry://current")).contents[0])
        assert "egg: 6" in pantry


def _forge(token: str, change: dict[str, Any]) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(change)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256_with_public_key(issuer: Issuer, payload: str) -> str:
    """The classic confusion attack: an HMAC made with the issuer's public key as secret."""
    public_pem = (
        issuer.keys[0]
        .private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": issuer.keys[0].kid}).encode())
    signing_input = f"{header}.{payload}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def _bad_tokens(issuer: Issuer) -> dict[str, str]:
    good = token_for(issuer)
    header, payload, signature = good.split(".")
    claims = {"sub": "alice", "iss": issuer.url, "aud": RESOURCE, "exp": 9999999999, "nbf": 0}
    return {
        "expired": token_for(issuer, lifetime=-120),
        "not yet valid": token_for(issuer, nbf=int(time.time()) + 600),
        "wrong issuer": token_for(issuer, iss="https://evil.example"),
        "wrong audience": issuer.token(audience="https://other-service.example/mcp"),
        "missing sub": token_for(issuer, subject=None),
        "alg none": jwt.encode(claims, "", algorithm="none"),
        "HS256 with the public key": _hs256_with_public_key(issuer, payload),
        "unknown kid": token_for(issuer, key=rsa_key()),
        "tampered payload": _forge(good, {"sub": "mallory"}),
        "tampered signature": f"{header}.{payload}.{signature[:-4]}AAAA",
        "garbage": "not-a-jwt",
    }


async def test_every_bad_token_is_refused(secured: str, issuer: Issuer) -> None:
    for name, token in _bad_tokens(issuer).items():
        response = await post(secured, {"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
        assert 'error="invalid_token"' in response.headers["www-authenticate"], name
        assert token not in response.text, name


async def test_a_token_in_the_query_string_is_ignored(secured: str, issuer: Issuer) -> None:
    response = await post(secured, access_token=token_for(issuer))
    assert response.status_code == 401
    assert "error=" not in response.headers["www-authenticate"]


async def test_keys_rotate_without_a_restart(secured: str, issuer: Issuer) -> None:
    assert (
        await post(secured, {"Authorization": f"Bearer {token_for(issuer)}"})
    ).status_code == 200
    fresh = ec_key()
    issuer.keys = [fresh]  # the old keys are retired; only the new one signs
    response = await post(secured, {"Authorization": f"Bearer {token_for(issuer, key=fresh)}"})
    assert response.status_code == 200


async def test_forged_key_ids_do_not_hammer_the_issuer(secured: str, issuer: Issuer) -> None:
    await post(secured, {"Authorization": f"Bearer {token_for(issuer)}"})
    before = issuer.jwks_fetches
    for _ in range(10):
        forged = token_for(issuer, key=rsa_key())
        assert (await post(secured, {"Authorization": f"Bearer {forged}"})).status_code == 401
    assert issuer.jwks_fetches - before <= 1


async def test_jwks_down_refuses_tokens_and_is_not_ready(
    mcp_server: McpServerFactory, issuer: Issuer
) -> None:
    issuer.down = True
    url = mcp_server(PANTRY_MCP_AUTH_ISSUER=issuer.url, PANTRY_MCP_RESOURCE_URL=RESOURCE)
    response = await post(url, {"Authorization": f"Bearer {token_for(issuer)}"})
    assert response.status_code == 401
    async with httpx2.AsyncClient() as http:
        ready = await http.get(url.replace("/mcp", "/readyz"))
    assert ready.status_code == 503
    assert ready.json()["jwks"] == "not loaded"


async def test_a_read_only_token_sees_and_calls_only_read_tools(
    secured: str, issuer: Issuer
) -> None:
    token = token_for(issuer, scope="pantry:read")
    async with client_as(secured, token) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert names == {
            "search_recipes",
            "whats_for_dinner",
            "get_shopping_list",
            "suggest_substitutes",
            "get_meal_plan",
        }
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "update_pantry", "arguments": {"changes": []}},
    }
    headers = {"Authorization": f"Bearer {token}", "MCP-Protocol-Version": "2025-11-25"}
    refused = await post(secured, headers, body=call)
    assert refused.status_code == 403
    challenge = refused.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="pantry:read pantry:write"' in challenge
    # The view-only tool that ticks shopping items is a write like any other.
    tick = {**call, "params": {"name": "check_shopping_item", "arguments": {}}}
    refused = await post(secured, headers, body=tick)
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    no_scopes = await post(secured, {"Authorization": f"Bearer {token_for(issuer, scope='')}"})
    assert no_scopes.status_code == 403


async def test_two_users_never_see_each_other(secured: str, issuer: Issuer) -> None:
    alice, bob = unique("alice"), unique("bob")
    async with client_as(secured, token_for(issuer, subject=alice)) as client:
        await client.call_tool(
            "update_pantry",
            {"changes": [{"action": "add", "ingredient": "saffron", "quantity": 1, "unit": "g"}]},
        )
        plan = await client.call_tool("plan_week_meals", {"start_date": "2026-11-30", "days": 1})
        plan_id = plan.structured_content["plan_id"]
        stew = {
            "title": "Alice's Secret Stew",
            "ingredients": [{"name": "beef", "quantity": 1, "unit": "kg"}],
            "steps": ["Stew."],
            "total_minutes": 90,
        }
        saved = await client.call_tool("save_recipe", stew)
        recipe_id = saved.structured_content["recipe_id"]
    async with client_as(secured, token_for(issuer, subject=bob)) as client:
        assert "saffron" not in text_of(
            (await client.read_resource("pantry://current")).contents[0]
        )
        assert [str(r.uri) for r in (await client.list_resources()).resources] == [
            "pantry://current",
            *VIEWS,  # the views are the same for everyone; plans are not
        ]
        shopping = await client.call_tool("get_shopping_list", {"plan_id": plan_id})
        assert shopping.is_error
        assert (await client.call_tool("get_meal_plan", {"plan_id": plan_id})).is_error
        added = await client.call_tool(
            "add_recipe_to_plan",
            {"plan_id": plan_id, "recipe_id": "shakshuka", "date": "2026-11-30"},
        )
        assert added.is_error
        found = await client.call_tool("search_recipes", {"query": "alice secret stew"})
        assert recipe_id not in json.dumps(found.structured_content)
        with pytest.raises(MCPError, match="No recipe"):
            await client.read_resource(f"recipe://{recipe_id}")


async def test_a_legacy_session_is_bound_to_its_owner(
    mcp_server: McpServerFactory, issuer: Issuer
) -> None:
    url = mcp_server(
        PANTRY_MCP_AUTH_ISSUER=issuer.url,
        PANTRY_MCP_RESOURCE_URL=RESOURCE,
        PANTRY_MCP_STATEFUL="true",
    )
    opened = await post(
        url, {"Authorization": f"Bearer {token_for(issuer, subject=unique('owner'))}"}
    )
    assert opened.status_code == 200
    session = opened.headers["mcp-session-id"]
    hijack = await post(
        url,
        {
            "Authorization": f"Bearer {token_for(issuer, subject=unique('mallory'))}",
            "Mcp-Session-Id": session,
            "MCP-Protocol-Version": "2025-11-25",
        },
        body={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    )
    assert hijack.status_code == 404


async def test_foreign_origin_and_host_are_refused(secured: str, issuer: Issuer) -> None:
    auth = {"Authorization": f"Bearer {token_for(issuer)}"}
    assert (await post(secured, {**auth, "Origin": "https://evil.example"})).status_code == 403
    assert (await post(secured, {**auth, "Host": "evil.example"})).status_code == 421
    assert (await post(secured, {**auth, "Origin": "http://127.0.0.1:1234"})).status_code == 200


async def test_tokens_never_reach_the_logs(
    secured: str, issuer: Issuer, capfd: pytest.CaptureFixture[str]
) -> None:
    good, bad = token_for(issuer), _forge(token_for(issuer), {"sub": "x"})
    await post(secured, {"Authorization": f"Bearer {good}"})
    await post(secured, {"Authorization": f"Bearer {bad}"})
    out, err = capfd.readouterr()
    for secret in (good, bad, good.split(".")[2]):
        assert secret not in out + err


async def test_the_clients_token_never_goes_upstream(
    pantry_server: RunningServer, issuer: Issuer
) -> None:
    seen: list[bytes] = []

    class Recording(Http1Transport):
        """The client's own transport, as in production, keeping each request's head."""

        async def exchange(
            self, host: bytes, port: int, head: bytes, body: bytes = b"", **options: Any
        ) -> RawResponse:
            seen.append(head)
            return await super().exchange(host, port, head, body, **options)

    user = unique("upstream-user")
    settings = mcp_settings(
        pantry_server.base_url,
        "unused",
        PANTRY_MCP_AUTH_ISSUER=issuer.url,
        PANTRY_MCP_RESOURCE_URL=RESOURCE,
    )
    pantry = PantryClient(pantry_server.base_url, SERVICE_TOKEN, transport=Recording())
    token = token_for(issuer, subject=user)
    with serve_in_thread(create_app(settings, client=pantry)) as server:
        async with client_as(f"{server.base_url}/mcp", token) as client:
            assert not (await client.call_tool("search_recipes", {"query": "soup"})).is_error
    assert seen
    for head in seen:
        fields = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:] if line)
        assert fields["Authorization"] == f"Bearer {SERVICE_TOKEN}"
        assert fields["X-Pantry-User"] == user
        assert token not in head.decode()


async def test_nbf_is_required_only_when_configured(
    mcp_server: McpServerFactory, issuer: Issuer
) -> None:
    without_nbf = token_for(issuer, nbf=None)
    lenient = mcp_server(PANTRY_MCP_AUTH_ISSUER=issuer.url, PANTRY_MCP_RESOURCE_URL=RESOURCE)
    strict = mcp_server(
        PANTRY_MCP_AUTH_ISSUER=issuer.url,
        PANTRY_MCP_RESOURCE_URL=RESOURCE,
        PANTRY_MCP_AUTH_REQUIRE_NBF="true",
    )
    assert (await post(lenient, {"Authorization": f"Bearer {without_nbf}"})).status_code == 200
    refused = await post(strict, {"Authorization": f"Bearer {without_nbf}"})
    assert refused.status_code == 401
    assert "nbf" in refused.json()["error_description"]


async def test_oversized_bodies_are_refused(
    mcp_server: McpServerFactory, secured: str, issuer: Issuer
) -> None:
    huge = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"pad": "x" * 2_000_000}}
    with_token = await post(secured, {"Authorization": f"Bearer {token_for(issuer)}"}, body=huge)
    assert with_token.status_code == 413
    demo = await post(mcp_server(), body=huge)
    assert demo.status_code == 413
