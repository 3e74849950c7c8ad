"""Headless Chromium under selenium, as the browser tests start it.

Needs /usr/bin/chromium and /usr/bin/chromedriver (Debian's ``chromium`` and
``chromium-driver``, installed by .ci/run); without them a test asking for one skips with the
reason printed, unless PANTRY_TEST_REQUIRE_BROWSER=1, when it fails.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# What every browser test wants: headless, as root in CI, and nothing of its own on the network.
COMMON_ARGUMENTS = (
    "--headless=new",
    "--no-sandbox",  # CI runs as root
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--no-first-run",
    "--no-proxy-server",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--password-store=basic",
)


def require_chromium() -> None:
    """Skip (or fail, with PANTRY_TEST_REQUIRE_BROWSER=1) when Chromium or its driver is missing."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if not missing:
        return
    reason = (
        f"no browser: {' and '.join(missing)} missing "
        "(apt-get install chromium chromium-driver; .ci/run does)"
    )
    if os.environ.get("PANTRY_TEST_REQUIRE_BROWSER") == "1":
        pytest.fail(f"PANTRY_TEST_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


def chromium(
    tmp_path_factory: pytest.TempPathFactory,
    *arguments: str,
    capabilities: dict[str, Any] | None = None,
) -> WebDriver:
    """Chromium with COMMON_ARGUMENTS, then ``arguments``, a fresh profile in a temporary
    folder, and ``capabilities`` set. Skips as ``require_chromium`` says."""
    require_chromium()
    user_data_dir = tmp_path_factory.mktemp("chromium")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (*COMMON_ARGUMENTS, *arguments, f"--user-data-dir={user_data_dir}"):
        options.add_argument(argument)
    for name, value in (capabilities or {}).items():
        options.set_capability(name, value)
    return webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
