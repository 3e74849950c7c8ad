"""Discovery routes: our protected-resource metadata (RFC 9728) and a cached proxy of the
issuer's authorization-server metadata (RFC 8414), served stale if the issuer blips."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import httpx2
import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pantry_mcp.config import AuthSettings
from pantry_mcp.scopes import ALL_SCOPES

log = structlog.get_logger("pantry_mcp.auth.discovery")
FRESH_SECONDS = 300.0
TIMEOUT_SECONDS = 3.0


def resource_metadata_url(resource_url: str) -> str:
    """RFC 9728 section 3.1: /.well-known/oauth-protected-resource, then the resource path."""
    parts = urlsplit(resource_url)
    return f"{parts.scheme}://{parts.netloc}/.well-known/oauth-protected-resource{parts.path}"


class MetadataProxy:
    """One upstream document, cached for FRESH_SECONDS; the last good copy outlives errors."""

    def __init__(self, http: httpx2.AsyncClient, url: str) -> None:
        self.http = http
        self.url = url
        self.document: dict[str, Any] | None = None
        self.fetched_at = float("-inf")

    async def get(self) -> dict[str, Any] | None:
        if self.document is not None and time.monotonic() - self.fetched_at < FRESH_SECONDS:
            return self.document
        try:
            response = await self.http.get(self.url, timeout=TIMEOUT_SECONDS)
            response.raise_for_status()
            document = response.json()
            if not isinstance(document, dict):
                raise ValueError("metadata is not a JSON object")
        except (httpx2.HTTPError, ValueError) as error:
            log.warning(
                "issuer_metadata_unavailable",
                url=self.url,
                error_type=type(error).__name__,
                serving_stale=self.document is not None,
            )
            return self.document
        self.document, self.fetched_at = document, time.monotonic()
        return document


def discovery_routes(settings: AuthSettings, http: httpx2.AsyncClient) -> list[Route]:
    protected = {
        "resource": settings.resource_url,
        "authorization_servers": [settings.issuer],
        "scopes_supported": list(ALL_SCOPES),
        "bearer_methods_supported": ["header"],
        "resource_name": "Pantry",
    }
    oauth = MetadataProxy(http, settings.metadata_url)
    openid = MetadataProxy(http, f"{settings.issuer}/.well-known/openid-configuration")

    async def protected_resource(_: Request) -> Response:
        return JSONResponse(protected, headers={"Cache-Control": "public, max-age=3600"})

    def proxied(proxy: MetadataProxy) -> Any:
        async def serve(_: Request) -> Response:
            document = await proxy.get()
            if document is None:
                return JSONResponse(
                    {
                        "error": "temporarily_unavailable",
                        "error_description": "The issuer's metadata cannot be fetched.",
                    },
                    status_code=503,
                    headers={"Retry-After": "5"},
                )
            return JSONResponse(document, headers={"Cache-Control": "public, max-age=300"})

        return serve

    return [
        Route("/.well-known/oauth-protected-resource", protected_resource, methods=["GET"]),
        Route(
            urlsplit(resource_metadata_url(settings.resource_url)).path,
            protected_resource,
            methods=["GET"],
        ),
        Route("/.well-known/oauth-authorization-server", proxied(oauth), methods=["GET"]),
        Route("/.well-known/openid-configuration", proxied(openid), methods=["GET"]),
    ]
