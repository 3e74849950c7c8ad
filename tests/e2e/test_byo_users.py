"""Bring your own users: Pantry owns the accounts, AuthKit (Standalone Connect) is the OAuth
authorization server, and pantry-mcp acts as the Pantry user who signed in.

Everything is real and on 127.0.0.1: the official SDK client with its OAuth support, Chromium
driven by selenium as the person, Pantry's own sign-in page (``/auth/login``) on a Pantry
with its own seeded SQLite, the AuthKit stand-in of tests/authkit_standin.py, and pantry-mcp
verifying the stand-in's JWTs with ``PANTRY_MCP_AUTH_USER_CLAIM=pantry_user``.

Proven here:

- Over plain HTTP, the test playing the application: the stand-in keeps to the documented
  flow (metadata, registration, PKCE, redirect to the Login URI with ``external_auth_id``,
  the completion API's key check, body check, single use and email rule, code exchange,
  refresh), and pantry-mcp acts as the token's ``pantry_user`` claim (the user's
  ``external_id``), not its ``sub``; a token without the claim is refused.
- In the browser: the SDK client goes from a 401 through discovery, registration and the
  sign-in on Pantry's page to tool calls, as the demo account and as a second account made
  with ``pantry-api users create --password-stdin``; each sees only its own pantry.
- Failure pages in the browser: a wrong password (the form again, nothing completed, and
  the right password then works), the completion API down or too slow, an unknown
  ``external_auth_id``, and a replayed form: no code ever reaches the client.

The browser tests need /usr/bin/chromium and /usr/bin/chromedriver (Debian's ``chromium``
and ``chromium-driver``, installed by .ci/run); without them they skip with the reason
printed, unless PANTRY_TEST_REQUIRE_BROWSER=1, when they fail.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
import anyio.to_thread
import httpx2
import jwt
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult
from selenium.common.exceptions import (
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from pantry_api import seed
from pantry_api.app import create_app as create_pantry_app
from pantry_api.config import Settings as PantrySettings
from pantry_mcp.app import create_app
from pantry_mcp.client import PantryClient
from tests.authkit_standin import AuthKitStandin, running_authkit_standin
from tests.browser import chromium
from tests.e2e.conftest import McpServerFactory
from tests.e2e.test_oauth_flow import jwt_parts
from tests.oauth_client import oauth_http
from tests.support import (
    SERVICE_TOKEN,
    RunningServer,
    free_port,
    mcp_settings,
    serve_in_thread,
    text_of,
    unique,
)

pytestmark = pytest.mark.anyio
CLAIM = "pantry_user"
WAIT = 20.0  # seconds one browser step may take (a page load, a redirect chain)
FLOW_TIMEOUT = 90.0  # seconds for one whole client session, sign-in included
WORKOS_TIMEOUT = 2.0  # Pantry's PANTRY_API_WORKOS_TIMEOUT here; "slow" answers after twice it
SUBMIT = (
    "//form//*[(self::button and normalize-space()='Sign in')"
    " or (self::input and @type='submit' and @value='Sign in')]"
)
TRACEBACK_WORDS = ("Traceback", 'File "', "Exception", "httpx", "sqlalchemy")


# ---- the flow over plain HTTP, the test playing the application ----------------------------


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str


def pkce() -> Pkce:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return Pkce(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode())


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


async def register(http: httpx2.AsyncClient, standin: AuthKitStandin, redirect_uri: str) -> str:
    response = await http.post(
        f"{standin.url}/oauth2/register",
        json={
            "client_name": "byo-users test",
            "redirect_uris": [redirect_uri],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        },
    )
    assert response.status_code == 201, response.text
    client_id: str = response.json()["client_id"]
    return client_id


def authorization_url(
    standin: AuthKitStandin, client_id: str, redirect_uri: str, challenge: str, **extra: str
) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": secrets.token_urlsafe(16),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "scope": "pantry:read pantry:write",
        **extra,
    }
    return f"{standin.url}/oauth2/authorize?{urlencode(params)}"


async def complete(
    http: httpx2.AsyncClient,
    standin: AuthKitStandin,
    body: Any,
    key: str | None = None,
) -> httpx2.Response:
    return await http.post(
        f"{standin.url}/authkit/oauth2/complete",
        json=body,
        headers={"Authorization": f"Bearer {standin.api_key if key is None else key}"},
    )


def person(user_id: str, email: str) -> dict[str, Any]:
    return {"id": user_id, "email": email, "first_name": "Test", "last_name": None}


@dataclass
class Signed:
    """One finished authorization: the token request that redeemed the code, and its answer."""

    exchange: dict[str, str]
    tokens: dict[str, Any]


async def sign_in_over_http(
    http: httpx2.AsyncClient,
    standin: AuthKitStandin,
    client_id: str,
    redirect_uri: str,
    user: dict[str, Any],
    resource: str,
) -> Signed:
    """The whole flow without a browser; the test plays Pantry at the Login URI."""
    keys = pkce()
    url = authorization_url(standin, client_id, redirect_uri, keys.challenge, resource=resource)
    sent = await http.get(url)
    assert sent.status_code == 302, sent.text
    assert sent.headers["location"].startswith(f"{standin.login_uri}?external_auth_id=")
    external_auth_id = query_of(sent.headers["location"])["external_auth_id"]
    done = await complete(http, standin, {"external_auth_id": external_auth_id, "user": user})
    assert done.status_code == 200, done.text
    back = await http.get(done.json()["redirect_uri"])
    assert back.status_code == 302
    assert back.headers["location"].startswith(f"{redirect_uri}?")
    answer = query_of(back.headers["location"])
    assert answer["state"] == query_of(url)["state"]
    exchange = {
        "grant_type": "authorization_code",
        "code": answer["code"],
        "redirect_uri": redirect_uri,
        "client_id": client_id,
        "code_verifier": keys.verifier,
        "resource": resource,
    }
    token = await http.post(f"{standin.url}/oauth2/token", data=exchange)
    assert token.status_code == 200, token.text
    return Signed(exchange, token.json())


@pytest.fixture
def standin() -> Iterator[AuthKitStandin]:
    with running_authkit_standin(login_uri="http://127.0.0.1:9/auth/login") as running:
        yield running  # the Login URI is never followed over plain HTTP


async def test_metadata_registration_and_authorization_refusals(standin: AuthKitStandin) -> None:
    redirect_uri = "http://127.0.0.1:9/callback"
    async with httpx2.AsyncClient(timeout=10) as http:
        metadata = (await http.get(f"{standin.url}/.well-known/oauth-authorization-server")).json()
        assert metadata["issuer"] == standin.url
        assert metadata["registration_endpoint"] == f"{standin.url}/oauth2/register"
        assert metadata["code_challenge_methods_supported"] == ["S256"]
        openid = (await http.get(f"{standin.url}/.well-known/openid-configuration")).json()
        assert openid["jwks_uri"] == f"{standin.url}/oauth2/jwks"
        refused = await http.post(
            f"{standin.url}/oauth2/register", json={"redirect_uris": ["http://evil.example/cb"]}
        )
        assert (refused.status_code, refused.json()["error"]) == (400, "invalid_redirect_uri")
        client_id = await register(http, standin, redirect_uri)
        challenge = pkce().challenge

        unregistered = await http.get(
            authorization_url(standin, client_id, "http://127.0.0.1:9/other", challenge)
        )
        assert unregistered.status_code == 400  # never redirected to an unregistered URI
        assert "location" not in unregistered.headers
        for change, error in [
            ({"code_challenge": ""}, "invalid_request"),
            ({"code_challenge_method": "plain"}, "invalid_request"),
            ({"response_type": "token"}, "unsupported_response_type"),
        ]:
            url = authorization_url(standin, client_id, redirect_uri, challenge, **change)
            answer = await http.get(url)
            assert answer.status_code == 302
            back = query_of(answer.headers["location"])
            assert (back["error"], back["state"]) == (error, query_of(url)["state"])
    assert standin.pending == {}


async def test_the_completion_api_checks_key_body_and_single_use(standin: AuthKitStandin) -> None:
    async with httpx2.AsyncClient(timeout=10) as http:
        client_id = await register(http, standin, "http://127.0.0.1:9/callback")
        url = authorization_url(standin, client_id, "http://127.0.0.1:9/callback", pkce().challenge)
        external_auth_id = query_of((await http.get(url)).headers["location"])["external_auth_id"]
        body = {"external_auth_id": external_auth_id, "user": person("cook-1", "a@example.com")}

        assert (await complete(http, standin, body, key="sk_test_wrong")).status_code == 401
        no_key = await http.post(f"{standin.url}/authkit/oauth2/complete", json=body)
        assert no_key.status_code == 401
        for bad in [
            [],
            {"external_auth_id": external_auth_id},
            {"external_auth_id": external_auth_id, "user": {"email": "a@example.com"}},
            {"external_auth_id": external_auth_id, "user": person("cook-1", "not-an-email")},
            {"external_auth_id": 7, "user": person("cook-1", "a@example.com")},
        ]:
            assert (await complete(http, standin, bad)).status_code == 422, bad
        unknown = {**body, "external_auth_id": "ext_auth_unknown"}
        assert (await complete(http, standin, unknown)).status_code == 404

        done = await complete(http, standin, body)
        assert done.status_code == 200
        assert done.json()["redirect_uri"].startswith(
            f"{standin.url}/oauth2/authorize/complete?state="
        )
        assert (await complete(http, standin, body)).status_code == 404  # used

        # A new id with an email another user has is refused, as WorkOS does.
        url = authorization_url(standin, client_id, "http://127.0.0.1:9/callback", pkce().challenge)
        again = query_of((await http.get(url)).headers["location"])["external_auth_id"]
        taken = {"external_auth_id": again, "user": person("cook-2", "A@example.com")}
        assert (await complete(http, standin, taken)).status_code == 409
    assert [user.external_id for user in standin.users.values()] == ["cook-1"]


async def test_tokens_act_as_the_external_id_through_pantry_mcp(
    standin: AuthKitStandin, mcp_server: McpServerFactory, pantry_server: RunningServer
) -> None:
    port = free_port()
    resource = f"http://127.0.0.1:{port}/mcp"
    url = mcp_server(
        port=port,
        PANTRY_MCP_AUTH_ISSUER=standin.url,
        PANTRY_MCP_RESOURCE_URL=resource,
        PANTRY_MCP_AUTH_USER_CLAIM=CLAIM,
    )
    redirect_uri = "http://127.0.0.1:9/callback"
    pantry_id = unique("byo-cook")
    async with httpx2.AsyncClient(timeout=30) as http:
        client_id = await register(http, standin, redirect_uri)
        user = person(pantry_id, f"{pantry_id}@example.com")
        signed = await sign_in_over_http(http, standin, client_id, redirect_uri, user, resource)
        claims = jwt.decode(
            signed.tokens["access_token"],
            key=standin.key.private.public_key(),
            algorithms=["RS256"],
            audience=resource,
            issuer=standin.url,
        )
        assert claims[CLAIM] == pantry_id
        assert claims["sub"].startswith("user_") and claims["sub"] != pantry_id
        assert claims["client_id"] == claims["azp"] == client_id

        # The same person again: the same stand-in user, details updated.
        renamed = {**user, "first_name": "Renamed"}
        again = await sign_in_over_http(http, standin, client_id, redirect_uri, renamed, resource)
        assert jwt_parts(again.tokens["access_token"])[1]["sub"] == claims["sub"]
        assert standin.users[claims["sub"]].first_name == "Renamed"

        # A code is single use; a refresh token gives a new access token.
        reused = await http.post(f"{standin.url}/oauth2/token", data=signed.exchange)
        assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")
        refreshed = await http.post(
            f"{standin.url}/oauth2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": signed.tokens["refresh_token"],
                "client_id": client_id,
            },
        )
        assert refreshed.status_code == 200, refreshed.text

        headers = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as authorized,
            Client(streamable_http_client(url, http_client=authorized)) as client,
        ):
            bought = await client.call_tool(
                "update_pantry",
                {
                    "changes": [
                        {"action": "add", "ingredient": "galangal", "quantity": 40, "unit": "g"}
                    ]
                },
            )
            assert not bought.is_error, bought

        standin.jwt_template = lambda _: {}  # an AuthKit environment without the template
        bare = await sign_in_over_http(http, standin, client_id, redirect_uri, user, resource)
        refused = await http.post(
            url,
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={
                "Authorization": f"Bearer {bare.tokens['access_token']}",
                "Accept": "application/json, text/event-stream",
            },
        )
    assert refused.status_code == 401
    assert (
        'error_description="the token lacks the pantry_user claim"'
        in (refused.headers["www-authenticate"])
    )
    pantry = PantryClient(pantry_server.base_url, SERVICE_TOKEN)
    try:
        mine = json.dumps(await pantry.list_pantry(pantry_id))
        by_sub = json.dumps(await pantry.list_pantry(claims["sub"]))
    finally:
        await pantry.aclose()
    assert "galangal" in mine, mine
    assert "galangal" not in by_sub, by_sub


async def test_a_wrong_pkce_verifier_gets_no_token(standin: AuthKitStandin) -> None:
    redirect_uri = "http://127.0.0.1:9/callback"
    async with httpx2.AsyncClient(timeout=10) as http:
        client_id = await register(http, standin, redirect_uri)
        keys = pkce()
        url = authorization_url(standin, client_id, redirect_uri, keys.challenge)
        external_auth_id = query_of((await http.get(url)).headers["location"])["external_auth_id"]
        body = {"external_auth_id": external_auth_id, "user": person("cook-9", "c@example.com")}
        back = await http.get((await complete(http, standin, body)).json()["redirect_uri"])
        code = query_of(back.headers["location"])["code"]
        exchange = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": client_id,
            "code_verifier": pkce().verifier,  # not the one behind the challenge
        }
        wrong = await http.post(f"{standin.url}/oauth2/token", data=exchange)
        assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")
        # The failed attempt spent the code: not even the right verifier redeems it now.
        right = await http.post(
            f"{standin.url}/oauth2/token", data={**exchange, "code_verifier": keys.verifier}
        )
        assert (right.status_code, right.json()["error"]) == (400, "invalid_grant")
    assert standin.issued == []


# ---- the browser: Pantry's real sign-in page ------------------------------------------------


@dataclass
class Callback:
    """The client's redirect_uri: a tiny page that records what the browser brought."""

    url: str = ""
    hits: list[dict[str, str]] = field(default_factory=list)

    def app(self) -> Starlette:
        async def arrive(request: Request) -> Response:
            self.hits.append(dict(request.query_params))
            return HTMLResponse("<!doctype html><title>Done</title><p>You are signed in.</p>")

        return Starlette(routes=[Route("/callback", arrive)])


@dataclass
class World:
    standin: AuthKitStandin
    pantry: RunningServer
    pantry_env: dict[str, str]
    mcp_url: str
    callback: Callback


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The stand-in, a seeded Pantry of its own that completes sign-ins there, pantry-mcp
    trusting the stand-in, and the client's callback page."""
    folder = tmp_path_factory.mktemp("byo-users")
    with ExitStack() as stack:
        standin = stack.enter_context(running_authkit_standin(slow_seconds=2 * WORKOS_TIMEOUT))
        env = {
            "PANTRY_API_DATABASE_URL": f"sqlite:///{folder / 'pantry.db'}",
            "PANTRY_API_DATA_DIR": str(folder),
            "PANTRY_API_SERVICE_TOKEN": SERVICE_TOKEN,
            "PANTRY_API_RATE_LIMIT": "0",
            "PANTRY_API_WORKOS_API_KEY": standin.api_key,
            "PANTRY_API_WORKOS_API_BASE": standin.url,
            "PANTRY_API_WORKOS_TIMEOUT": str(WORKOS_TIMEOUT),
            "PANTRY_API_SESSION_SECRET": secrets.token_urlsafe(48),
        }
        pantry = stack.enter_context(
            serve_in_thread(create_pantry_app(PantrySettings.from_env(env)))
        )
        standin.login_uri = f"{pantry.base_url}/auth/login"
        port = free_port()
        settings = mcp_settings(
            pantry.base_url,
            "nobody",
            PANTRY_MCP_AUTH_ISSUER=standin.url,
            PANTRY_MCP_RESOURCE_URL=f"http://127.0.0.1:{port}/mcp",
            PANTRY_MCP_AUTH_USER_CLAIM=CLAIM,
        )
        mcp = stack.enter_context(serve_in_thread(create_app(settings), port=port))
        callback = Callback()
        callback.url = f"{stack.enter_context(serve_in_thread(callback.app())).base_url}/callback"
        yield World(standin, pantry, env, f"{mcp.base_url}/mcp", callback)


@pytest.fixture
def signin(world: World) -> World:
    """The world with Pantry's sign-in page answering (a lost route fails here, loudly)."""
    probe = httpx2.get(f"{world.standin.login_uri}?external_auth_id=ext_auth_probe", timeout=10)
    assert probe.status_code == 200, f"GET /auth/login answers {probe.status_code}"
    world.standin.completion = "ok"
    return world


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    browser = chromium(tmp_path_factory)
    browser.set_page_load_timeout(WAIT)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def browser(driver: WebDriver) -> WebDriver:
    """The shared Chromium, with no cookie left from an earlier test."""
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    driver.get("about:blank")
    return driver


def demo_account() -> tuple[str, str]:
    """The seeded demo account's email and password (constants in pantry_api.seed)."""
    return seed.DEMO_EMAIL, seed.DEMO_PASSWORD


def create_account(world: World, user_id: str, email: str, password: str) -> None:
    """An account made as an operator would: ``pantry-api users create --password-stdin``."""
    command = [
        str(Path(sys.executable).parent / "pantry-api"),
        *("users", "create", "--email", email, "--password-stdin"),
        *("--first-name", "Second", "--last-name", "Cook", "--user-id", user_id),
    ]
    result = subprocess.run(
        command,
        input=password + "\n",
        env={**world.pantry_env, "PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert password not in result.stdout + result.stderr


def wait(browser: WebDriver) -> WebDriverWait[WebDriver]:
    return WebDriverWait(browser, WAIT, poll_frequency=0.05)


def fill_sign_in(browser: WebDriver, email: str, password: str) -> WebElement:
    """Fill Pantry's sign-in form; returns its "Sign in" button, not yet pressed."""
    wait(browser).until(expected_conditions.presence_of_element_located((By.NAME, "password")))
    for name, value in (("email", email), ("password", password)):
        box = browser.find_element(By.NAME, name)
        box.clear()
        box.send_keys(value)
    for hidden in ("csrf", "external_auth_id"):
        assert browser.find_element(By.NAME, hidden).get_attribute("value"), hidden
    return browser.find_element(By.XPATH, SUBMIT)


def left_the_document(element: WebElement) -> bool:
    """The page holding ``element`` is gone. Chromium, asked about an element while the
    next page replaces it, may say "does not belong to the document" rather than stale."""
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as error:
        if "does not belong to the document" in str(error):
            return True
        raise
    return False


def submit_and_wait_for_the_next_page(browser: WebDriver, button: WebElement) -> None:
    button.click()
    wait(browser).until(lambda _: left_the_document(button))
    wait(browser).until(lambda b: b.execute_script("return document.readyState") == "complete")


def page_of(browser: WebDriver) -> str:
    """Where the browser is and what it shows, for a failure message."""
    return f"at {browser.current_url}:\n{browser.find_element(By.TAG_NAME, 'body').text[:2000]}"


def wait_for_the_client(browser: WebDriver, callback: Callback, hits_before: int) -> None:
    """Until the browser has brought an authorization response to the client's callback."""
    try:
        wait(browser).until(lambda _: len(callback.hits) > hits_before)
    except TimeoutException:
        pytest.fail(f"never back at the client: {page_of(browser)}")


def assert_a_plain_error_page(browser: WebDriver) -> None:
    """A page for a person: it says what happened (an alert), and shows no internals."""
    alerts = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "[role=alert]")]
    assert any(text.strip() for text in alerts), f"no message: {page_of(browser)}"
    page = browser.find_element(By.TAG_NAME, "body").text
    leaked = [word for word in TRACEBACK_WORDS if word in page]
    assert not leaked, f"the page shows internals {leaked}: {page_of(browser)}"


@dataclass
class PersonAtTheBrowser:
    """The SDK's redirect and callback handlers: Chromium signs in on Pantry's page and
    follows the redirects back to the client's callback page."""

    browser: WebDriver
    callback: Callback
    email: str
    password: str
    seen: list[str] = field(default_factory=list)

    async def open(self, authorization_url: str) -> None:
        await anyio.to_thread.run_sync(self._sign_in, authorization_url)

    def _sign_in(self, authorization_url: str) -> None:
        before = len(self.callback.hits)
        self.browser.get(authorization_url)
        self.seen.append(self.browser.current_url)
        fill_sign_in(self.browser, self.email, self.password).click()
        wait_for_the_client(self.browser, self.callback, before)
        self.seen.append(self.browser.current_url)

    async def result(self) -> AuthorizationCodeResult:
        hit = self.callback.hits[-1]
        assert "error" not in hit, hit
        return AuthorizationCodeResult(code=hit["code"], state=hit.get("state"))


@dataclass
class Session:
    pantry: str
    bought: bool
    exchanges: list[tuple[str, str, int]]
    claims: dict[str, Any]


async def session_as(world: World, browser: WebDriver, email: str, password: str) -> Session:
    """The official client from nothing to two tool calls, signing in as ``email``."""
    person = PersonAtTheBrowser(browser, world.callback, email, password)
    oauth = oauth_http(
        world.mcp_url,
        client_name="pantry-mcp byo-users test",
        redirect_uri=world.callback.url,
        redirect_handler=person.open,
        callback_handler=person.result,
    )
    http, storage, exchanges = oauth.http, oauth.storage, oauth.exchanges
    try:
        with anyio.fail_after(FLOW_TIMEOUT):
            async with http, Client(streamable_http_client(world.mcp_url, http_client=http)) as c:
                pantry = text_of((await c.read_resource("pantry://current")).contents[0])
                bought = await c.call_tool(
                    "update_pantry",
                    {
                        "changes": [
                            {"action": "add", "ingredient": "eggs", "quantity": 6, "unit": "piece"}
                        ]
                    },
                )
    except BaseException:
        print("HTTP exchanges of the client:", *exchanges, sep="\n  ")
        print("browser pages:", *person.seen, sep="\n  ")
        raise
    assert storage.tokens is not None
    return Session(
        pantry, not bought.is_error, exchanges, jwt_parts(storage.tokens.access_token)[1]
    )


@pytest.fixture
async def pantry_api(world: World) -> AsyncIterator[PantryClient]:
    client = PantryClient(world.pantry.base_url, SERVICE_TOKEN)
    yield client
    await client.aclose()


async def stock(pantry_api: PantryClient, user: str, ingredient: str) -> None:
    await pantry_api.add_pantry_item(
        user,
        {"ingredient_id": ingredient, "quantity": 7, "unit": "g"},
        idempotency_key=unique("stock"),
    )


async def test_two_people_sign_in_on_pantrys_page_and_each_sees_only_their_own_pantry(
    signin: World, browser: WebDriver, pantry_api: PantryClient
) -> None:
    world = signin
    demo_email, demo_password = demo_account()
    second_id, second_email = unique("cook"), f"{unique('cook')}@example.com"
    second_password = secrets.token_urlsafe(18)
    create_account(world, second_id, second_email, second_password)
    await stock(pantry_api, seed.DEMO_USER, "galangal")  # put there behind MCP's back
    await stock(pantry_api, second_id, "asafoetida")

    demo = await session_as(world, browser, demo_email, demo_password)
    browser.execute_cdp_cmd("Network.clearBrowserCookies", {})  # another person, same machine
    second = await session_as(world, browser, second_email, second_password)

    standin, origin = world.standin, world.mcp_url.removesuffix("/mcp")
    assert demo.exchanges[:6] == [
        ("POST", world.mcp_url, 401),
        ("GET", f"{origin}/.well-known/oauth-protected-resource/mcp", 200),
        ("GET", f"{standin.url}/.well-known/oauth-authorization-server", 200),
        ("POST", f"{standin.url}/oauth2/register", 201),
        ("POST", f"{standin.url}/oauth2/token", 200),
        ("POST", world.mcp_url, 200),
    ], demo.exchanges
    for session, pantry_id in ((demo, seed.DEMO_USER), (second, second_id)):
        assert session.claims[CLAIM] == pantry_id
        assert session.claims["sub"].startswith("user_")
        assert standin.users[session.claims["sub"]].external_id == pantry_id
        assert session.bought
    assert demo.claims["sub"] != second.claims["sub"]
    assert standin.users[second.claims["sub"]].email == second_email.lower()

    assert "galangal" in demo.pantry and "asafoetida" not in demo.pantry, demo.pantry
    assert "asafoetida" in second.pantry and "galangal" not in second.pantry, second.pantry
    for user, own, other in (
        (seed.DEMO_USER, "galangal", "asafoetida"),
        (second_id, "asafoetida", "galangal"),
    ):
        items = json.dumps(await pantry_api.list_pantry(user))
        assert own in items and "egg" in items and other not in items, (user, items)


async def test_a_wrong_password_shows_the_form_again_and_completes_nothing(
    signin: World, browser: WebDriver
) -> None:
    world, (email, password) = signin, demo_account()
    hits = len(world.callback.hits)
    external_auth_id = await open_authorization(world, browser)
    submit_and_wait_for_the_next_page(browser, fill_sign_in(browser, email, password + "-wrong"))
    assert urlsplit(browser.current_url).path == "/auth/login"
    assert_a_plain_error_page(browser)
    assert completions_for(world, external_auth_id) == []
    # The form is there again, for the same authorization: the right password now works.
    assert browser.find_element(By.NAME, "external_auth_id").get_attribute("value") == (
        external_auth_id
    )
    browser.find_element(By.NAME, "password")
    fill_sign_in(browser, email, password).click()
    wait_for_the_client(browser, world.callback, hits)
    assert completions_for(world, external_auth_id) == [200]
    assert "code" in world.callback.hits[-1]


@pytest.mark.parametrize("failure", ["down", "slow"])
async def test_the_completion_api_failing_shows_an_error_page(
    signin: World, browser: WebDriver, failure: str
) -> None:
    world, (email, password) = signin, demo_account()
    hits = len(world.callback.hits)
    external_auth_id = await open_authorization(world, browser)
    world.standin.completion = "down" if failure == "down" else "slow"
    try:
        submit_and_wait_for_the_next_page(browser, fill_sign_in(browser, email, password))
    finally:
        world.standin.completion = "ok"
    assert_a_plain_error_page(browser)
    assert not browser.current_url.startswith(world.callback.url)
    assert len(world.callback.hits) == hits
    if failure == "down":
        assert completions_for(world, external_auth_id) == [503], page_of(browser)
        # Back up: trying again from the page the person is on signs them in.
        fill_sign_in(browser, email, password).click()
        wait_for_the_client(browser, world.callback, hits)
        assert completions_for(world, external_auth_id) == [503, 200]


async def test_an_unknown_external_auth_id_gets_no_code(signin: World, browser: WebDriver) -> None:
    world, (email, password) = signin, demo_account()
    hits, users = len(world.callback.hits), len(world.standin.users)
    bogus = f"ext_auth_{secrets.token_hex(13)}"
    browser.get(f"{world.standin.login_uri}?{urlencode({'external_auth_id': bogus})}")
    submit_and_wait_for_the_next_page(browser, fill_sign_in(browser, email, password))
    assert_a_plain_error_page(browser)
    assert 200 not in completions_for(world, bogus)
    assert (len(world.callback.hits), len(world.standin.users)) == (hits, users)


async def test_a_replayed_sign_in_form_gets_no_second_code(
    signin: World, browser: WebDriver
) -> None:
    world, (email, password) = signin, demo_account()
    hits = len(world.callback.hits)
    external_auth_id = await open_authorization(world, browser)
    button = fill_sign_in(browser, email, password)
    form = browser.find_element(By.TAG_NAME, "form")
    action = form.get_attribute("action")
    fields = {
        name: browser.find_element(By.NAME, name).get_attribute("value")
        for name in ("csrf", "external_auth_id", "email", "password")
    }
    button.click()
    wait_for_the_client(browser, world.callback, hits)
    # The same POST again from the same browser (its cookies included): a replayed form.
    replay = browser.find_element(By.TAG_NAME, "body")
    browser.execute_script(
        """
        const [action, fields] = arguments;
        const form = document.createElement("form");
        form.method = "post";
        form.action = action;
        for (const [name, value] of Object.entries(fields)) {
          const input = document.createElement("input");
          input.type = "hidden";
          input.name = name;
          input.value = value;
          form.appendChild(input);
        }
        document.body.appendChild(form);
        form.submit();
        """,
        action,
        fields,
    )
    wait(browser).until(lambda _: left_the_document(replay))
    wait(browser).until(lambda b: b.execute_script("return document.readyState") == "complete")
    assert urlsplit(browser.current_url).path == "/auth/login", browser.current_url
    assert_a_plain_error_page(browser)
    assert len(world.callback.hits) == hits + 1
    assert completions_for(world, external_auth_id).count(200) == 1


async def open_authorization(world: World, browser: WebDriver) -> str:
    """A freshly registered client's authorization request, opened in the browser, which
    lands on Pantry's sign-in page; returns the external_auth_id it was sent there with."""
    async with httpx2.AsyncClient(timeout=10) as http:
        client_id = await register(http, world.standin, world.callback.url)
    browser.get(authorization_url(world.standin, client_id, world.callback.url, pkce().challenge))
    assert browser.current_url.startswith(f"{world.standin.login_uri}?"), browser.current_url
    return query_of(browser.current_url)["external_auth_id"]


def completions_for(world: World, external_auth_id: str) -> list[int]:
    return [status for seen, status in world.standin.completions if seen == external_auth_id]
