"""``GET/POST /auth/login?external_auth_id=...``: the Login URI of AuthKit Standalone Connect.

GET shows the form; to a person with a valid session cookie it also offers "Continue as
<email>", one click with no password. A GET never completes a sign-in by itself: a link
carrying somebody else's ``external_auth_id`` (an attacker's own authorization request)
would otherwise sign a person in to the attacker's client just by being opened. POST
checks the CSRF token, then either the session ("continue") or the failure limits and the
password, then completes: AuthKit's completion API names the ``redirect_uri`` the browser
is sent to.

Storage: a POST reads the limits and checks the password in a read-only transaction
(which blocks no writer: WAL on SQLite, MVCC on PostgreSQL), then records the outcome in
one short write, so the slow argon2 check never holds SQLite's write lock. The completion
call comes after that commit: no transaction waits on the network.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

import structlog
from starlette.requests import Request
from starlette.responses import Response

from pantry_api.config import Settings, is_loopback_url
from pantry_api.login.completion import Completion, CompletionFailed
from pantry_api.login.cookies import (
    CSRF_COOKIE,
    CSRF_MAX_AGE,
    SESSION_COOKIE,
    SESSION_MAX_AGE,
    Tokens,
    clear_cookie,
    is_nonce,
    new_nonce,
    set_cookie,
)
from pantry_api.login.limits import Limits
from pantry_api.login.pages import NO_MATCH, Pages
from pantry_api.store import accounts
from pantry_api.store.accounts import Account
from pantry_api.store.common import now
from pantry_api.store.db import Database

log = structlog.get_logger("pantry_api.login")
PATH = "/auth/login"
EXTERNAL_AUTH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{7,199}$")
FORM_FIELDS = frozenset({"email", "password", "csrf", "external_auth_id"})
CONTINUE_FIELDS = frozenset({"continue", "csrf", "external_auth_id"})
MAX_FORM_BYTES = 8 * 1024
START_AGAIN = "Go back to the application you were signing in to and start again."
COMPLETION_PROBLEMS = {
    "timeout": "The sign-in service did not answer in time. Please try again.",
    "unreachable": "Pantry could not reach the sign-in service. Please try again.",
    "refused": "The sign-in service did not accept this sign-in. Please try again; if it "
    "keeps failing, go back to the application you were signing in to and start again.",
    "bad_answer": "The sign-in service gave an answer Pantry did not understand. Please try again.",
}


class BadForm(Exception):
    """The POST body is not the sign-in form (wrong type, too big, fields missing or extra)."""


@dataclass(frozen=True)
class Place:
    """Where this request's page lives: the form's action, the cookies' path and flags."""

    action: str
    cookie_path: str
    secure: bool

    @classmethod
    def of(cls, request: Request) -> Place:
        root = request.scope.get("root_path", "").rstrip("/")
        return cls(f"{root}{PATH}", f"{root}/auth", request.url.scheme == "https")

    def link(self, external_auth_id: str) -> str:
        return f"{self.action}?{urlencode({'external_auth_id': external_auth_id})}"


class LoginPage:
    def __init__(self, settings: Settings, db: Database, *, session_secret: str) -> None:
        self.db = db
        self.pages = Pages(loopback_redirects=is_loopback_url(settings.workos_api_base))
        self.tokens = Tokens(session_secret)
        self.limits = Limits(session_secret)
        self.completion = (
            Completion(
                api_base=settings.workos_api_base,
                api_key=settings.workos_api_key,
                timeout=settings.workos_timeout,
            )
            if settings.workos_api_key
            else None
        )

    async def aclose(self) -> None:
        if self.completion is not None:
            await self.completion.aclose()

    async def endpoint(self, request: Request) -> Response:
        try:
            return await self._handle(request)
        except Exception as error:  # a page for the person, never a traceback
            log.error("login_page_failed", error_type=type(error).__name__)
            return self.pages.message(
                title="Something went wrong",
                text=f"Pantry could not finish signing you in. {START_AGAIN}",
                status=500,
            )

    async def _handle(self, request: Request) -> Response:
        completion = self.completion
        if completion is None:
            return self.pages.message(
                title="Sign-in is not set up",
                text="This Pantry server is not configured to sign people in yet: its "
                "operator has to set PANTRY_API_WORKOS_API_KEY.",
                status=503,
            )
        place = Place.of(request)
        if request.method == "POST":
            return await self._post(request, place, completion)
        ids = request.query_params.getlist("external_auth_id")
        problem = _id_problem(ids)
        if problem is not None:
            return self.pages.message(title="This sign-in link is broken", text=problem, status=400)
        external_auth_id = ids[0]
        account = await self._session_account(request)
        return self._form(
            request,
            place,
            external_auth_id,
            signed_in_as=account.email if account is not None else None,
        )

    async def _post(self, request: Request, place: Place, completion: Completion) -> Response:
        try:
            form = await _read_form(request)
        except BadForm:
            return self.pages.message(
                title="The form could not be read",
                text=f"Pantry could not read that sign-in form. {START_AGAIN}",
                status=400,
            )
        external_auth_id = form["external_auth_id"]
        in_query = request.query_params.getlist("external_auth_id")
        problem = _id_problem([external_auth_id])
        if problem is None and in_query and in_query != [external_auth_id]:
            problem = "The sign-in link and the form name different sign-ins."
        if problem is not None:
            return self.pages.message(title="This sign-in link is broken", text=problem, status=400)
        nonce = request.cookies.get(CSRF_COOKIE)
        if not self.tokens.csrf_ok(form["csrf"], nonce, external_auth_id, now=time.time()):
            log.info("login_refused", reason="csrf")
            return self.pages.message(
                title="This form has expired",
                text="This sign-in form has expired or was already used, or your browser "
                "blocks cookies. Start again; if that does not work, go back to the "
                "application you were signing in to and start from there.",
                status=403,
                retry_link=place.link(external_auth_id),
            )
        if "continue" in form:  # "Continue as": the session stands in for the password
            account = await self._session_account(request)
            if account is None:
                return self._form(
                    request,
                    place,
                    external_auth_id,
                    problem="Your sign-in has ended. Please sign in again.",
                    status=400,
                )
            return await self._complete(
                request, place, completion, external_auth_id, account, new_session=False
            )
        signed_in = await self._check_password(request, place, form)
        if isinstance(signed_in, Response):
            return signed_in
        return await self._complete(
            request, place, completion, external_auth_id, signed_in, new_session=True
        )

    async def _check_password(
        self, request: Request, place: Place, form: dict[str, str]
    ) -> Account | Response:
        """The account, or the page that says why not (limited, or no match)."""
        address = request.client.host if request.client else "unknown"
        attempt = self.limits.attempt(form["email"], address)
        stamp = now()
        async with self.db.read() as conn:
            wait = await self.limits.retry_after(conn, attempt, now=stamp)
            if wait is not None:
                log.info("login_refused", reason="too_many_failures", retry_after=wait)
                return self._too_many(wait)
            verified = await accounts.verify(conn, form["email"], form["password"])
        async with self.db.write() as conn:
            if verified is None:
                await self.limits.failed(conn, attempt, now=stamp)
            else:
                await self.limits.succeeded(conn, attempt)
                if verified.new_hash is not None:
                    await accounts.replace_hash(conn, verified.account.user_id, verified.new_hash)
        if verified is None:
            log.info("login_refused", reason="no_match")
            return self._form(
                request,
                place,
                form["external_auth_id"],
                email=form["email"],
                problem=NO_MATCH,
                status=400,
            )
        return verified.account

    def _too_many(self, wait: int) -> Response:
        minutes = max(1, round(wait / 60))
        return self.pages.message(
            title="Too many attempts",
            text=f"Too many failed sign-in attempts. Try again in about {minutes} "
            f"minute{'s' if minutes != 1 else ''}.",
            status=429,
            headers={"Retry-After": str(wait)},
        )

    async def _complete(
        self,
        request: Request,
        place: Place,
        completion: Completion,
        external_auth_id: str,
        account: Account,
        *,
        new_session: bool,
    ) -> Response:
        try:
            redirect_uri = await completion.complete(external_auth_id, account)
        except CompletionFailed as failure:
            # The form stays usable, and the session lets a retry skip the password.
            response = self._form(
                request,
                place,
                external_auth_id,
                email=account.email,
                problem=COMPLETION_PROBLEMS[failure.kind],
                status=failure.status,
                signed_in_as=account.email,
            )
        else:
            log.info(
                "login_completed", user=account.user_id, via="form" if new_session else "session"
            )
            response = self.pages.redirect(redirect_uri, status=303)  # after a POST: a GET
            # The form's nonce is spent: replaying that form now fails its CSRF check.
            clear_cookie(response, CSRF_COOKIE, path=place.cookie_path, secure=place.secure)
        if new_session:
            token = self.tokens.session(account, now=time.time())
            set_cookie(
                response,
                SESSION_COOKIE,
                token,
                max_age=SESSION_MAX_AGE,
                path=place.cookie_path,
                secure=place.secure,
            )
        return response

    async def _session_account(self, request: Request) -> Account | None:
        claim = self.tokens.session_claim(request.cookies.get(SESSION_COOKIE), now=time.time())
        if claim is None:
            return None
        async with self.db.read() as conn:
            account = await accounts.get(conn, claim.user_id)
        return account if account is not None and claim.matches(account) else None

    def _form(
        self,
        request: Request,
        place: Place,
        external_auth_id: str,
        *,
        email: str = "",
        problem: str | None = None,
        status: int = 200,
        signed_in_as: str | None = None,
    ) -> Response:
        nonce = request.cookies.get(CSRF_COOKIE)
        if nonce is None or not is_nonce(nonce):
            nonce = new_nonce()
        response = self.pages.form(
            action=place.action,
            external_auth_id=external_auth_id,
            csrf=self.tokens.csrf(nonce, external_auth_id, now=time.time()),
            email=email,
            problem=problem,
            status=status,
            signed_in_as=signed_in_as,
        )
        set_cookie(
            response,
            CSRF_COOKIE,
            nonce,
            max_age=CSRF_MAX_AGE,
            path=place.cookie_path,
            secure=place.secure,
        )
        return response


def _id_problem(values: list[str]) -> str | None:
    """Why the external_auth_id values are not one valid id, or None when they are."""
    if not values:
        return f"This sign-in link has no external_auth_id. {START_AGAIN}"
    if len(values) > 1:
        return f"This sign-in link names more than one external_auth_id. {START_AGAIN}"
    if not EXTERNAL_AUTH_ID.match(values[0]):
        shown = values[0] if len(values[0]) <= 80 else values[0][:80] + "…"
        return f"“{shown}” is not a valid external_auth_id. {START_AGAIN}"
    return None


async def _read_form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise BadForm
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise BadForm
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=True, max_num_fields=8
        )
    except (UnicodeDecodeError, ValueError):
        raise BadForm from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise BadForm
        form[name] = value
    if form.keys() not in (FORM_FIELDS, CONTINUE_FIELDS):  # the sign-in or "Continue as" form
        raise BadForm
    return form
