"""One SERVER span per HTTP request, continuing the caller's trace (pure ASGI).

Named and shaped by the OpenTelemetry HTTP server conventions, and deliberately thin: the
method, route template, status, scheme, HTTP version and acting user. Never the path, the
query (search terms), headers (the service token) or bodies (sign-in passwords).
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.propagate import extract
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Span, SpanKind, StatusCode, Tracer
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

KNOWN_METHODS = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"}
)
Headers = Iterable[tuple[bytes, bytes]]


class _AsgiHeaders(Getter[Headers]):
    """Lets the propagator read only the headers it asks for (traceparent, ...)."""

    def get(self, carrier: Headers, key: str) -> list[str] | None:
        wanted = key.lower().encode("latin-1")
        values = [value.decode("latin-1") for name, value in carrier if name == wanted]
        return values or None

    def keys(self, carrier: Headers) -> list[str]:
        return [name.decode("latin-1") for name, _ in carrier]


_HEADERS = _AsgiHeaders()


class TracedRequests:
    """The request span, current while the app runs and until its last byte is sent."""

    def __init__(self, app: ASGIApp, tracer: Tracer) -> None:
        self.app = app
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # An unknown method is "_OTHER", never the caller's word: span names stay few.
        method = scope["method"] if scope["method"] in KNOWN_METHODS else "_OTHER"
        with self.tracer.start_as_current_span(
            "HTTP" if method == "_OTHER" else method,
            context=extract(scope["headers"], getter=_HEADERS),
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": method,
                "url.scheme": scope.get("scheme", "http"),
                "network.protocol.version": scope.get("http_version", "1.1"),
            },
            # Exception text and tracebacks may quote request data: only the type is kept.
            record_exception=False,
            set_status_on_exception=False,
        ) as span:

            async def traced_send(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status: int = message["status"]
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:  # a 4xx is the client's error, not the server's
                        span.set_status(StatusCode.ERROR)
                        span.set_attribute("error.type", str(status))
                await send(message)

            try:
                await self.app(scope, receive, traced_send)
            except Exception as error:
                span.set_status(StatusCode.ERROR)
                span.set_attribute("error.type", type(error).__qualname__)
                raise
            finally:
                _after_routing(span, scope, method)


def _after_routing(span: Span, scope: Scope, method: str) -> None:
    """What the router and ServiceAuth wrote into the scope: route template, acting user."""
    route = getattr(scope.get("route"), "path", None)
    if isinstance(route, str):
        span.update_name(f"{'HTTP' if method == '_OTHER' else method} {route}")
        span.set_attribute("http.route", route)
    user = scope.get("state", {}).get("user")
    if isinstance(user, str):
        span.set_attribute("user.id", user)


def traced_starlette(tracer: Tracer) -> type[Starlette]:
    """Starlette with the request span outside its whole stack, ServerErrorMiddleware
    included (Starlette always puts that outermost), so a 500 it renders and logs belongs
    to the request's span and trace."""

    class TracedStarlette(Starlette):
        def build_middleware_stack(self) -> ASGIApp:
            return TracedRequests(super().build_middleware_stack(), tracer)

    return TracedStarlette
