"""Every setting of the Pantry service, read from the environment once at start-up.

A bad value raises :class:`ConfigError` with one line that names the variable, so that
``pantry-api serve`` can stop with a message an operator can act on.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_DATA_DIR = Path.home() / ".local" / "share" / "pantry-api"
DEFAULT_WORKOS_API_BASE = "https://api.workos.com"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
MIN_SESSION_SECRET_LENGTH = 32
SQLITE_SYNCHRONOUS = ("full", "normal")
_PRINTABLE_TOKEN = re.compile(r"^[\x21-\x7e]+$")  # visible ASCII: safe in a header, no spaces


class ConfigError(ValueError):
    """A setting has a value the service cannot start with."""


@dataclass(frozen=True)
class Settings:
    database_url: str = field(repr=False)  # may carry a database password
    service_token: str | None = field(repr=False)
    data_dir: Path
    rate_limit_per_minute: int
    max_body_bytes: int
    seed: bool
    demo_account: bool = True  # with the seed: the demo user can sign in (seed.DEMO_PASSWORD)
    # Sign-in for AuthKit Standalone Connect (the browser-facing /auth/login page).
    workos_api_key: str | None = field(default=None, repr=False)
    workos_api_base: str = DEFAULT_WORKOS_API_BASE
    workos_timeout: float = 10.0
    session_secret: str | None = field(default=None, repr=False)
    trusted_proxies: tuple[str, ...] = ()
    # SQLite only: the longest a request waits for its turn to write (the MCP server gives
    # up on Pantry after 10 s by default, so a write must give up well before that) ...
    sqlite_busy_timeout: float = 5.0
    # ... and PRAGMA synchronous: full survives power loss, normal only a process crash.
    sqlite_synchronous: str = "full"
    # OpenTelemetry traces, asked for by the standard OTEL_* variables (pantry_api.tracing).
    tracing: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        from pantry_api import tracing  # here: tracing imports ConfigError from this module

        env = os.environ if env is None else env
        data_dir = Path(env.get("PANTRY_API_DATA_DIR") or DEFAULT_DATA_DIR).expanduser()
        database_url = env.get("PANTRY_API_DATABASE_URL") or f"sqlite:///{data_dir / 'pantry.db'}"
        if not database_url.startswith(("sqlite:", "postgresql:", "postgres:")):
            raise ConfigError(
                "PANTRY_API_DATABASE_URL must start with sqlite:/// or postgresql://, "
                f"got {database_url.split(':', 1)[0]!r}"
            )
        token = env.get("PANTRY_API_SERVICE_TOKEN") or None
        if token is not None and len(token) < 16:
            raise ConfigError("PANTRY_API_SERVICE_TOKEN must be at least 16 characters long")
        return cls(
            database_url=database_url,
            service_token=token,
            data_dir=data_dir,
            rate_limit_per_minute=_int(env, "PANTRY_API_RATE_LIMIT", 1200, minimum=0),
            max_body_bytes=_int(env, "PANTRY_API_MAX_BODY_BYTES", 256 * 1024, minimum=1024),
            seed=_bool(env, "PANTRY_API_SEED", default=True),
            demo_account=_bool(env, "PANTRY_API_DEMO_ACCOUNT", default=True),
            workos_api_key=_workos_api_key(env),
            workos_api_base=_https_or_loopback(
                "PANTRY_API_WORKOS_API_BASE",
                env.get("PANTRY_API_WORKOS_API_BASE") or DEFAULT_WORKOS_API_BASE,
            ),
            workos_timeout=_seconds(env, "PANTRY_API_WORKOS_TIMEOUT", 10.0, low=0.1, high=120.0),
            session_secret=_session_secret(env),
            trusted_proxies=_networks(env, "PANTRY_API_TRUSTED_PROXIES"),
            sqlite_busy_timeout=_seconds(
                env, "PANTRY_API_SQLITE_BUSY_TIMEOUT", 5.0, low=0.05, high=60.0
            ),
            sqlite_synchronous=_choice(
                env, "PANTRY_API_SQLITE_SYNCHRONOUS", SQLITE_SYNCHRONOUS, default="full"
            ),
            tracing=tracing.wanted(env),
        )


def is_loopback_url(url: str) -> bool:
    return urlsplit(url).hostname in LOOPBACK_HOSTS


def _https_or_loopback(name: str, url: str) -> str:
    parts = urlsplit(url)
    loopback = parts.hostname in LOOPBACK_HOSTS
    if not parts.hostname or (
        parts.scheme != "https" and not (parts.scheme == "http" and loopback)
    ):
        raise ConfigError(
            f"{name} must be an https URL (http only on a loopback host), got {url!r}"
        )
    return url.rstrip("/")


def _workos_api_key(env: Mapping[str, str]) -> str | None:
    key = (env.get("PANTRY_API_WORKOS_API_KEY") or "").strip() or None
    if key is not None and not _PRINTABLE_TOKEN.match(key):
        # Never echo the value: it is a secret.
        raise ConfigError("PANTRY_API_WORKOS_API_KEY must be printable ASCII without spaces")
    return key


def _session_secret(env: Mapping[str, str]) -> str | None:
    secret = env.get("PANTRY_API_SESSION_SECRET") or None
    if secret is not None and len(secret) < MIN_SESSION_SECRET_LENGTH:
        raise ConfigError(
            f"PANTRY_API_SESSION_SECRET must be at least {MIN_SESSION_SECRET_LENGTH} "
            "characters long"
        )
    return secret


def _networks(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    entries = tuple(part.strip() for part in (env.get(name) or "").split(",") if part.strip())
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ConfigError(f"{name} must list IP addresses or networks, got {entry!r}") from None
    return entries


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _seconds(
    env: Mapping[str, str], name: str, default: float, *, low: float, high: float
) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise ConfigError(f"{name} must be between {low:g} and {high:g} seconds, got {raw!r}")
    return value


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], *, default: str) -> str:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered not in choices:
        raise ConfigError(f"{name} must be {' or '.join(choices)}, got {raw!r}")
    return lowered


def _bool(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")
