"""Settings: every bad value stops start-up with one clear line naming the variable."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pantry_mcp.config import ConfigError, Settings, metadata_url_for, with_workers

BASE = {"PANTRY_MCP_PANTRY_TOKEN": "t" * 20}


def settings(**env: str) -> Settings:
    return Settings.from_env({**BASE, **env}, tty=False)


def test_demo_mode_by_default() -> None:
    current = settings()
    assert current.auth is None
    assert current.user == "demo"
    assert "127.0.0.1:*" in current.allowed_hosts


def test_stateful_sessions_expire_and_are_capped() -> None:
    assert (settings().session_idle_timeout, settings().max_sessions) == (1800.0, 10_000)
    tuned = settings(PANTRY_MCP_SESSION_IDLE_TIMEOUT="5", PANTRY_MCP_MAX_SESSIONS="50")
    assert (tuned.session_idle_timeout, tuned.max_sessions) == (5.0, 50)


def test_metrics_address() -> None:
    assert settings(PANTRY_MCP_METRICS_ADDRESS="127.0.0.1:9464").metrics_address == (
        "127.0.0.1",
        9464,
    )
    assert settings(PANTRY_MCP_METRICS_ADDRESS="[::1]:9464").metrics_address == ("::1", 9464)
    assert settings().metrics_address is None


def test_authkit_domain_derives_issuer_and_jwks() -> None:
    auth = settings(
        AUTHKIT_DOMAIN="acme.authkit.app", PANTRY_MCP_RESOURCE_URL="https://pantry.example.com/mcp"
    ).auth
    assert auth is not None
    assert auth.issuer == "https://acme.authkit.app"
    assert auth.jwks_url == "https://acme.authkit.app/oauth2/jwks"
    assert auth.metadata_url == "https://acme.authkit.app/.well-known/oauth-authorization-server"
    assert auth.audience == "https://pantry.example.com/mcp"


def test_any_issuer_with_audience_override_and_allowed_hosts() -> None:
    current = settings(
        PANTRY_MCP_AUTH_ISSUER="https://login.example.com/tenant/",
        PANTRY_MCP_RESOURCE_URL="https://pantry.example.com/mcp",
        PANTRY_MCP_AUTH_AUDIENCE="api://pantry",
    )
    assert current.auth is not None
    assert current.auth.jwks_url is None  # found in the issuer's metadata
    assert current.auth.metadata_url == (
        "https://login.example.com/.well-known/oauth-authorization-server/tenant"
    )
    assert current.auth.audience == "api://pantry"
    assert "pantry.example.com" in current.allowed_hosts
    assert "https://pantry.example.com" in current.allowed_origins
    assert (
        metadata_url_for("https://a.example")
        == "https://a.example/.well-known/oauth-authorization-server"
    )


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"PANTRY_MCP_PANTRY_TOKEN": ""}, "PANTRY_MCP_PANTRY_TOKEN"),
        ({"PANTRY_MCP_AUTH_ISSUER": "https://x.example"}, "PANTRY_MCP_RESOURCE_URL"),
        (
            {
                "PANTRY_MCP_AUTH_ISSUER": "http://x.example",
                "PANTRY_MCP_RESOURCE_URL": "https://p/mcp",
            },
            "PANTRY_MCP_AUTH_ISSUER",
        ),
        (
            {"AUTHKIT_DOMAIN": "a.authkit.app", "PANTRY_MCP_AUTH_ISSUER": "https://b"},
            "AUTHKIT_DOMAIN",
        ),
        ({"PANTRY_MCP_USER": "not a user"}, "PANTRY_MCP_USER"),
        ({"PANTRY_MCP_RATE_LIMIT": "lots"}, "PANTRY_MCP_RATE_LIMIT"),
        ({"PANTRY_MCP_STATEFUL": "maybe"}, "PANTRY_MCP_STATEFUL"),
        ({"PANTRY_MCP_LOG_FORMAT": "xml"}, "PANTRY_MCP_LOG_FORMAT"),
        ({"PANTRY_MCP_METRICS_ADDRESS": "9464"}, "PANTRY_MCP_METRICS_ADDRESS"),
        ({"PANTRY_MCP_SESSION_IDLE_TIMEOUT": "0"}, "PANTRY_MCP_SESSION_IDLE_TIMEOUT"),
        ({"PANTRY_MCP_MAX_SESSIONS": "none"}, "PANTRY_MCP_MAX_SESSIONS"),
        ({"PANTRY_MCP_AUTH_USER_CLAIM": "pantry_user"}, "PANTRY_MCP_AUTH_USER_CLAIM"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        settings(**env)


def test_without_an_issuer_serve_refuses_a_public_address() -> None:
    command = [str(Path(sys.executable).parent / "pantry-mcp"), "serve", "--host", "0.0.0.0"]
    result = subprocess.run(
        command, env={**BASE, "PATH": ""}, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "loopback only" in lines[0]


def test_trusted_proxies_are_addresses_or_networks() -> None:
    assert settings(PANTRY_MCP_TRUSTED_PROXIES="127.0.0.1, 10.0.0.0/8").trusted_proxies == (
        "127.0.0.1",
        "10.0.0.0/8",
    )
    with pytest.raises(ConfigError, match="PANTRY_MCP_TRUSTED_PROXIES"):
        settings(PANTRY_MCP_TRUSTED_PROXIES="nginx.internal")


def test_a_taken_port_stops_start_up_with_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [str(Path(sys.executable).parent / "pantry-mcp"), "serve", "--port", str(port)]
        result = subprocess.run(
            command,
            env={**BASE, "PATH": ""},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"pantry-mcp: cannot listen on 127.0.0.1:{port} (--host/--port): the port is taken "
        "or the address is not this machine's"
    ]


ISSUER = {
    "PANTRY_MCP_AUTH_ISSUER": "https://login.example.com",
    "PANTRY_MCP_RESOURCE_URL": "https://pantry.example.com/mcp",
}


def test_user_claim_is_off_by_default_and_sub_means_off() -> None:
    for env in ({}, {"PANTRY_MCP_AUTH_USER_CLAIM": ""}, {"PANTRY_MCP_AUTH_USER_CLAIM": "sub"}):
        auth = settings(**ISSUER, **env).auth
        assert auth is not None
        assert auth.user_claim is None


@pytest.mark.parametrize(
    "name", ["pantry_user", " pantry_user ", "urn:pantry:user", "https://pantry.example.com/user"]
)
def test_user_claim_names_a_custom_claim(name: str) -> None:
    auth = settings(**ISSUER, PANTRY_MCP_AUTH_USER_CLAIM=name).auth
    assert auth is not None
    assert auth.user_claim == name.strip()
    with_authkit = settings(
        AUTHKIT_DOMAIN="acme.authkit.app",
        PANTRY_MCP_RESOURCE_URL="https://pantry.example.com/mcp",
        PANTRY_MCP_AUTH_USER_CLAIM=name,
    ).auth
    assert with_authkit is not None
    assert with_authkit.user_claim == name.strip()


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("pantry user", "must be a claim name"),
        ('pantry"user', "must be a claim name"),
        ("_pantry", "must be a claim name"),
        ("x" * 129, "must be a claim name"),
        ("aud", "not the registered claim 'aud'"),
        ("client_id", "not the registered claim 'client_id'"),
        ("scope", "not the registered claim 'scope'"),
    ],
)
def test_a_bad_user_claim_stops_start_up_with_one_line(name: str, says: str) -> None:
    with pytest.raises(ConfigError) as raised:
        settings(**ISSUER, PANTRY_MCP_AUTH_USER_CLAIM=name)
    message = str(raised.value)
    assert message.startswith("PANTRY_MCP_AUTH_USER_CLAIM must ")
    assert says in message
    assert "\n" not in message


def test_a_user_claim_without_an_issuer_is_refused() -> None:
    with pytest.raises(ConfigError, match="PANTRY_MCP_AUTH_USER_CLAIM needs an issuer"):
        settings(PANTRY_MCP_AUTH_USER_CLAIM="pantry_user")


def test_request_state_keys_are_long_enough_and_rotate() -> None:
    assert settings().request_state_keys == ()  # a key of its own, generated at start-up
    one = "a" * 32
    assert settings(PANTRY_MCP_REQUEST_STATE_KEY=one).request_state_keys == (one.encode(),)
    rotating = settings(PANTRY_MCP_REQUEST_STATE_KEY=f"{'n' * 40}, {one}").request_state_keys
    assert rotating == (b"n" * 40, one.encode())  # the first seals, both open
    with pytest.raises(ConfigError, match="key 2 is 5 bytes; each must be at least 32"):
        settings(PANTRY_MCP_REQUEST_STATE_KEY=f"{one},short")


def test_one_worker_by_default_and_the_flag_wins_over_the_environment() -> None:
    assert settings().workers == 1
    assert with_workers(settings()).workers == 1
    unlimited = settings(PANTRY_MCP_WORKERS="4", PANTRY_MCP_RATE_LIMIT="0")
    assert with_workers(unlimited).workers == 4
    assert with_workers(unlimited, " 2 ").workers == 2
    assert with_workers(settings(PANTRY_MCP_WORKERS="4"), "1").workers == 1
    shared = settings(PANTRY_MCP_REDIS_URL="redis://127.0.0.1:6379/0")
    assert with_workers(shared, "8").workers == 8


@pytest.mark.parametrize("raw", ["0", "-1", "1.5", "two", "513", "\u00b2", "9" * 40])
def test_a_worker_count_is_a_whole_number_from_1_to_512(raw: str) -> None:
    with pytest.raises(
        ConfigError, match=r"^PANTRY_MCP_WORKERS must be a whole number from 1 to 512"
    ):
        settings(PANTRY_MCP_WORKERS=raw)
    with pytest.raises(ConfigError, match=r"^--workers must be a whole number from 1 to 512"):
        with_workers(settings(PANTRY_MCP_RATE_LIMIT="0"), raw)


def test_workers_refuse_what_they_cannot_share() -> None:
    stateful = settings(PANTRY_MCP_STATEFUL="true", PANTRY_MCP_RATE_LIMIT="0")
    assert with_workers(stateful, "1").workers == 1
    with pytest.raises(ConfigError, match="sticky routing on Mcp-Session-Id") as refused:
        with_workers(stateful, "2")
    assert "PANTRY_MCP_STATEFUL=false" in str(refused.value)
    with pytest.raises(ConfigError, match=r"^PANTRY_MCP_WORKERS=2 with a rate limit") as refused:
        with_workers(settings(PANTRY_MCP_WORKERS="2"))
    for fix in ("set PANTRY_MCP_REDIS_URL", "PANTRY_MCP_RATE_LIMIT=0", "--workers 1"):
        assert fix in str(refused.value)
