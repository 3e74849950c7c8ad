"""Every setting of the Pantry service, read from the environment once at start-up.

A bad value raises :class:`ConfigError` with one line that names the variable, so that
``pantry-api serve`` can stop with a message an operator can act on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = Path.home() / ".local" / "share" / "pantry-api"


class ConfigError(ValueError):
    """A setting has a value the service cannot start with."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    service_token: str | None
    data_dir: Path
    rate_limit_per_minute: int
    max_body_bytes: int
    seed: bool

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
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
        )


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
