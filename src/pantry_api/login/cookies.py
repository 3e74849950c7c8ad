"""The two cookies of the sign-in page and the CSRF token tied to one of them.

- ``pantry_csrf``: a random nonce. The form's hidden ``csrf`` field is a signed token naming
  a digest of that nonce and the ``external_auth_id`` it was issued for, so a form is only
  accepted from the browser it was served to, for the sign-in it was served for, for an
  hour. A successful sign-in deletes the nonce: a replayed form is then refused.
- ``pantry_session``: a signed (user id, password stamp), so a person who signed in in the
  last 12 hours skips the form. A new password changes the stamp and ends the session.

Both are HttpOnly, SameSite=Lax (AuthKit's redirect here is a top-level GET, which Lax
lets through), scoped to the sign-in path, and Secure when the page is served over https.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from starlette.responses import Response

from pantry_api.login.signing import Signer
from pantry_api.store.accounts import Account

CSRF_COOKIE = "pantry_csrf"
SESSION_COOKIE = "pantry_session"
CSRF_MAX_AGE = 60 * 60
SESSION_MAX_AGE = 12 * 60 * 60
_NONCE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def new_nonce() -> str:
    return secrets.token_urlsafe(32)


def is_nonce(value: str | None) -> bool:
    return value is not None and _NONCE.match(value) is not None


def _nonce_digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class SessionClaim:
    user_id: str
    password_stamp: str

    def matches(self, account: Account) -> bool:
        return account.user_id == self.user_id and hmac.compare_digest(
            account.password_stamp, self.password_stamp
        )


class Tokens:
    def __init__(self, secret: str) -> None:
        self._csrf = Signer(secret, "csrf")
        self._session = Signer(secret, "session")

    def csrf(self, nonce: str, external_auth_id: str, *, now: float) -> str:
        return self._csrf.sign([_nonce_digest(nonce), external_auth_id], now=now)

    def csrf_ok(self, token: str, nonce: str | None, external_auth_id: str, *, now: float) -> bool:
        if nonce is None or not is_nonce(nonce):
            return False
        fields = self._csrf.unsign(token, max_age=CSRF_MAX_AGE, now=now)
        return fields is not None and fields == [_nonce_digest(nonce), external_auth_id]

    def session(self, account: Account, *, now: float) -> str:
        return self._session.sign([account.user_id, account.password_stamp], now=now)

    def session_claim(self, token: str | None, *, now: float) -> SessionClaim | None:
        if not token:
            return None
        fields = self._session.unsign(token, max_age=SESSION_MAX_AGE, now=now)
        if fields is None or len(fields) != 2:
            return None
        return SessionClaim(*fields)


def set_cookie(
    response: Response, name: str, value: str, *, max_age: int, path: str, secure: bool
) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path=path, secure=secure, httponly=True, samesite="lax"
    )


def clear_cookie(response: Response, name: str, *, path: str, secure: bool) -> None:
    response.delete_cookie(name, path=path, secure=secure, httponly=True, samesite="lax")
