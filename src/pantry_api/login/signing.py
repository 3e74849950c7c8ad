"""Signed, expiring tokens (HMAC-SHA256) for the sign-in page's cookies and form fields.

A token is ``<base64url JSON [issued_at, field, ...]>.<base64url MAC>``. Each purpose
(CSRF, session, limit keys) gets its own key derived from the one session secret, so a
token made for one purpose is refused by every other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Sequence

MAX_TOKEN_LENGTH = 2048
CLOCK_SKEW = 60  # seconds a token may seem to come from the future (replicas' clocks)


def derive_key(secret: str, purpose: str) -> bytes:
    return hmac.new(secret.encode(), f"pantry-api {purpose}".encode(), hashlib.sha256).digest()


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    def __init__(self, secret: str, purpose: str) -> None:
        self._key = derive_key(secret, purpose)

    def _mac(self, body: str) -> str:
        return _encode(hmac.new(self._key, body.encode(), hashlib.sha256).digest())

    def sign(self, fields: Sequence[str], *, now: float) -> str:
        body = _encode(json.dumps([int(now), *fields], separators=(",", ":")).encode())
        return f"{body}.{self._mac(body)}"

    def unsign(self, token: str, *, max_age: float, now: float) -> list[str] | None:
        """The fields of a genuine token younger than ``max_age`` seconds, else None."""
        if len(token) > MAX_TOKEN_LENGTH or not token.isascii() or token.count(".") != 1:
            return None
        body, mac = token.split(".")
        if not hmac.compare_digest(mac.encode(), self._mac(body).encode()):
            return None
        try:
            data = json.loads(_decode(body))
        except (ValueError, binascii.Error):
            return None
        if (
            not isinstance(data, list)
            or not data
            or type(data[0]) is not int
            or not all(isinstance(item, str) for item in data[1:])
        ):
            return None
        if not now - max_age <= data[0] <= now + CLOCK_SKEW:
            return None
        return data[1:]
