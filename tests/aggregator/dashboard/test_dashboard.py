"""The dashboard in a real headless Chromium against a running API: data loads, the map
shows every device, charts draw points, and "verify" tells a genuine reading from a
tampered one. The map and the device page have their own tests (test_map.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from aggregator.api import ApiConfig, ApiServer, MapConfig, create_app
from tests.aggregator.api.world import KEYS, World
from tests.aggregator.dashboard.browser import chromium, count, wait_for

# Set to a directory to keep the screenshots (they go to the test's tmp_path otherwise).
SCREENSHOT_DIR_ENV = "FIELDPROOF_SCREENSHOT_DIR"


# The tests run offline: the map draws its markers without tiles.
OFFLINE = MapConfig(tile_url=None)


@pytest.fixture
def server(sqlite_world: World) -> Iterator[ApiServer]:
    api = ApiServer(create_app(sqlite_world.sources, ApiConfig(map=OFFLINE)))
    api.start()
    yield api
    api.stop()


def test_dashboard_shows_data_and_verifies(
    server: ApiServer, sqlite_world: World, tmp_path: Path
) -> None:
    shots = Path(os.environ.get(SCREENSHOT_DIR_ENV, tmp_path))
    with chromium(tmp_path / "profile") as driver:
        driver.get(server.url + "/")
        wait_for(
            driver, lambda d: d.execute_script("return document.body.dataset.loaded"), "data loaded"
        )
        assert driver.find_element(By.ID, "error").get_attribute("hidden") is not None

        # Read the page in one script call each: the 5 s refresh redraws these parts.
        dots = driver.execute_script(
            "return [...document.querySelectorAll('#map path.device-marker')]"
            ".map(c => c.dataset.device)"
        )
        assert sorted(dots) == sorted("0x" + k.device_id.hex() for k in KEYS)
        assert count(driver, "#health tbody tr") == len(KEYS)
        assert "4 devices · 3 online" in driver.find_element(By.ID, "summary").text
        wait_for(driver, lambda d: count(d, "#env-chart circle.pt") > 0, "environment points")
        assert count(driver, "#traffic-chart circle.pt") > 0
        assert count(driver, "#epochs tbody tr") == 3

        # A genuine, anchored reading of the selected device.
        wait_for(
            driver,
            lambda d: d.find_elements(By.CSS_SELECTOR, "#verify-seq option"),
            "reports listed",
        )
        driver.find_element(By.ID, "verify-btn").click()
        result = driver.find_element(By.ID, "verify-result")
        wait_for(driver, lambda d: result.get_attribute("data-ok") in ("true", "false"), "verdict")
        assert result.get_attribute("data-ok") == "true", result.text
        assert "verified" in result.text
        driver.save_screenshot(str(shots / "dashboard-verified.png"))

        # The same reading with one value changed.
        driver.find_element(By.ID, "tamper-btn").click()
        wait_for(driver, lambda d: result.get_attribute("data-ok") == "false", "tampered verdict")
        assert "verification failed" in result.text
        assert "signature" in result.text

        # The owner view of the selected device's owner.
        wait_for(driver, lambda d: count(d, "#rewards .total b") == 3, "owner rewards")
        assert "Claim proof" in driver.find_element(By.ID, "rewards").text
        driver.save_screenshot(str(shots / "dashboard-tampered.png"))
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert severe == []

        # The API docs render from local files too.
        driver.get(server.url + "/docs")
        wait_for(
            driver,
            lambda d: d.find_elements(By.CSS_SELECTOR, ".swagger-ui .opblock"),
            "the API docs",
        )
        assert "/v1/series" in driver.find_element(By.TAG_NAME, "body").text


def test_dashboard_asks_for_a_key_when_keys_are_required(
    sqlite_world: World, tmp_path: Path
) -> None:
    from aggregator.api import ApiKeyConfig

    secret = "dashboard-key-0123456789"
    config = ApiConfig(require_keys=True, keys=[ApiKeyConfig(name="lab", key=secret)], map=OFFLINE)
    api = ApiServer(create_app(sqlite_world.sources, config))
    api.start()
    try:
        with chromium(tmp_path / "profile") as driver:
            driver.get(api.url + "/")
            banner = driver.find_element(By.ID, "error")
            wait_for(driver, lambda d: banner.is_displayed(), "the key request")
            assert "API key" in banner.text
            box = driver.find_element(By.ID, "api-key")
            assert box.is_displayed()
            box.send_keys(secret)
            box.send_keys("\n")
            driver.execute_script("document.getElementById('api-key').blur()")
            wait_for(
                driver,
                lambda d: d.execute_script("return document.body.dataset.loaded"),
                "data loaded with the key",
            )
            assert count(driver, "#map path.device-marker") == len(KEYS)
            wait_for(driver, lambda d: count(d, "#verify-seq option") > 0, "reports listed")
            driver.find_element(By.ID, "verify-btn").click()
            result = driver.find_element(By.ID, "verify-result")
            wait_for(driver, lambda d: result.get_attribute("data-ok") == "true", "verified")
    finally:
        api.stop()
