"""The official SDK client's OAuth side, set up once for the tests that sign in with it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx2
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from pydantic import AnyUrl


@dataclass
class MemoryTokenStorage:
    """The SDK's TokenStorage, kept in memory for one test."""

    tokens: OAuthToken | None = None
    client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


@dataclass
class OAuthHttp:
    """An HTTP client that signs in as a public MCP client would, and what it exchanged
    (method, URL without query, status), for a failure message."""

    http: httpx2.AsyncClient
    storage: MemoryTokenStorage
    exchanges: list[tuple[str, str, int]] = field(default_factory=list)


def oauth_http(
    server_url: str,
    *,
    client_name: str,
    redirect_uri: str,
    redirect_handler: Callable[[str], Awaitable[None]],
    callback_handler: Callable[[], Awaitable[AuthorizationCodeResult]],
) -> OAuthHttp:
    storage = MemoryTokenStorage()
    oauth = OAuthClientProvider(
        server_url=server_url,
        client_metadata=OAuthClientMetadata(
            client_name=client_name,
            redirect_uris=[AnyUrl(redirect_uri)],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    exchanges: list[tuple[str, str, int]] = []

    async def record(response: httpx2.Response) -> None:
        request = response.request
        exchanges.append((request.method, str(request.url).split("?")[0], response.status_code))

    http = httpx2.AsyncClient(auth=oauth, timeout=30, event_hooks={"response": [record]})
    return OAuthHttp(http, storage, exchanges)
