"""Every setting of the MCP server, read from the environment once at start-up.

A bad value raises :class:`ConfigError` with one line naming the variable.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from pantry_mcp import tracing

LogFormat = Literal["json", "console"]
USER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@|+-]{0,127}$")
# A JWT claim name an operator can give (plain names, URNs and URLs, as AuthKit JWT templates
# and other issuers' custom claims use), and the registered claims it must not be.
CLAIM_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.:/-]{0,127}$")
RESERVED_CLAIMS = frozenset(
    {"iss", "aud", "exp", "nbf", "iat", "jti", "scope", "scp", "client_id", "azp", "sid"}
)
LOOPBACK_HOSTS = ("127.0.0.1", "127.0.0.1:*", "localhost", "localhost:*", "[::1]", "[::1]:*")
LOOPBACK_ORIGINS = ("http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*")


class ConfigError(ValueError):
    """A setting has a value the server cannot start with."""


@dataclass(frozen=True)
class AuthSettings:
    """Where tokens come from and what they must say. None of it is a secret."""

    issuer: str
    metadata_url: str  # the issuer's RFC 8414 metadata, proxied and used to find the JWKS
    jwks_url: str | None  # None: take jwks_uri from the metadata
    resource_url: str  # the canonical URL of /mcp (RFC 8707), also the default audience
    audience: str
    implied_scopes: frozenset[str]  # granted to verified tokens that carry no scope claim
    require_nbf: bool
    # The claim naming the Pantry user to act as (e.g. "pantry_user", added by an AuthKit JWT
    # template from the user's external_id); None: act as the token's subject.
    user_claim: str | None = None


@dataclass(frozen=True)
class Settings:
    pantry_url: str
    pantry_token: str
    pantry_timeout: float
    user: str
    stateful: bool
    log_format: LogFormat
    log_level: str
    auth: AuthSettings | None = None
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS
    allowed_origins: tuple[str, ...] = LOOPBACK_ORIGINS
    rate_limit: int = 120
    metrics_address: tuple[str, int] | None = None  # serve /metrics there, not on the main port
    redis_url: str | None = None  # share rate-limit buckets between replicas
    trusted_proxies: tuple[str, ...] = ()  # X-Forwarded-* honoured only from these
    session_idle_timeout: float = 1800.0  # a stateful session unused this long is closed
    max_sessions: int = 10_000  # stateful sessions held at once; more are refused
    # Seal the requestState of 2026-07-28 multi-round-trip calls: the first key seals, every
    # key opens (rotation). Empty: a key generated at start-up, good for one process only.
    request_state_keys: tuple[bytes, ...] = ()
    # OpenTelemetry traces, asked for by the standard OTEL_* variables (pantry_mcp.tracing).
    tracing: bool = False
    workers: int = 1  # `serve` processes sharing the port (uvicorn's multi-process mode)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, tty: bool | None = None) -> Settings:
        env = os.environ if env is None else env
        token = env.get("PANTRY_MCP_PANTRY_TOKEN", "")
        if not token:
            raise ConfigError(
                "PANTRY_MCP_PANTRY_TOKEN is not set: give the service token Pantry expects "
                "(PANTRY_API_SERVICE_TOKEN there); `make run` sets both"
            )
        url = env.get("PANTRY_MCP_PANTRY_URL") or "http://127.0.0.1:8001"
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"PANTRY_MCP_PANTRY_URL must be an http(s) URL, got {url!r}")
        user = env.get("PANTRY_MCP_USER") or "demo"
        if not USER_PATTERN.match(user):
            raise ConfigError(
                f"PANTRY_MCP_USER must be 1-128 letters, digits or ._:@|+-, got {user!r}"
            )
        default_format: LogFormat = (
            "console" if (sys.stdout.isatty() if tty is None else tty) else "json"
        )
        log_format = env.get("PANTRY_MCP_LOG_FORMAT") or default_format
        if log_format not in ("json", "console"):
            raise ConfigError(f"PANTRY_MCP_LOG_FORMAT must be json or console, got {log_format!r}")
        level = (env.get("PANTRY_MCP_LOG_LEVEL") or "info").lower()
        if level not in ("debug", "info", "warning", "error"):
            raise ConfigError(
                f"PANTRY_MCP_LOG_LEVEL must be debug, info, warning or error, got {level!r}"
            )
        auth = _auth(env)
        hosts, origins = list(LOOPBACK_HOSTS), list(LOOPBACK_ORIGINS)
        if auth is not None:
            public = urlsplit(auth.resource_url)
            hosts.append(public.netloc)
            hosts.append(public.hostname or public.netloc)  # nginx's $host carries no port
            origins.append(f"{public.scheme}://{public.netloc}")
        return cls(
            pantry_url=url,
            pantry_token=token,
            pantry_timeout=_number(env, "PANTRY_MCP_PANTRY_TIMEOUT", 10.0),
            user=user,
            stateful=_flag(env, "PANTRY_MCP_STATEFUL", default=False),
            log_format=log_format,  # type: ignore[arg-type]
            log_level=level,
            auth=auth,
            allowed_hosts=_list(env, "PANTRY_MCP_ALLOWED_HOSTS") or tuple(dict.fromkeys(hosts)),
            allowed_origins=_list(env, "PANTRY_MCP_ALLOWED_ORIGINS")
            or tuple(dict.fromkeys(origins)),
            rate_limit=int(_number(env, "PANTRY_MCP_RATE_LIMIT", 120.0, low=0, high=1_000_000)),
            metrics_address=_address(env, "PANTRY_MCP_METRICS_ADDRESS"),
            redis_url=_redis_url(env),
            trusted_proxies=_networks(env, "PANTRY_MCP_TRUSTED_PROXIES"),
            session_idle_timeout=_number(
                env, "PANTRY_MCP_SESSION_IDLE_TIMEOUT", 1800.0, low=1, high=86_400
            ),
            max_sessions=int(
                _number(env, "PANTRY_MCP_MAX_SESSIONS", 10_000, low=1, high=1_000_000)
            ),
            request_state_keys=_state_keys(env),
            tracing=_tracing(env),
            workers=_workers("PANTRY_MCP_WORKERS", env.get("PANTRY_MCP_WORKERS") or "1"),
        )


MAX_WORKERS = 512


def _workers(name: str, raw: str) -> int:
    value = raw.strip()
    if not (
        value.isascii() and value.isdigit() and len(value) <= 4 and 0 < int(value) <= MAX_WORKERS
    ):
        raise ConfigError(f"{name} must be a whole number from 1 to {MAX_WORKERS}, got {raw!r}")
    return int(value)


def with_workers(settings: Settings, flag: str | None = None) -> Settings:
    """``settings`` for ``serve``, with ``--workers`` (when given) over PANTRY_MCP_WORKERS.

    Refuses what cannot be split between worker processes: stateful sessions (held in one
    process's memory) and per-process rate-limit buckets (each worker would give every user
    the whole budget again).
    """
    name = "PANTRY_MCP_WORKERS" if flag is None else "--workers"
    workers = settings.workers if flag is None else _workers(name, flag)
    if workers > 1 and settings.stateful:
        raise ConfigError(
            f"{name}={workers} cannot serve PANTRY_MCP_STATEFUL=true: a session lives in one "
            "process's memory and its next request may reach another worker; run one worker per "
            "process behind a proxy with sticky routing on Mcp-Session-Id, or serve statelessly "
            "(PANTRY_MCP_STATEFUL=false)"
        )
    if workers > 1 and settings.rate_limit and not settings.redis_url:
        raise ConfigError(
            f"{name}={workers} with a rate limit needs PANTRY_MCP_REDIS_URL: in memory each "
            f"worker would give every user {settings.rate_limit} calls a minute of its own; set "
            "PANTRY_MCP_REDIS_URL, or PANTRY_MCP_RATE_LIMIT=0, or --workers 1"
        )
    return dataclasses.replace(settings, workers=workers)


def _tracing(env: Mapping[str, str]) -> bool:
    try:
        return tracing.wanted(env)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def _https_or_loopback(name: str, url: str) -> str:
    parts = urlsplit(url)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ConfigError(
            f"{name} must be an https URL (http only on a loopback host), got {url!r}"
        )
    return url.rstrip("/")


def metadata_url_for(issuer: str) -> str:
    """RFC 8414 section 3.1: the well-known part goes between the host and the path."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{path}"


def _auth(env: Mapping[str, str]) -> AuthSettings | None:
    authkit = (env.get("AUTHKIT_DOMAIN") or "").strip()
    issuer = (env.get("PANTRY_MCP_AUTH_ISSUER") or "").strip()
    if authkit and issuer:
        raise ConfigError("set AUTHKIT_DOMAIN or PANTRY_MCP_AUTH_ISSUER, not both")
    user_claim = _user_claim(env)
    if not authkit and not issuer:
        if user_claim is not None:
            raise ConfigError(
                "PANTRY_MCP_AUTH_USER_CLAIM needs an issuer (AUTHKIT_DOMAIN or "
                "PANTRY_MCP_AUTH_ISSUER): without one no token is read"
            )
        return None
    jwks_url = env.get("PANTRY_MCP_AUTH_JWKS_URL") or None
    if authkit:
        issuer = authkit if authkit.startswith(("http://", "https://")) else f"https://{authkit}"
        issuer = _https_or_loopback("AUTHKIT_DOMAIN", issuer)
        jwks_url = jwks_url or f"{issuer}/oauth2/jwks"
    else:
        issuer = _https_or_loopback("PANTRY_MCP_AUTH_ISSUER", issuer)
    if jwks_url:
        jwks_url = _https_or_loopback("PANTRY_MCP_AUTH_JWKS_URL", jwks_url)
    resource = env.get("PANTRY_MCP_RESOURCE_URL") or ""
    if not resource:
        raise ConfigError(
            "PANTRY_MCP_RESOURCE_URL is required with an issuer: the public URL of /mcp, "
            "e.g. https://pantry.example.com/mcp"
        )
    resource = _https_or_loopback("PANTRY_MCP_RESOURCE_URL", resource)
    implied = frozenset((env.get("PANTRY_MCP_AUTH_IMPLIED_SCOPES") or "").split())
    unknown = implied - {"pantry:read", "pantry:write"}
    if unknown:
        raise ConfigError(f"PANTRY_MCP_AUTH_IMPLIED_SCOPES: unknown scopes {sorted(unknown)}")
    return AuthSettings(
        issuer=issuer,
        metadata_url=metadata_url_for(issuer),
        jwks_url=jwks_url,
        resource_url=resource,
        audience=env.get("PANTRY_MCP_AUTH_AUDIENCE") or resource,
        implied_scopes=implied,
        # nbf is always checked when a token has it; requiring it would refuse every token
        # from AuthKit and other RFC 9068 issuers, which do not send it.
        require_nbf=_flag(env, "PANTRY_MCP_AUTH_REQUIRE_NBF", default=False),
        user_claim=user_claim,
    )


def _user_claim(env: Mapping[str, str]) -> str | None:
    """The claim that names the Pantry user; ``sub`` (or unset) means the subject itself."""
    name = (env.get("PANTRY_MCP_AUTH_USER_CLAIM") or "").strip()
    if not name or name == "sub":
        return None
    if not CLAIM_PATTERN.match(name):
        raise ConfigError(
            "PANTRY_MCP_AUTH_USER_CLAIM must be a claim name (a letter, then up to 127 letters, "
            f"digits or _.:/-), e.g. pantry_user, got {name[:100]!r}"
        )
    if name in RESERVED_CLAIMS:
        raise ConfigError(
            f"PANTRY_MCP_AUTH_USER_CLAIM must name a claim that carries the user id, not the "
            f"registered claim {name!r}; e.g. pantry_user from an AuthKit JWT template"
        )
    return name


def _redis_url(env: Mapping[str, str]) -> str | None:
    raw = (env.get("PANTRY_MCP_REDIS_URL") or "").strip()
    if raw and not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"PANTRY_MCP_REDIS_URL must be a redis:// URL, got {raw.split(':')[0]!r}")
    return raw or None


MIN_STATE_KEY_BYTES = 32


def _state_keys(env: Mapping[str, str]) -> tuple[bytes, ...]:
    """PANTRY_MCP_REQUEST_STATE_KEY: one secret, or several separated by commas while
    rotating (the first seals). Each must be at least 32 bytes, the same on every replica."""
    keys = tuple(key.encode() for key in _list(env, "PANTRY_MCP_REQUEST_STATE_KEY"))
    for number, key in enumerate(keys, 1):
        if len(key) < MIN_STATE_KEY_BYTES:
            raise ConfigError(
                f"PANTRY_MCP_REQUEST_STATE_KEY: key {number} is {len(key)} bytes; each must be "
                f"at least {MIN_STATE_KEY_BYTES} (e.g. `openssl rand -base64 48`)"
            )
    return keys


def _networks(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    entries = _list(env, name)
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ConfigError(f"{name} must list IP addresses or networks, got {entry!r}") from None
    return entries


def _address(env: Mapping[str, str], name: str) -> tuple[str, int] | None:
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    host, _, port = raw.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{name} must be host:port, e.g. 127.0.0.1:9464, got {raw!r}")
    return host.strip("[]"), int(port)


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in (env.get(name) or "").split(",") if item.strip())


def _number(
    env: Mapping[str, str], name: str, default: float, *, low: float = 0.001, high: float = 300
) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low:g} and {high:g}, got {value:g}")
    return value


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name)
    if not raw:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")
