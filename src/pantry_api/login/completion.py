"""AuthKit's completion API: tell WorkOS who signed in, get back where the browser goes.

``POST {api_base}/authkit/oauth2/complete`` with the WorkOS API key as a bearer token and
``{"external_auth_id", "user": {"id", "email", "first_name"?, "last_name"?}}``; the answer
is ``{"redirect_uri": "https://<authkit domain>/..."}``. AuthKit records ``user.id`` (the
Pantry user id) as the AuthKit user's ``external_id``.

Every way this can go wrong ends as :class:`CompletionFailed` with a ``kind`` the page can
explain; the API key is never part of a message or a log line.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

import httpx2
import structlog

from pantry_api.config import LOOPBACK_HOSTS
from pantry_api.store.accounts import Account

log = structlog.get_logger("pantry_api.login")
COMPLETE_PATH = "/authkit/oauth2/complete"
MAX_REDIRECT_LENGTH = 8192

Kind = Literal["timeout", "unreachable", "refused", "bad_answer"]


class CompletionFailed(Exception):
    def __init__(self, kind: Kind) -> None:
        super().__init__(kind)
        self.kind = kind

    @property
    def status(self) -> int:
        return 504 if self.kind == "timeout" else 502


def safe_redirect(value: object) -> str | None:
    """The URI when it is an absolute https URL (or http on a loopback host), else None."""
    if not isinstance(value, str) or len(value) > MAX_REDIRECT_LENGTH:
        return None
    if not value.isprintable() or any(ch.isspace() for ch in value):
        return None
    try:
        parts = urlsplit(value)
        hostname = parts.hostname
    except ValueError:
        return None
    if not hostname or parts.username is not None or parts.password is not None:
        return None
    if parts.scheme == "https" or (parts.scheme == "http" and hostname in LOOPBACK_HOSTS):
        return value
    return None


class Completion:
    def __init__(
        self,
        *,
        api_base: str,
        api_key: str,
        timeout: float,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = httpx2.AsyncClient(
            base_url=api_base,
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            timeout=timeout,
            follow_redirects=False,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def complete(self, external_auth_id: str, account: Account) -> str:
        """The ``redirect_uri`` to send the browser to; raises :class:`CompletionFailed`."""
        user = {"id": account.user_id, "email": account.email}
        if account.first_name:
            user["first_name"] = account.first_name
        if account.last_name:
            user["last_name"] = account.last_name
        try:
            response = await self._client.post(
                COMPLETE_PATH, json={"external_auth_id": external_auth_id, "user": user}
            )
        except httpx2.TimeoutException:
            log.warning("authkit_completion_failed", kind="timeout")
            raise CompletionFailed("timeout") from None
        except httpx2.HTTPError as error:
            log.warning("authkit_completion_failed", kind="unreachable", error=type(error).__name__)
            raise CompletionFailed("unreachable") from None
        if not 200 <= response.status_code < 300:
            log.warning(
                "authkit_completion_failed",
                kind="refused",
                status=response.status_code,
                code=_error_code(response),
            )
            raise CompletionFailed("refused")
        try:
            body = response.json()
        except ValueError:
            body = None
        redirect = safe_redirect(body.get("redirect_uri") if isinstance(body, dict) else None)
        if redirect is None:
            log.warning("authkit_completion_failed", kind="bad_answer", status=response.status_code)
            raise CompletionFailed("bad_answer")
        return redirect


def _error_code(response: httpx2.Response) -> str | None:
    """WorkOS's short error code, if the body has one (never the whole body: it may echo)."""
    try:
        body = response.json()
    except ValueError:
        return None
    code = (body.get("code") or body.get("error")) if isinstance(body, dict) else None
    return code[:64] if isinstance(code, str) and code.isprintable() else None
