"""The Login URI (AuthKit Standalone Connect): Pantry's own sign-in page, over real HTTP,
completing against a fake WorkOS completion API, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterator

import httpx2
import pytest
from argon2 import PasswordHasher

from pantry_api.store import accounts
from pantry_api.store.db import Database
from tests.pantry_api.conftest import ENGINES, Api
from tests.pantry_api.fake_workos import API_KEY, FakeWorkOS, Mode, redirect_for
from tests.pantry_api.login_support import (
    LOGIN,
    NO_MATCH,
    World,
    browser,
    cookie_header,
    form_field,
    make_person,
    new_address,
    new_external_auth_id,
    open_form,
    running_world,
    sign_in,
    submit,
)
from tests.support import free_port

pytestmark = pytest.mark.anyio
WRONG = "not the password at all"


@pytest.fixture(scope="module", params=ENGINES)
def world(
    request: pytest.FixtureRequest, database_factory: Callable[[str], str]
) -> Iterator[World]:
    with running_world(database_factory(request.param)) as running:
        yield running


@pytest.fixture
def workos(world: World) -> FakeWorkOS:
    world.workos.reset()
    return world.workos


def assert_page(response: httpx2.Response, status: int) -> str:
    """A complete HTML page with the security headers; its text."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    for directive in ("default-src 'none'", "form-action 'self'", "frame-ancestors 'none'"):
        assert directive in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    text = response.text
    assert text.startswith("<!doctype html>") and '<html lang="en">' in text
    assert "<main>" in text and "<script" not in text and "Traceback" not in text
    assert API_KEY not in text
    return text


def hidden_fields(page: str) -> dict[str, str]:
    return {name: form_field(page, name) for name in ("csrf", "external_auth_id")}


def without_tokens(page: str) -> str:
    """The page with what differs per request (CSRF token, echoed email) blanked out."""
    return re.sub(r'(name="(?:csrf|email)"[^>]*value=")[^"]*"', r'\1"', page)


async def test_the_form_is_plain_accessible_html(world: World) -> None:
    external_auth_id = new_external_auth_id()
    async with browser(world) as client:
        response = await client.get(LOGIN, params={"external_auth_id": external_auth_id})
    page = assert_page(response, 200)
    assert '<label for="email">Email</label>' in page and 'id="email" name="email"' in page
    assert '<label for="password">Password</label>' in page
    assert 'id="password" name="password" type="password"' in page
    assert '<button type="submit">Sign in</button>' in page
    assert form_field(page, "external_auth_id") == external_auth_id
    assert form_field(page, "csrf")
    style = page.split("<style>", 1)[1].split("</style>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in response.headers["content-security-policy"]
    csrf_cookie = cookie_header(response, "pantry_csrf")
    for flag in ("HttpOnly", "SameSite=lax", "Path=/auth"):
        assert flag in csrf_cookie
    assert "Secure" not in csrf_cookie  # plain http here; see the https test


async def test_signing_in_redirects_where_the_completion_api_says(
    world: World, workos: FakeWorkOS
) -> None:
    person = await make_person(world)
    external_auth_id = new_external_auth_id()
    async with browser(world) as client:
        hidden = await open_form(client, external_auth_id)
        response = await submit(client, hidden, person.email.upper(), person.password)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == redirect_for(external_auth_id)
    assert response.headers["cache-control"] == "no-store"
    assert workos.calls == [
        {
            "authorization": f"Bearer {API_KEY}",
            "content_type": "application/json",
            "body": {
                "external_auth_id": external_auth_id,
                "user": {
                    "id": person.user_id,
                    "email": person.email,
                    "first_name": "Ada",
                    "last_name": "Lovelace",
                },
            },
        }
    ]
    session = cookie_header(response, "pantry_session")
    for flag in ("HttpOnly", "SameSite=lax", "Path=/auth", "Max-Age=43200"):
        assert flag in session
    assert "Max-Age=0" in cookie_header(response, "pantry_csrf")  # the form is spent


async def test_names_are_sent_only_when_the_account_has_them(
    world: World, workos: FakeWorkOS
) -> None:
    person = await make_person(world, first_name=None, last_name=None)
    async with browser(world) as client:
        assert (await sign_in(client, person)).status_code == 303
    assert workos.calls[0]["body"]["user"] == {"id": person.user_id, "email": person.email}


async def test_a_signed_in_person_continues_with_one_click_and_a_link_alone_completes_nothing(
    world: World, workos: FakeWorkOS
) -> None:
    person = await make_person(world)
    second = new_external_auth_id()
    async with browser(world) as client:
        assert (await sign_in(client, person)).status_code == 303
        head = await client.head(LOGIN, params={"external_auth_id": second})
        assert head.status_code == 200
        # Opening a link (an attacker's own external_auth_id, say) completes nothing...
        offered = await client.get(LOGIN, params={"external_auth_id": second})
        assert len(workos.calls) == 1
        page = assert_page(offered, 200)
        assert f"Continue as {person.email}" in page
        assert '<button type="submit">Sign in</button>' in page  # or someone else
        # ...the person's click does, with no password.
        again = await client.post(LOGIN, data={**hidden_fields(page), "continue": "1"})
    assert again.status_code == 303
    assert again.headers["location"] == redirect_for(second)
    assert workos.calls[-1]["body"]["external_auth_id"] == second
    assert workos.calls[-1]["body"]["user"]["id"] == person.user_id
    async with browser(world) as stranger:
        page = assert_page(await stranger.get(LOGIN, params={"external_auth_id": second}), 200)
        assert "Continue as" not in page
        # "Continue" without a session of one's own signs nobody in
        refused = await stranger.post(LOGIN, data={**hidden_fields(page), "continue": "1"})
    assert "Your sign-in has ended" in assert_page(refused, 400)
    assert len(workos.calls) == 2


async def test_a_forged_session_cookie_or_a_new_password_shows_the_form(
    world: World, workos: FakeWorkOS
) -> None:
    person = await make_person(world)
    async with browser(world) as client:
        signed_in = await sign_in(client, person)
        token = client.cookies["pantry_session"]
        forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        client.cookies.set("pantry_session", forged, domain="127.0.0.1", path="/auth")
        page = await client.get(LOGIN, params={"external_auth_id": new_external_auth_id()})
        assert_page(page, 200)
        client.cookies.set("pantry_session", token, domain="127.0.0.1", path="/auth")
        db = Database(world.database_url)
        try:
            async with db.write() as conn:
                new_hash = accounts.HASHER.hash("a brand new password")
                await accounts.replace_hash(conn, person.user_id, new_hash)
        finally:
            await db.close()
        page = await client.get(LOGIN, params={"external_auth_id": new_external_auth_id()})
    assert signed_in.status_code == 303
    assert_page(page, 200)
    assert len(workos.calls) == 1


async def test_wrong_password_and_unknown_email_get_the_same_answer(
    world: World, workos: FakeWorkOS
) -> None:
    person = await make_person(world)
    external_auth_id = new_external_auth_id()
    async with browser(world) as client:
        hidden = await open_form(client, external_auth_id)
        wrong = await submit(client, hidden, person.email, WRONG)
        unknown_email = f"nobody-{person.user_id}@pantry.example"
        unknown = await submit(client, hidden_fields(wrong.text), unknown_email, WRONG)
        right = await submit(client, hidden_fields(unknown.text), person.email, person.password)
    for response in (wrong, unknown):
        page = assert_page(response, 400)
        assert f'<p class="problem" role="alert" id="problem">{NO_MATCH}</p>' in page
    assert without_tokens(wrong.text) == without_tokens(unknown.text)
    assert form_field(unknown.text, "email") == unknown_email  # kept for the person to fix
    assert right.status_code == 303
    assert len(workos.calls) == 1


async def test_five_failures_lock_an_email_whether_or_not_it_has_an_account(
    world: World, workos: FakeWorkOS
) -> None:
    person = await make_person(world)
    nobody = f"nobody-{person.user_id}@pantry.example"
    async with browser(world) as client:
        for email, password in ((person.email, person.password), (nobody, "anything")):
            hidden = await open_form(client, new_external_auth_id())
            for _ in range(5):
                failed = await submit(client, hidden, email, WRONG)
                assert failed.status_code == 400
                hidden = hidden_fields(failed.text)
            limited = await submit(client, hidden, email, password)
            page = assert_page(limited, 429)
            assert "Too many failed sign-in attempts" in page
            assert 1 <= int(limited.headers["retry-after"]) <= 15 * 60
    # The limit is the email's, not the browser's or the address's.
    async with browser(world) as elsewhere:
        still = await sign_in(elsewhere, person)
    assert still.status_code == 429
    assert workos.calls == []


async def test_a_good_sign_in_clears_the_emails_failures(world: World, workos: FakeWorkOS) -> None:
    person = await make_person(world)
    async with browser(world) as client:
        for round_ in range(2):
            hidden = await open_form(client, new_external_auth_id())
            for _ in range(4):
                failed = await submit(client, hidden, person.email, WRONG)
                assert failed.status_code == 400, round_
                hidden = hidden_fields(failed.text)
            good = await submit(client, hidden, person.email, person.password)
            assert good.status_code == 303, round_
            client.cookies.clear()  # sign in with the form again, not the session
    assert len(workos.calls) == 2


async def test_twenty_failures_lock_an_address(world: World, workos: FakeWorkOS) -> None:
    person = await make_person(world)
    address = new_address()
    async with browser(world, address=address) as client:
        hidden = await open_form(client, new_external_auth_id())
        for attempt in range(20):
            # a new email every four tries: never the email limit, always the address's
            email = f"guess-{attempt // 4}-{person.user_id}@pantry.example"
            failed = await submit(client, hidden, email, WRONG)
            assert failed.status_code == 400, attempt
            hidden = hidden_fields(failed.text)
        limited = await submit(client, hidden, person.email, person.password)
        assert_page(limited, 429)
    async with browser(world) as elsewhere:
        assert (await sign_in(elsewhere, person)).status_code == 303
    assert len(workos.calls) == 1


@pytest.mark.parametrize(
    ("mode", "status", "says"),
    [
        ("error", 502, "did not accept this sign-in"),
        ("unauthorized", 502, "did not accept this sign-in"),
        ("garbage", 502, "did not understand"),
        ("bad_redirect", 502, "did not understand"),
        ("slow", 504, "did not answer in time"),
    ],
)
async def test_a_failing_completion_api_leaves_a_form_to_retry_with(
    world: World, workos: FakeWorkOS, mode: Mode, status: int, says: str
) -> None:
    person = await make_person(world)
    external_auth_id = new_external_auth_id()
    workos.mode = mode
    async with browser(world) as client:
        failed = await sign_in(client, person, external_auth_id)
        page = assert_page(failed, status)
        assert says in page and "try again" in page
        assert '<button type="submit">Sign in</button>' in page
        assert form_field(page, "email") == person.email
        workos.mode = "ok"
        retried = await submit(client, hidden_fields(page), person.email, person.password)
    assert retried.status_code == 303
    assert retried.headers["location"] == redirect_for(external_auth_id)


async def test_after_a_failed_completion_the_session_retries_without_the_password(
    world: World, workos: FakeWorkOS
) -> None:
    person = await make_person(world)
    external_auth_id = new_external_auth_id()
    workos.mode = "error"
    async with browser(world) as client:
        failed = await sign_in(client, person, external_auth_id)
        page = assert_page(failed, 502)
        assert f"Continue as {person.email}" in page
        workos.mode = "ok"
        again = await client.post(LOGIN, data={**hidden_fields(page), "continue": "1"})
    assert again.status_code == 303
    assert again.headers["location"] == redirect_for(external_auth_id)


async def test_an_unreachable_completion_api_leaves_a_form_to_retry_with(world: World) -> None:
    nothing_there = f"http://127.0.0.1:{free_port()}"
    with running_world(world.database_url, workos_base=nothing_there) as down:
        person = await make_person(down)
        async with browser(down) as client:
            failed = await sign_in(client, person)
    page = assert_page(failed, 502)
    assert "could not reach the sign-in service" in page
    assert '<button type="submit">Sign in</button>' in page


async def test_a_replayed_form_is_refused(world: World, workos: FakeWorkOS) -> None:
    person = await make_person(world)
    external_auth_id = new_external_auth_id()
    async with browser(world) as client:
        hidden = await open_form(client, external_auth_id)
        first = await submit(client, hidden, person.email, person.password)
        replay = await submit(client, hidden, person.email, person.password)
    assert first.status_code == 303
    page = assert_page(replay, 403)
    assert "expired or was already used" in page
    assert f'<a href="/auth/login?external_auth_id={external_auth_id}">Start again</a>' in page
    assert len(workos.calls) == 1


async def test_forged_or_misdirected_csrf_tokens_are_refused(
    world: World, workos: FakeWorkOS
) -> None:
    person = await make_person(world)
    external_auth_id, other_id = new_external_auth_id(), new_external_auth_id()
    async with browser(world) as client, browser(world) as attacker:
        hidden = await open_form(client, external_auth_id)
        token = hidden["csrf"]
        for_other_id = (await open_form(client, other_id))["csrf"]
        refused = [
            await submit(
                client, {**hidden, "csrf": token[:-1] + "x"}, person.email, person.password
            ),
            await submit(client, {**hidden, "csrf": ""}, person.email, person.password),
            await submit(client, {**hidden, "csrf": for_other_id}, person.email, person.password),
            # another browser, without the cookie, then with a cookie of its own
            await submit(attacker, hidden, person.email, person.password),
        ]
        await open_form(attacker, external_auth_id)
        refused.append(await submit(attacker, hidden, person.email, person.password))
        for response in refused:
            assert_page(response, 403)
        assert workos.calls == []
        genuine = await submit(client, hidden, person.email, person.password)
    assert genuine.status_code == 303


@pytest.mark.parametrize(
    "query",
    [
        [],
        [("external_auth_id", "")],
        [("external_auth_id", "short")],
        [("external_auth_id", "x" * 201)],
        [("external_auth_id", "ext auth 01J3X4Y5Z6")],
        [("external_auth_id", "ext_auth_01/../../x")],
        [("external_auth_id", "ext_auth_01J3X4Y5Z6"), ("external_auth_id", "ext_auth_01J3X4Y5Z7")],
    ],
)
async def test_a_missing_or_malformed_external_auth_id_is_a_clear_400(
    world: World, query: list[tuple[str, str]]
) -> None:
    async with browser(world) as client:
        response = await client.get(LOGIN, params=tuple(query))
    page = assert_page(response, 400)
    assert "This sign-in link is broken" in page and "external_auth_id" in page
    assert 'name="password"' not in page


async def test_what_the_page_echoes_is_escaped(world: World) -> None:
    evil = '"><script>alert(1)</script>'
    async with browser(world) as client:
        echoed = await client.get(LOGIN, params={"external_auth_id": evil})
        page = assert_page(echoed, 400)
        assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
        hidden = await open_form(client, new_external_auth_id())
        failed = await submit(client, hidden, f"{evil}@pantry.example", WRONG)
    page = assert_page(failed, 400)
    assert 'value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;@pantry.example"' in page


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"email": "a@b.example"}', "application/json"),
        (b"email=a%40b.example&password=xxxxxxxxxx", "application/x-www-form-urlencoded"),
        (
            b"email=a&email=b&password=p&csrf=c&external_auth_id=ext_auth_01J3X4Y5Z6",
            "application/x-www-form-urlencoded",
        ),
        (
            b"email=a&password=p&csrf=c&external_auth_id=ext_auth_01J3X4Y5Z6&admin=1",
            "application/x-www-form-urlencoded",
        ),
        (b"email=" + b"a" * 10_000, "application/x-www-form-urlencoded"),
        (b"\xff\xfe=\xff", "application/x-www-form-urlencoded"),
    ],
)
async def test_a_post_that_is_not_the_form_is_a_clear_400(
    world: World, content: bytes, content_type: str
) -> None:
    async with browser(world) as client:
        response = await client.post(LOGIN, content=content, headers={"content-type": content_type})
    assert "could not read that sign-in form" in assert_page(response, 400)


async def test_the_form_and_the_link_must_name_the_same_sign_in(world: World) -> None:
    person = await make_person(world)
    async with browser(world) as client:
        hidden = await open_form(client, new_external_auth_id())
        response = await client.post(
            LOGIN,
            params={"external_auth_id": new_external_auth_id()},
            data={**hidden, "email": person.email, "password": person.password},
        )
    assert "name different sign-ins" in assert_page(response, 400)


async def test_cookies_are_secure_when_the_page_is_served_over_https(
    world: World, workos: FakeWorkOS
) -> None:
    person = await make_person(world)
    async with browser(world, https=True) as client:
        page = await client.get(LOGIN, params={"external_auth_id": new_external_auth_id()})
        csrf_cookie = cookie_header(page, "pantry_csrf")
        assert "Secure" in csrf_cookie
        # The client speaks plain http to the test server, so it would not send a Secure
        # cookie by itself: hand it over as a browser on https would.
        nonce = csrf_cookie.split(";")[0].split("=", 1)[1]
        client.cookies.clear()
        response = await client.post(
            LOGIN,
            data={**hidden_fields(page.text), "email": person.email, "password": person.password},
            headers={"Cookie": f"pantry_csrf={nonce}"},
        )
    assert response.status_code == 303
    assert "Secure" in cookie_header(response, "pantry_session")


async def test_a_dated_password_hash_is_replaced_at_sign_in(
    world: World, workos: FakeWorkOS
) -> None:
    person = await make_person(world)
    db = Database(world.database_url)
    try:
        weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        async with db.write() as conn:
            await accounts.replace_hash(conn, person.user_id, weak.hash(person.password))
        async with browser(world) as client:
            assert (await sign_in(client, person)).status_code == 303
        async with db.read() as conn:
            verified = await accounts.verify(conn, person.email, person.password)
    finally:
        await db.close()
    assert verified is not None and verified.new_hash is None  # already current


async def test_without_a_workos_key_the_page_says_sign_in_is_not_set_up(api: Api) -> None:
    async with httpx2.AsyncClient(base_url=api.base_url) as client:
        shown = await client.get(LOGIN, params={"external_auth_id": new_external_auth_id()})
        posted = await client.post(LOGIN, data={"email": "a@b.example"})
        document = (await client.get("/openapi.json")).json()
    for response in (shown, posted):
        assert "PANTRY_API_WORKOS_API_KEY" in assert_page(response, 503)
    assert LOGIN not in document["paths"]
