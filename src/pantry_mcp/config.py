"""Every setting of the MCP server, read from the environment once at start-up.

A bad value raises :class:`ConfigError` with one line naming the variable.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

LogFormat = Literal["json", "console"]
USER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@|+-]{0,127}$")


class ConfigError(ValueError):
    """A setting has a value the server cannot start with."""


@dataclass(frozen=True)
class Settings:
    pantry_url: str
    pantry_token: str
    pantry_timeout: float
    user: str
    stateful: bool
    log_format: LogFormat
    log_level: str

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
        return cls(
            pantry_url=url,
            pantry_token=token,
            pantry_timeout=_number(env, "PANTRY_MCP_PANTRY_TIMEOUT", 10.0),
            user=user,
            stateful=_flag(env, "PANTRY_MCP_STATEFUL", default=False),
            log_format=log_format,  # type: ignore[arg-type]
            log_level=level,
        )


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not 0 < value <= 300:
        raise ConfigError(f"{name} must be between 0 and 300 seconds, got {value}")
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
