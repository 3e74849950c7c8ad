"""PantryClient: the only place that speaks HTTP to Pantry.

It presents the server's own service credential and names the acting user on every call;
the MCP client's token never goes upstream. Pantry's URLs, status codes and pagination
are known here and nowhere else.

The error tree::

    PantryError                   something went wrong talking to Pantry
    ├── PantryRejected            Pantry understood and said no: a fact the agent can act on
    │   ├── PantryNotFound        404: no such thing (or not this user's)
    │   ├── PantryConflict        409: clashes with the current state
    │   ├── PantryInvalid         400/422: a field is wrong (``fields`` names them)
    │   └── PantryRateLimited     429: too many calls (``retry_after`` seconds)
    └── PantryUnavailable         Pantry could not answer: connect error, timeout, 5xx, garbage
        └── PantryMisconfigured   401/403 on our own credential: only an operator can fix it
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

import httpx2
import pydantic_core
import stamina
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, StatusCode, Tracer

from pantry_mcp.circuit import CircuitBreaker, CircuitOpen, State
from pantry_mcp.config import Settings
from pantry_mcp.http1 import Http1Transport, RawResponse, request_head

JSON = dict[str, Any]
USER_HEADER = "X-Pantry-User"
IDEMPOTENCY_HEADER = "Idempotency-Key"
TIMED_OUT = "Pantry did not answer in time"
UNREACHABLE = "Pantry could not be reached"


class PantryError(Exception):
    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class PantryRejected(PantryError):
    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str = "",
        fields: list[JSON] | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message, status=status)
        self.code = code
        self.fields = fields or []
        self.details = details


class PantryNotFound(PantryRejected):
    pass


class PantryConflict(PantryRejected):
    pass


class PantryInvalid(PantryRejected):
    pass


class PantryRateLimited(PantryRejected):
    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message, status=429, code="rate_limited")
        self.retry_after = retry_after


class PantryUnavailable(PantryError):
    pass


class PantryMisconfigured(PantryUnavailable):
    pass


class UpstreamCall(NamedTuple):
    """One HTTP call to Pantry, as the logs report it (a path template, never ids)."""

    method: str
    path: str
    status: int | None
    duration_ms: float


@dataclass
class CallLog:
    calls: list[UpstreamCall] = field(default_factory=list)
    # Answers to reads made while serving this request, kept once ``share_reads`` has been
    # called: the same read again (the preferences question's check, then the tool's own)
    # is answered from here. Any write forgets them all.
    reads: dict[str, Any] = field(default_factory=dict)
    sharing: bool = False


# The calls made while serving the current MCP request; the registry starts a fresh log
# per tool call and reads it back for the access log.
current_calls: contextvars.ContextVar[CallLog | None] = contextvars.ContextVar(
    "pantry_calls", default=None
)


def share_reads() -> None:
    """From now on in this MCP request, a read made again is answered by the first answer
    (a request that reads the same thing twice says so: keeping every read of every
    request would cost each a key and a copy for nothing)."""
    log = current_calls.get()
    if log is not None:
        log.sharing = True


_GATEWAY_STATUSES = frozenset({502, 503, 504})
_MAX_URL = 65_536  # as httpx2's own limit: a longer URL is refused before it is sent
_JSON_TYPE = (b"Content-Type", b"application/json")
_ATTEMPTS = 3  # for requests that are safe to send again
_MAX_HONOURED_WAIT = 2.0  # a longer Retry-After goes back to the agent instead


class _Retryable(Exception):
    """A failure worth another attempt, after ``wait`` if given, if ``again``: the request
    is safe to send twice, or Pantry said it changed nothing."""

    def __init__(self, failure: PantryError, wait: float | None = None, *, again: bool) -> None:
        super().__init__(failure.message)
        self.failure = failure
        self.wait = wait
        self.again = again


def _backoff(error: Exception) -> bool | float:
    """stamina's hook: retry only _Retryable, honouring the upstream's Retry-After."""
    if not isinstance(error, _Retryable) or not error.again:
        return False
    return error.wait if error.wait is not None else True


class PantryClient:
    def __init__(
        self,
        base_url: str,
        service_token: str,
        *,
        timeout: float = 10.0,
        transport: httpx2.AsyncBaseTransport | None = None,
        breaker: CircuitBreaker | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self._timeout = timeout
        self._tracer = tracer  # None while traces are off: no span is even asked for
        self._breaker = breaker or CircuitBreaker()
        self._base_url = base_url.rstrip("/")
        self._server = _server_attributes(self._base_url)
        self._headers = {"Authorization": f"Bearer {service_token}", "Accept": "application/json"}
        self._timeouts = httpx2.Timeout(timeout, connect=min(timeout, 3.0)).as_dict()
        # Plain-HTTP Pantry (the usual set-up, beside us) over our lean HTTP/1.1 transport, a
        # quarter of httpcore's CPU per call; https goes to httpx2's own. Idle connections
        # are let go before Pantry's uvicorn drops them (5 s), so a call rarely races a close.
        self._transport = transport or Http1Transport(
            limits=httpx2.Limits(max_connections=100, max_keepalive_connections=50),
            keepalive_expiry=4.0,
        )
        self._wire = _Wire.for_base(self._base_url, self._transport, self._headers)
        # for the health check only; tool calls go straight to the pool (see _send)
        self._http = httpx2.AsyncClient(transport=self._transport)

    async def aclose(self) -> None:
        await self._http.aclose()

    # ---- the one place requests are made ----------------------------------------------

    async def _request(
        self,
        method: str,
        template: str,
        user: str,
        *,
        path: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        body: JSON | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        url = template.format(**{k: _segment(v) for k, v in (path or {}).items()})
        log = current_calls.get()
        if log is not None:
            if method != "GET":
                log.reads.clear()
            elif log.sharing:
                read = repr((user, url, sorted((params or {}).items())))
                if read in log.reads:  # a copy: a repeat reader cannot change the first's
                    return copy.deepcopy(log.reads[read])
                log.reads[read] = await self._call(method, url, template, user, params, body, None)
                return log.reads[read]
        return await self._call(method, url, template, user, params, body, idempotency_key)

    async def _call(
        self,
        method: str,
        url: str,
        template: str,
        user: str,
        params: Mapping[str, Any] | None,
        body: JSON | None,
        idempotency_key: str | None,
    ) -> Any:
        headers = {USER_HEADER: user}
        if idempotency_key is not None:
            headers[IDEMPOTENCY_HEADER] = idempotency_key
        # Reads, and writes that carry an idempotency key, are safe to send again.
        safe = method == "GET" or idempotency_key is not None
        try:
            if self._breaker.state is not State.CLOSED:
                await self._breaker.admit(self._timeout)
        except CircuitOpen as open_circuit:
            raise PantryUnavailable(
                f"Pantry is failing; calls resume in {open_circuit.retry_in:.0f} s"
            ) from None
        try:
            try:
                # The first attempt goes without the retry machinery: most calls need no
                # other, and entering a retry context costs as much as our own routing.
                result = await self._once(method, url, template, headers, params, body, safe=safe)
            except _Retryable as first_failure:
                if not first_failure.again:
                    raise
                result = await self._retry(
                    first_failure, method, url, template, headers, params, body, safe=safe
                )
        except _Retryable as exhausted:
            self._settle(exhausted.failure)
            raise exhausted.failure from None
        except PantryError as error:
            self._settle(error)
            raise
        except BaseException:
            self._breaker.released()  # cancelled mid-call: it proved nothing either way
            raise
        self._breaker.succeeded()
        return result

    async def _retry(
        self,
        first_failure: _Retryable,
        method: str,
        url: str,
        template: str,
        headers: dict[str, str],
        params: Mapping[str, Any] | None,
        body: JSON | None,
        *,
        safe: bool,
    ) -> Any:
        """Attempts two and on, by stamina: jittered backoff, Retry-After, an overall cap.
        An unsafe request goes again only after answers that changed nothing."""
        replay: _Retryable | None = first_failure
        async for attempt in stamina.retry_context(
            on=_backoff,
            attempts=_ATTEMPTS,
            timeout=self._timeout * _ATTEMPTS,
            wait_initial=0.05,
            wait_max=1.0,
            wait_jitter=0.05,
        ):
            with attempt:
                if replay is not None:  # stamina counts the first attempt and backs off from it
                    failure, replay = replay, None
                    raise failure
                return await self._once(
                    method, url, template, headers, params, body, safe=safe, resend=attempt.num - 1
                )
        raise AssertionError("unreachable: stamina re-raises the last failure")  # pragma: no cover

    def _settle(self, error: PantryError) -> None:
        """An outage counts against the circuit; any answer from Pantry proves it alive."""
        if isinstance(error, PantryUnavailable):
            self._breaker.failed()
        else:
            self._breaker.succeeded()

    async def _once(
        self,
        method: str,
        url: str,
        template: str,
        headers: dict[str, str],
        params: Mapping[str, Any] | None,
        body: JSON | None,
        *,
        safe: bool,
        resend: int = 0,
    ) -> Any:
        """One attempt; while traces are on, in a client span of its own (a retry is a span
        with ``http.request.resend_count``) whose context Pantry receives."""
        if self._tracer is None:
            return await self._attempt(method, url, template, headers, params, body, safe=safe)
        attributes: dict[str, str | int] = {
            "http.request.method": method,
            "url.template": template,
            **self._server,
        }
        if resend:
            attributes["http.request.resend_count"] = resend
        with self._tracer.start_as_current_span(
            f"{method} {template}",
            kind=SpanKind.CLIENT,
            attributes=attributes,
            record_exception=False,  # exception texts may quote what the user sent
            set_status_on_exception=False,
        ) as span:
            headers = dict(headers)
            propagate.inject(headers)
            try:
                return await self._attempt(
                    method, url, template, headers, params, body, safe=safe, span=span
                )
            except (_Retryable, PantryError) as error:
                failure = error.failure if isinstance(error, _Retryable) else error
                span.set_attribute("error.type", _error_type(failure))
                span.set_status(StatusCode.ERROR)
                raise

    async def _attempt(
        self,
        method: str,
        url: str,
        template: str,
        headers: dict[str, str],
        params: Mapping[str, Any] | None,
        body: JSON | None,
        *,
        safe: bool,
        span: Span | None = None,
    ) -> Any:
        started = time.perf_counter()
        try:
            target = _target(url, params)
        except UnicodeEncodeError:  # a lone surrogate: the edges refuse them, but not every caller
            raise PantryInvalid(
                "The request cannot be put into HTTP for Pantry.", status=400
            ) from None
        if len(target) + len(self._base_url) > _MAX_URL:  # no retry helps: it cannot be sent
            raise PantryInvalid("The request is too large to send to Pantry.", status=414)
        try:
            response = await self._send(method, target, headers, body)
        except httpx2.TimeoutException:
            _record(method, template, None, started)
            raise _Retryable(PantryUnavailable(TIMED_OUT), again=safe) from None
        except httpx2.InvalidURL:
            raise PantryInvalid("The request is too large to send to Pantry.", status=414) from None
        except httpx2.LocalProtocolError:  # a value HTTP cannot carry: sending again won't help
            raise PantryInvalid(
                "The request cannot be put into HTTP for Pantry.", status=400
            ) from None
        except httpx2.TransportError:
            _record(method, template, None, started)
            raise _Retryable(PantryUnavailable(UNREACHABLE), again=safe) from None
        status = response.status
        _record(method, template, status, started)
        if span is not None:
            span.set_attribute("http.response.status_code", status)
        retry_after = _float(response.header(b"retry-after"), default=None)
        if status in _GATEWAY_STATUSES:
            failure = PantryUnavailable(f"Pantry answered {status}", status=status)
            # Pantry's own 503 ("unavailable") promises nothing was changed: any request may go
            # again. A gateway's 502/503/504 promises nothing: only safe ones.
            again = safe or (status == 503 and _changed_nothing(response))
            raise _Retryable(failure, retry_after if status == 503 else None, again=again)
        if status == 429 and safe and retry_after is not None and retry_after <= _MAX_HONOURED_WAIT:
            raise _Retryable(
                PantryRateLimited("Pantry asked us to slow down", retry_after=retry_after),
                retry_after,
                again=True,
            )
        return _result(response)

    async def _send(
        self, method: str, target: str, headers: dict[str, str], body: JSON | None
    ) -> RawResponse:
        """One request, body read in full, as the bytes Pantry sent (Content-Encoding undone).

        Over our own transport on an asyncio loop the request goes out as bytes we write
        ourselves (``_Wire``); otherwise (tests' transports, https, trio) it is an
        httpx2.Request handed straight to the transport. httpx2's client layers (auth flows,
        redirects, cookies, event hooks) do nothing for us either way.
        """
        payload = b"" if body is None else _json_bytes(body)
        wire = self._wire
        if wire is not None and _on_asyncio():
            answer = await wire.send(method, target, headers, payload, self._timeouts)
            return answer if answer.header(b"content-encoding") is None else await _decoded(answer)
        extra = {} if body is None else {"Content-Type": "application/json"}
        try:
            request = httpx2.Request(
                method,
                f"{self._base_url}{target}",
                headers={**self._headers, **headers, **extra},
                content=payload if body is not None else None,
                extensions={"timeout": self._timeouts},
            )
        except UnicodeEncodeError:  # as on the wire: not a value HTTP can carry
            raise httpx2.LocalProtocolError("A header value is not ASCII.") from None
        response = await self._transport.handle_async_request(request)
        try:
            content = await response.aread()
        finally:
            await response.aclose()
        return RawResponse(response.status_code, response.headers.raw, content)

    # ---- recipes ------------------------------------------------------------------------

    async def search_recipes(self, user: str, **params: Any) -> JSON:
        result: JSON = await self._request("GET", "/recipes", user, params=params)
        return result

    async def get_recipe(self, user: str, recipe_id: str) -> JSON:
        result: JSON = await self._request(
            "GET", "/recipes/{recipe_id}", user, path={"recipe_id": recipe_id}
        )
        return result

    async def create_recipe(self, user: str, body: JSON, *, idempotency_key: str) -> JSON:
        result: JSON = await self._request(
            "POST", "/recipes", user, body=body, idempotency_key=idempotency_key
        )
        return result

    # ---- ingredients --------------------------------------------------------------------

    async def search_ingredients(self, user: str, q: str, *, page_size: int = 5) -> JSON:
        result: JSON = await self._request(
            "GET", "/ingredients", user, params={"q": q, "page_size": page_size}
        )
        return result

    async def get_ingredient(self, user: str, ingredient_id: str) -> JSON:
        result: JSON = await self._request(
            "GET", "/ingredients/{ingredient_id}", user, path={"ingredient_id": ingredient_id}
        )
        return result

    # ---- pantry -------------------------------------------------------------------------

    async def list_pantry(self, user: str) -> JSON:
        result: JSON = await self._request("GET", "/pantry", user)
        return result

    async def add_pantry_item(self, user: str, body: JSON, *, idempotency_key: str) -> JSON:
        result: JSON = await self._request(
            "POST", "/pantry/items", user, body=body, idempotency_key=idempotency_key
        )
        return result

    async def update_pantry_item(self, user: str, ingredient_id: str, body: JSON) -> JSON:
        result: JSON = await self._request(
            "PATCH",
            "/pantry/items/{ingredient_id}",
            user,
            path={"ingredient_id": ingredient_id},
            body=body,
        )
        return result

    async def remove_pantry_item(self, user: str, ingredient_id: str) -> None:
        await self._request(
            "DELETE", "/pantry/items/{ingredient_id}", user, path={"ingredient_id": ingredient_id}
        )

    # ---- the user -----------------------------------------------------------------------

    async def get_preferences(self, user: str) -> JSON:
        result: JSON = await self._request("GET", "/users/me/preferences", user)
        return result

    async def save_preferences(self, user: str, body: JSON) -> JSON:
        """Replace the user's preferences: only with what the person answered themselves."""
        result: JSON = await self._request("PUT", "/users/me/preferences", user, body=body)
        return result

    async def decline_preferences(self, user: str) -> JSON:
        """Record that the person declined to be asked for their preferences, now."""
        result: JSON = await self._request("POST", "/users/me/preferences/declined", user)
        return result

    # ---- meal plans ---------------------------------------------------------------------

    async def list_plans(
        self,
        user: str,
        *,
        page_size: int = 20,
        ends_on_or_after: date | None = None,
        starts_on_or_before: date | None = None,
        order: str | None = None,
    ) -> JSON:
        """The user's plans, latest start first (``order="earliest"``: earliest first),
        only those overlapping the given dates when they are given."""
        params = {
            "page_size": page_size,
            "ends_on_or_after": ends_on_or_after.isoformat() if ends_on_or_after else None,
            "starts_on_or_before": starts_on_or_before.isoformat() if starts_on_or_before else None,
            "order": order,
        }
        result: JSON = await self._request("GET", "/meal-plans", user, params=params)
        return result

    async def create_plan(self, user: str, body: JSON, *, idempotency_key: str) -> JSON:
        result: JSON = await self._request(
            "POST", "/meal-plans", user, body=body, idempotency_key=idempotency_key
        )
        return result

    async def get_plan(self, user: str, plan_id: str) -> JSON:
        result: JSON = await self._request(
            "GET", "/meal-plans/{plan_id}", user, path={"plan_id": plan_id}
        )
        return result

    async def add_plan_entry(
        self, user: str, plan_id: str, body: JSON, *, idempotency_key: str
    ) -> JSON:
        result: JSON = await self._request(
            "POST",
            "/meal-plans/{plan_id}/entries",
            user,
            path={"plan_id": plan_id},
            body=body,
            idempotency_key=idempotency_key,
        )
        return result

    async def remove_plan_entry(self, user: str, plan_id: str, entry_id: str) -> None:
        await self._request(
            "DELETE",
            "/meal-plans/{plan_id}/entries/{entry_id}",
            user,
            path={"plan_id": plan_id, "entry_id": entry_id},
        )

    async def get_shopping_list(self, user: str, plan_id: str) -> JSON:
        result: JSON = await self._request(
            "GET", "/meal-plans/{plan_id}/shopping-list", user, path={"plan_id": plan_id}
        )
        return result

    async def check_shopping_item(
        self, user: str, plan_id: str, item_key: str, *, checked: bool
    ) -> JSON:
        result: JSON = await self._request(
            "PUT",
            "/meal-plans/{plan_id}/shopping-list/items/{item_key}",
            user,
            path={"plan_id": plan_id, "item_key": item_key},
            body={"checked": checked},
        )
        return result

    async def ready(self) -> bool:
        """Pantry answers its health check (no user, no credential needed)."""
        try:
            response = await self._http.get(f"{self._base_url}/healthz", timeout=2.0)
        except httpx2.HTTPError:
            return False
        return response.status_code == 200


_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def _segment(value: str) -> str:
    """A path segment for an id. Pantry's ids are short slugs; anything else (".", "..",
    a slash, a 10 kB string) names nothing, so it never becomes a URL at all."""
    if not _ID.match(value) or value.strip(".") == "":
        raise PantryNotFound(f"No such id {value[:60]!r}.", status=404, code="not_found")
    return quote(value, safe="")


# What percent-encoding leaves as it is (RFC 3986 unreserved): most ids and words.
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def _encoded(text: str) -> str:
    return text if _UNRESERVED.fullmatch(text) else quote(text, safe="")


def _target(path: str, params: Mapping[str, Any] | None) -> str:
    """Path and query, percent-encoded (as ``urlencode(..., quote_via=quote)``): the request
    target under the base URL. None leaves a parameter out; a list repeats it."""
    fields: list[str] = []
    for key, value in (params or {}).items():
        if value is None:
            continue
        for item in value if isinstance(value, list | tuple) else (value,):
            text = ("true" if item else "false") if isinstance(item, bool) else str(item)
            fields.append(f"{_encoded(key)}={_encoded(text)}")
    return f"{path}?{'&'.join(fields)}" if fields else path


def _changed_nothing(response: RawResponse) -> bool:
    """Pantry's own 503: its database stayed busy, the request was rolled back whole."""
    payload = _parsed(response.body)
    error = payload.get("error") if isinstance(payload, dict) else None
    return isinstance(error, dict) and error.get("code") == "unavailable"


def _parsed(body: bytes) -> Any:
    """A JSON body, or None if it is not JSON. pydantic-core's parser first (a third of the
    json module's time on a page of recipes); what it refuses (UTF-16 or -32, an escaped
    lone surrogate) gets a second reading by the json module, which allows those.

    Only keys are cached: pydantic-core's default also keeps every short string value it
    parses in a process-wide table of 16,384 (recipe ids, titles, names), which filled up
    over the soak as the largest growth of live Python memory (1.3 MB in 12 minutes), and
    parsing with keys alone is no slower."""
    try:
        return pydantic_core.from_json(body, cache_strings="keys")
    except ValueError:
        pass
    try:
        return json.loads(body)
    except ValueError:  # not JSON, or not text at all (UnicodeDecodeError)
        return None


def _json_bytes(body: JSON) -> bytes:
    """A request body exactly as httpx2's ``json=`` would encode it."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8")


def _on_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # trio, say: httpx2's own path serves it
        return False
    return True


async def _decoded(answer: RawResponse) -> RawResponse:
    """An answer with a Content-Encoding we did not ask for, undone by httpx2's decoders."""
    response = httpx2.Response(
        answer.status, headers=answer.headers, stream=httpx2.ByteStream(answer.body)
    )
    try:
        content = await response.aread()
    except httpx2.DecodingError:
        raise httpx2.RemoteProtocolError("Pantry sent a body it had encoded wrongly") from None
    return RawResponse(answer.status, answer.headers, content, answer.http_version, answer.reason)


def _ascii(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    """Header fields as bytes; ASCII only, as httpx2 encodes them."""
    try:
        return [(k.encode("ascii"), v.encode("ascii")) for k, v in headers.items()]
    except UnicodeEncodeError:
        raise httpx2.LocalProtocolError("A header value is not ASCII.") from None


class _Wire:
    """Pantry's origin on our own transport: requests written as bytes (the fixed headers
    encoded once), answers taken as bytes, no httpx2 objects on the way."""

    def __init__(
        self, transport: Http1Transport, url: httpx2.URL, headers: Mapping[str, str]
    ) -> None:
        self._transport = transport
        self._host = url.raw_host
        self._port = url.port or 80
        self._prefix = url.raw_path.rstrip(b"/")
        fixed = [(b"Host", url.netloc), *_ascii(headers)]
        request_head(b"GET", b"/", fixed)  # a CR or LF in the token fails here, at start-up
        self._fixed = fixed

    @classmethod
    def for_base(
        cls, base_url: str, transport: httpx2.AsyncBaseTransport, headers: Mapping[str, str]
    ) -> _Wire | None:
        """A wire for a plain-HTTP base URL over our transport, else None (httpx2's path)."""
        if not isinstance(transport, Http1Transport):
            return None
        url = httpx2.URL(base_url)
        if url.scheme != "http" or url.userinfo or url.query or url.fragment:
            return None
        return cls(transport, url, headers)

    async def send(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        payload: bytes,
        timeouts: Mapping[str, float | None],
    ) -> RawResponse:
        lines = self._fixed + _ascii(headers)
        if payload or method in ("POST", "PUT", "PATCH"):
            lines.append((b"Content-Length", str(len(payload)).encode()))
        if payload:
            lines.append(_JSON_TYPE)
        head = request_head(method.encode(), self._prefix + target.encode("ascii"), lines)
        return await self._transport.exchange(
            self._host, self._port, head, payload, timeouts=timeouts
        )


def _server_attributes(base_url: str) -> dict[str, str | int]:
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return {"server.address": parts.hostname or "", "server.port": port}


def _error_type(failure: PantryError) -> str:
    """Low-cardinality, and never a message (messages can quote the user's input)."""
    if failure.status is not None:
        return str(failure.status)
    if failure.message == TIMED_OUT:
        return "timeout"
    return "unreachable" if failure.message == UNREACHABLE else type(failure).__name__


def _record(method: str, template: str, status: int | None, started: float) -> None:
    log = current_calls.get()
    if log is not None:
        duration = round((time.perf_counter() - started) * 1000, 1)
        log.calls.append(UpstreamCall(method, template, status, duration))


def _result(response: RawResponse) -> Any:
    """The JSON of a 2xx answer, or the typed error for anything else (by status first:
    a gateway in front of Pantry may answer a 429 or a 502 in HTML)."""
    status = response.status
    if status == 204:
        return None
    payload = _parsed(response.body)
    if 200 <= status < 300:
        if payload is None:
            raise PantryUnavailable(
                f"Pantry answered {status} with a body that is not JSON", status=status
            )
        return payload
    error = payload.get("error", {}) if isinstance(payload, dict) else {}
    error = error if isinstance(error, dict) else {}
    message = str(error.get("message") or f"Pantry answered {status}")
    code = str(error.get("code") or "")
    details = error.get("details")
    fields = details if isinstance(details, list) else []
    if status == 401:
        raise PantryMisconfigured(
            "Pantry refused this server's service credential; check PANTRY_MCP_PANTRY_TOKEN",
            status=status,
        )
    if status == 429:
        retry_after = _float(response.header(b"retry-after"), default=1.0) or 1.0
        raise PantryRateLimited(message, retry_after=retry_after)
    if payload is None or status >= 500:
        raise PantryUnavailable(f"Pantry answered {status}", status=status)
    if status == 404:
        raise PantryNotFound(message, status=status, code=code, fields=fields, details=details)
    if status == 409:
        raise PantryConflict(message, status=status, code=code, fields=fields, details=details)
    if status in (400, 403, 413, 415, 422):
        raise PantryInvalid(message, status=status, code=code, fields=fields, details=details)
    raise PantryUnavailable(f"Pantry answered {status}", status=status)


def _float(raw: bytes | None, *, default: float | None) -> float | None:
    """Retry-After in seconds (the HTTP-date form is rare from an API; treated as absent)."""
    try:
        seconds = float(raw) if raw is not None else None
    except ValueError:
        return default
    if seconds is None or seconds != seconds:  # absent, or NaN
        return default
    return max(0.0, seconds)


def pantry_client(settings: Settings) -> PantryClient:
    """The client a running server uses: its settings, and client spans while traces are on."""
    tracer = trace.get_tracer("pantry_mcp") if settings.tracing else None
    return PantryClient(
        settings.pantry_url, settings.pantry_token, timeout=settings.pantry_timeout, tracer=tracer
    )
