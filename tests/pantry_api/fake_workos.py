"""A stand-in for WorkOS's AuthKit completion API, served over real HTTP on 127.0.0.1.

It checks what Pantry sends (the bearer key, the JSON body) and answers as it is told:
``ok`` (a redirect_uri), ``error`` (500), ``unauthorized`` (401, as for a wrong key),
``garbage`` (200 that is not JSON), ``bad_redirect`` (200 naming a javascript: URL), or
``slow`` (no answer until Pantry gives up and hangs up).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

API_KEY = "sk_test_pantry_login_tests_0123456789"
REDIRECT_BASE = "https://auth.pantry.example/oauth2/continue"

Mode = Literal["ok", "error", "unauthorized", "garbage", "bad_redirect", "slow"]


@dataclass
class FakeWorkOS:
    mode: Mode = "ok"
    calls: list[dict[str, Any]] = field(default_factory=list)

    def reset(self) -> None:
        self.mode = "ok"
        self.calls.clear()

    def app(self) -> Starlette:
        return Starlette(
            routes=[Route("/authkit/oauth2/complete", self._complete, methods=["POST"])]
        )

    async def _complete(self, request: Request) -> Response:
        raw = await request.body()
        authorization = request.headers.get("authorization", "")
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self.calls.append(
            {
                "authorization": authorization,
                "content_type": request.headers.get("content-type", ""),
                "body": body,
            }
        )
        if self.mode == "slow":
            # Wait for Pantry to hang up (its timeout), bounded in case it never does.
            with anyio.move_on_after(30):
                while (await request.receive())["type"] != "http.disconnect":
                    pass
            return Response(status_code=504)
        if authorization != f"Bearer {API_KEY}" or self.mode == "unauthorized":
            return JSONResponse({"code": "unauthorized", "message": "bad key"}, status_code=401)
        if not isinstance(body, dict) or not isinstance(body.get("external_auth_id"), str):
            return JSONResponse({"code": "invalid_request"}, status_code=422)
        if self.mode == "error":
            return JSONResponse({"code": "server_error"}, status_code=500)
        if self.mode == "garbage":
            return PlainTextResponse("<html>not json</html>")
        if self.mode == "bad_redirect":
            return JSONResponse({"redirect_uri": "javascript:alert(1)"})
        return JSONResponse({"redirect_uri": redirect_for(body["external_auth_id"])})


def redirect_for(external_auth_id: str) -> str:
    return f"{REDIRECT_BASE}?state={external_auth_id}"
