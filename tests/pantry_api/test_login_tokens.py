"""The signed tokens behind the sign-in page's CSRF field and session cookie."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pantry_api.login.completion import safe_redirect
from pantry_api.login.cookies import CSRF_MAX_AGE, SESSION_MAX_AGE, Tokens, new_nonce
from pantry_api.login.signing import Signer
from pantry_api.store.accounts import Account

SECRET = "a-session-secret-for-unit-tests-0123456789"
NOW = 1_800_000_000.0
ACCOUNT = Account("cook-1", "cook@pantry.example", None, None, password_stamp="stamp-1")


def test_a_token_round_trips_until_it_expires() -> None:
    signer = Signer(SECRET, "test")
    token = signer.sign(["a", "b|c", "ünï"], now=NOW)
    assert signer.unsign(token, max_age=60, now=NOW + 60) == ["a", "b|c", "ünï"]
    assert signer.unsign(token, max_age=60, now=NOW + 61) is None
    assert signer.unsign(token, max_age=60, now=NOW - 3600) is None  # from the future


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),
        lambda token: "A" + token[1:],
        lambda token: token.replace(".", ""),
        lambda token: token + ".x",
        lambda token: token.split(".")[0] + ".",
        lambda token: "é" + token,
        lambda token: "x" * 5000,
        lambda token: "",
    ],
)
def test_a_tampered_token_is_refused(mangle: Callable[[str], str]) -> None:
    signer = Signer(SECRET, "test")
    token = signer.sign(["payload"], now=NOW)
    assert signer.unsign(mangle(token), max_age=60, now=NOW) is None


def test_a_token_is_good_only_for_its_purpose_and_secret() -> None:
    token = Signer(SECRET, "csrf").sign(["x"], now=NOW)
    assert Signer(SECRET, "session").unsign(token, max_age=60, now=NOW) is None
    assert Signer(SECRET + "!", "csrf").unsign(token, max_age=60, now=NOW) is None


def test_a_csrf_token_is_bound_to_its_nonce_and_sign_in_for_an_hour() -> None:
    tokens, nonce = Tokens(SECRET), new_nonce()
    token = tokens.csrf(nonce, "ext_auth_01AAAA", now=NOW)
    assert tokens.csrf_ok(token, nonce, "ext_auth_01AAAA", now=NOW + CSRF_MAX_AGE)
    assert not tokens.csrf_ok(token, nonce, "ext_auth_01AAAA", now=NOW + CSRF_MAX_AGE + 1)
    assert not tokens.csrf_ok(token, nonce, "ext_auth_01BBBB", now=NOW)
    assert not tokens.csrf_ok(token, new_nonce(), "ext_auth_01AAAA", now=NOW)
    assert not tokens.csrf_ok(token, None, "ext_auth_01AAAA", now=NOW)
    assert not tokens.csrf_ok(token, "not a nonce", "ext_auth_01AAAA", now=NOW)


def test_a_session_names_the_user_and_password_stamp_for_twelve_hours() -> None:
    tokens = Tokens(SECRET)
    token = tokens.session(ACCOUNT, now=NOW)
    claim = tokens.session_claim(token, now=NOW + SESSION_MAX_AGE)
    assert claim is not None and claim.matches(ACCOUNT)
    renewed = Account("cook-1", "cook@pantry.example", None, None, password_stamp="stamp-2")
    assert not claim.matches(renewed)
    assert tokens.session_claim(token, now=NOW + SESSION_MAX_AGE + 1) is None
    assert tokens.session_claim(None, now=NOW) is None
    csrf_token = tokens.csrf(new_nonce(), "ext_auth_01AAAA", now=NOW)
    assert tokens.session_claim(csrf_token, now=NOW) is None


@pytest.mark.parametrize(
    ("uri", "allowed"),
    [
        ("https://auth.pantry.example/oauth2/continue?state=1", True),
        ("http://127.0.0.1:8123/continue", True),
        ("http://localhost/continue", True),
        ("http://auth.pantry.example/continue", False),
        ("javascript:alert(1)", False),
        ("//auth.pantry.example/continue", False),
        ("/relative", False),
        ("https://user:pass@auth.pantry.example/", False),
        ("https://auth.pantry.example/a b", False),
        ("https://auth.pantry.example/\r\nSet-Cookie: x=1", False),
        ("https://[::1/", False),
        (42, False),
        (None, False),
    ],
)
def test_only_absolute_https_redirects_are_followed(uri: object, allowed: bool) -> None:
    assert safe_redirect(uri) == (uri if allowed else None)
