"""Headless Debian Chromium driven by Selenium (no browser download, no network)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.services.ports import require_binary

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1700",
)


@contextmanager
def chromium(profile: Path) -> Iterator[webdriver.Chrome]:
    browser = require_binary("chromium", "apt-get install chromium", extra_dirs=("/usr/bin",))
    driver_binary = require_binary(
        "chromedriver", "apt-get install chromium-driver", extra_dirs=("/usr/bin",)
    )
    options = webdriver.ChromeOptions()
    options.binary_location = str(browser)
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(driver_binary)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def count(driver: WebDriver, selector: str) -> int:
    return int(driver.execute_script(f"return document.querySelectorAll({selector!r}).length"))


def wait_for(
    driver: WebDriver, check: Callable[[WebDriver], object], what: str, timeout: float = 20
) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check(driver)
        if value:
            return value
        time.sleep(0.1)
    page = driver.find_element(By.TAG_NAME, "body").text[:2000]
    raise AssertionError(f"{what} within {timeout} s; page says: {page}")
