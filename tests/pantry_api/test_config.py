"""Settings: defaults, and one clear line for a bad value."""

from __future__ import annotations

import pytest

from pantry_api.config import DEFAULT_WORKOS_API_BASE, ConfigError, Settings

BASE = {"PANTRY_API_DATABASE_URL": "sqlite:///pantry.db"}


def test_sign_in_is_off_until_a_workos_key_is_set() -> None:
    settings = Settings.from_env(BASE)
    assert settings.workos_api_key is None
    assert settings.workos_api_base == DEFAULT_WORKOS_API_BASE == "https://api.workos.com"
    assert settings.workos_timeout == 10.0
    assert settings.session_secret is None
    assert settings.trusted_proxies == ()
    assert settings.demo_account is True


def test_sqlite_waits_5_s_for_the_lock_and_syncs_fully_by_default() -> None:
    settings = Settings.from_env(BASE)
    assert settings.sqlite_busy_timeout == 5.0
    assert settings.sqlite_synchronous == "full"
    tuned = Settings.from_env(
        {
            **BASE,
            "PANTRY_API_SQLITE_BUSY_TIMEOUT": "2.5",
            "PANTRY_API_SQLITE_SYNCHRONOUS": "NORMAL",
        }
    )
    assert (tuned.sqlite_busy_timeout, tuned.sqlite_synchronous) == (2.5, "normal")


def test_secrets_stay_out_of_the_settings_repr() -> None:
    settings = Settings.from_env(
        {
            **BASE,
            "PANTRY_API_WORKOS_API_KEY": "sk_test_secret_value_123",
            "PANTRY_API_SESSION_SECRET": "s" * 40,
            "PANTRY_API_SERVICE_TOKEN": "t" * 20,
        }
    )
    assert settings.workos_api_key == "sk_test_secret_value_123"
    for secret in ("sk_test_secret_value_123", "s" * 40, "t" * 20):
        assert secret not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PANTRY_API_WORKOS_API_BASE", "http://api.workos.com", "must be an https URL"),
        ("PANTRY_API_WORKOS_API_BASE", "api.workos.com", "must be an https URL"),
        ("PANTRY_API_WORKOS_TIMEOUT", "soon", "number of seconds"),
        ("PANTRY_API_WORKOS_TIMEOUT", "0", "between 0.1 and 120"),
        ("PANTRY_API_WORKOS_TIMEOUT", "nan", "between 0.1 and 120"),
        ("PANTRY_API_SESSION_SECRET", "too-short", "at least 32 characters"),
        ("PANTRY_API_TRUSTED_PROXIES", "10.0.0.1, nginx", "IP addresses or networks"),
        ("PANTRY_API_DEMO_ACCOUNT", "maybe", "true or false"),
        ("PANTRY_API_SQLITE_BUSY_TIMEOUT", "soon", "number of seconds"),
        ("PANTRY_API_SQLITE_BUSY_TIMEOUT", "0", "between 0.05 and 60"),
        ("PANTRY_API_SQLITE_BUSY_TIMEOUT", "inf", "between 0.05 and 60"),
        ("PANTRY_API_SQLITE_SYNCHRONOUS", "off", "full or normal"),
        ("PANTRY_API_SQLITE_SYNCHRONOUS", "extra", "full or normal"),
    ],
)
def test_a_bad_value_names_the_setting(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        Settings.from_env({**BASE, name: value})
    assert name in str(raised.value) and "\n" not in str(raised.value)


def test_a_bad_workos_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError, match="PANTRY_API_WORKOS_API_KEY") as raised:
        Settings.from_env({**BASE, "PANTRY_API_WORKOS_API_KEY": "sk_test with spaces"})
    assert "with spaces" not in str(raised.value)


def test_loopback_http_and_proxies_are_accepted() -> None:
    settings = Settings.from_env(
        {
            **BASE,
            "PANTRY_API_WORKOS_API_BASE": "http://127.0.0.1:9999/",
            "PANTRY_API_WORKOS_TIMEOUT": "2.5",
            "PANTRY_API_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8",
        }
    )
    assert settings.workos_api_base == "http://127.0.0.1:9999"
    assert settings.workos_timeout == 2.5
    assert settings.trusted_proxies == ("127.0.0.1", "10.0.0.0/8")
