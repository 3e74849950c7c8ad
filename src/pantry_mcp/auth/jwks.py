"""The issuer's signing keys: fetched over HTTP, cached, refreshed when they grow old and
when a token names a key we have not seen (key rotation). Fetches caused by unknown key
ids, and failed fetches, happen at most once per cooldown: a stream of forged key ids, or
an issuer that is down, must not make us hammer it."""

from __future__ import annotations

import time
from typing import Any

import anyio
import httpx2
import structlog
from jwt import PyJWK, PyJWKSet
from jwt.exceptions import PyJWKError, PyJWKSetError

log = structlog.get_logger("pantry_mcp.auth.jwks")


class KeyNotFound(Exception):
    """No key for this token's key id, even after a refresh."""


class JwksCache:
    def __init__(
        self,
        http: httpx2.AsyncClient,
        *,
        metadata_url: str,
        jwks_url: str | None,
        cooldown: float = 30.0,
        max_age: float = 3600.0,
    ) -> None:
        self._http = http
        self._metadata_url = metadata_url
        self._jwks_url = jwks_url
        self._cooldown = cooldown
        self._max_age = max_age
        self._keys: dict[str | None, PyJWK] = {}
        self._fetched_at = float("-inf")
        self._limited_at = float("-inf")
        self._lock = anyio.Lock()

    @property
    def loaded(self) -> bool:
        return bool(self._keys)

    def current(self, kid: str | None) -> PyJWK | None:
        """The key held now for ``kid``, without fetching (for checking a cached verdict)."""
        key = self._keys.get(kid)
        if key is None and kid is None and len(self._keys) == 1:
            key = next(iter(self._keys.values()))
        return key

    async def key_for(self, kid: str | None) -> PyJWK:
        unknown = self.current(kid) is None
        if unknown or time.monotonic() - self._fetched_at > self._max_age:
            await self._refresh(limited=unknown)
        key = self.current(kid)
        if key is None:
            raise KeyNotFound(kid)
        return key

    async def refresh(self) -> None:
        """Fetch the key set now (start-up, readiness), within the failure cooldown."""
        await self._refresh(limited=False)

    async def _refresh(self, *, limited: bool) -> None:
        async with self._lock:
            now = time.monotonic()
            if now - self._limited_at < self._cooldown:
                return
            if limited:
                self._limited_at = now
            try:
                document = await self._get_json(await self._jwks_location())
                keys = PyJWKSet.from_dict(document).keys
            except (httpx2.HTTPError, ValueError, PyJWKError, PyJWKSetError, KeyError) as error:
                self._limited_at = now
                log.warning(
                    "jwks_fetch_failed", error_type=type(error).__name__, kept=len(self._keys)
                )
                return
            self._keys = {key.key_id: key for key in keys}
            self._fetched_at = now
            log.info("jwks_loaded", keys=len(self._keys))

    async def _jwks_location(self) -> str:
        if self._jwks_url is None:
            metadata = await self._get_json(self._metadata_url)
            self._jwks_url = str(metadata["jwks_uri"])
        return self._jwks_url

    async def _get_json(self, url: str) -> Any:
        response = await self._http.get(url, timeout=5.0)
        response.raise_for_status()
        return response.json()
