"""The dashboard's map and device page in headless Chromium: offline, the map draws one
marker per located device, coloured by the state the API reports, and lists the devices
it cannot place; a click opens the device's page, which shows its identity, health,
series, reports (each verifiable) and its owner's rewards. With a tile URL configured,
the map loads its tiles and shows their attribution."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from aggregator.api import ApiConfig, ApiServer, MapConfig, create_app
from aggregator.ledger import Batch, HealthUpdate, StatusUpdate
from fieldproof.identity import DeviceKey
from tests.aggregator.api.world import KEYS, PLACES, World
from tests.aggregator.dashboard.browser import chromium, count, wait_for
from tests.aggregator.dashboard.test_dashboard import SCREENSHOT_DIR_ENV

# Two devices beyond the world's four: one last heard an hour ago (stale) whose heartbeat
# gives its location, and one that is offline with no location anywhere.
STALE = DeviceKey.from_secret(0x57A1E)
UNPLACED = DeviceKey.from_secret(0x0FF)
CHRISTCHURCH = {"lat": -43.5321, "lon": 172.6362}
STALE_AFTER_S = 600.0
COLOURS = {"online": "#16a34a", "stale": "#d97706", "offline": "#9aa5b1"}
TILES = "/static/vendor/leaflet/images/layers.png?z={z}&x={x}&y={y}"

MARKERS_JS = """
return [...document.querySelectorAll('#map path.device-marker')].map(p => {
  const box = p.getBoundingClientRect();
  return {device: p.dataset.device, cls: p.getAttribute('class'), fill: p.getAttribute('fill'),
          x: box.x + box.width / 2, y: box.y + box.height / 2};
});
"""


def hex_of(key: DeviceKey) -> str:
    return "0x" + key.device_id.hex()


def serve(world: World, config: ApiConfig) -> ApiServer:
    sources = replace(world.sources, stale_after_s=STALE_AFTER_S)
    api = ApiServer(create_app(sources, config))
    api.start()
    return api


@pytest.fixture(scope="module")
def server(sqlite_world: World) -> Iterator[ApiServer]:
    now = time.time()
    batch = Batch()
    batch.statuses.append(StatusUpdate(STALE.device_id, "online", now - 3600))
    heartbeat = json.dumps({"fps": 3.0, "location": CHRISTCHURCH})
    batch.healths.append(HealthUpdate(STALE.device_id, heartbeat, now - 3600))
    batch.statuses.append(StatusUpdate(UNPLACED.device_id, "offline", now - 60))
    sqlite_world.ledger.write_batch(batch)
    api = serve(sqlite_world, ApiConfig(map=MapConfig(tile_url=None)))
    yield api
    api.stop()


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)


def expected_state(device: dict[str, Any]) -> str:
    if device["online"]:
        return "online"
    return "stale" if device["state"] == "online" else "offline"


def markers(driver: WebDriver) -> dict[str, dict[str, Any]]:
    return {m["device"]: m for m in driver.execute_script(MARKERS_JS)}


def severe_logs(driver: WebDriver) -> list[dict[str, Any]]:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_the_api_reports_each_state_the_map_draws(server: ApiServer) -> None:
    devices = {d["device"]: d for d in get_json(server.url + "/v1/devices")["items"]}
    states = {device: expected_state(d) for device, d in devices.items()}
    assert [states[hex_of(k)] for k in KEYS] == ["online", "online", "online", "offline"]
    assert states[hex_of(STALE)] == "stale"
    assert devices[hex_of(STALE)]["location"] == CHRISTCHURCH
    assert devices[hex_of(UNPLACED)]["location"] is None
    assert get_json(server.url + "/v1/info")["map"]["tile_url"] is None


def test_offline_map_draws_markers_by_state_and_opens_a_device_page(
    server: ApiServer, sqlite_world: World, tmp_path: Path
) -> None:
    devices = get_json(server.url + "/v1/devices")["items"]
    located = {d["device"]: expected_state(d) for d in devices if d["location"] is not None}
    with chromium(tmp_path / "profile") as driver:
        driver.get(server.url + "/")
        wait_for(driver, lambda d: d.execute_script("return document.body.dataset.loaded"), "load")
        drawn = markers(driver)

        # One marker per located device, its class and fill naming the API's state.
        assert set(drawn) == set(located)
        for device, status in located.items():
            assert f"state-{status}" in drawn[device]["cls"].split(), device
            assert drawn[device]["fill"] == COLOURS[status], device
        assert hex_of(UNPLACED) not in drawn

        # Offline: a plain background, no tile requested, the unplaced device listed.
        assert "offline" in driver.find_element(By.ID, "map").get_attribute("class").split()
        assert count(driver, "#map img") == 0
        listed = driver.find_elements(By.CSS_SELECTOR, "#unplaced a")
        assert [a.get_attribute("data-device") for a in listed] == [hex_of(UNPLACED)]
        assert "1 without a location" in driver.find_element(By.ID, "device-count").text

        # Drawn where they stand: south is lower on the screen, east further right.
        map_box = driver.find_element(By.ID, "map").rect
        for marker in drawn.values():
            assert map_box["x"] <= marker["x"] <= map_box["x"] + map_box["width"]
            assert map_box["y"] <= marker["y"] <= map_box["y"] + map_box["height"]
        auckland, wellington = drawn[World.hex(0)], drawn[World.hex(3)]
        christchurch = drawn[hex_of(STALE)]
        assert auckland["y"] < wellington["y"] < christchurch["y"]
        assert christchurch["x"] < wellington["x"]
        assert severe_logs(driver) == []
        driver.save_screenshot(str(Path(os.environ.get(SCREENSHOT_DIR_ENV, tmp_path)) / "map.png"))

        # A click on a marker opens that device's page.
        wellington_id = World.hex(3)
        driver.find_element(By.CSS_SELECTOR, f'#map path[data-device="{wellington_id}"]').click()
        wait_for(
            driver,
            lambda d: d.execute_script("return document.body.dataset.device") == wellington_id,
            "the device page",
        )
        assert driver.execute_script("return location.hash") == f"#/devices/{wellington_id}"
        assert not driver.find_element(By.ID, "device-page").get_attribute("hidden")
        assert driver.find_element(By.ID, "overview").get_attribute("hidden") is not None
        identity = driver.find_element(By.ID, "dev-identity").text
        assert wellington_id in identity
        assert PLACES[3][0] in identity
        assert "not registered on-chain" in identity
        assert "no rewards" in driver.find_element(By.ID, "dev-rewards").text

        # Back to the overview: the map draws every marker again.
        driver.find_element(By.CSS_SELECTOR, "#device-page a.back").click()
        wait_for(driver, lambda d: len(markers(d)) == len(located), "the markers again")
        assert driver.find_element(By.ID, "device-page").get_attribute("hidden") is not None


def test_device_page_shows_identity_reports_and_a_verify_result(
    server: ApiServer, sqlite_world: World, tmp_path: Path
) -> None:
    device = World.hex(0)
    name, lat, lon = PLACES[0]
    last = sqlite_world.last_seq[device]
    with chromium(tmp_path / "profile") as driver:
        driver.get(f"{server.url}/#/devices/{device}")
        wait_for(
            driver,
            lambda d: d.execute_script("return document.body.dataset.device") == device,
            "the device page",
        )
        assert driver.find_element(By.ID, "dev-title").text == name
        identity = driver.find_element(By.ID, "dev-identity")
        field = {
            f: identity.find_element(By.CSS_SELECTOR, f'[data-field="{f}"]').text
            for f in ("device", "owner", "location", "state")
        }
        assert field["device"] == device
        assert field["owner"].lower() == sqlite_world.owners[0].lower()
        assert field["location"] == f"{lat:.5f}, {lon:.5f}"
        assert field["state"] == "online"
        health = driver.find_element(By.ID, "dev-health").text
        assert "fps" in health
        assert "14.5" in health

        # Its series: one mean per 5 min bucket of its temperature readings.
        assert driver.find_element(By.ID, "dev-metric").get_attribute("value") == "temp"
        buckets = {t // 300 for t, _ in sqlite_world.readings["temp"][device]}
        wait_for(driver, lambda d: count(d, "#dev-chart circle.pt") > 0, "series points")
        assert count(driver, "#dev-chart circle.pt") == len(buckets)
        readings = driver.find_element(By.ID, "dev-readings").text
        assert "temp" in readings
        assert "line1/car/in" in readings

        # Its 20 newest reports, newest first; the newest one's epoch is still open.
        seqs = driver.execute_script(
            "return [...document.querySelectorAll('#dev-reports tbody tr')]"
            ".map(r => Number(r.dataset.seq))"
        )
        assert seqs == list(range(last, last - 20, -1))
        epochs = driver.execute_script(
            "return [...document.querySelectorAll('#dev-reports tbody tr')]"
            ".map(r => r.cells[3].textContent)"
        )
        assert epochs[0] == "open"
        anchored = seqs[epochs.index(next(e for e in epochs if e != "open"))]

        # Verify an anchored report: every check passes.
        driver.find_element(By.CSS_SELECTOR, f'#dev-reports button[data-seq="{anchored}"]').click()
        result = driver.find_element(By.ID, "dev-verify-result")
        wait_for(driver, lambda d: result.get_attribute("data-ok") in ("true", "false"), "verdict")
        assert result.get_attribute("data-ok") == "true", result.text
        assert result.get_attribute("data-seq") == str(anchored)
        assert f"seq {anchored}: verified" in result.text
        assert count(driver, "#dev-verify-result .steps .mark.ok") >= 3
        assert count(driver, "#dev-verify-result .steps .mark.bad") == 0
        shots = Path(os.environ.get(SCREENSHOT_DIR_ENV, tmp_path))
        driver.save_screenshot(str(shots / "device-page.png"))

        # Its owner's rewards.
        wait_for(driver, lambda d: count(d, "#dev-rewards .total b") == 3, "owner rewards")
        assert "Claim proof" in driver.find_element(By.ID, "dev-rewards").text
        assert severe_logs(driver) == []

        # The newest report has no proof yet: the page says so instead of a verdict.
        driver.find_element(By.CSS_SELECTOR, f'#dev-reports button[data-seq="{last}"]').click()
        wait_for(driver, lambda d: result.get_attribute("data-seq") == str(last), "second verdict")
        wait_for(driver, lambda d: result.get_attribute("data-ok") == "false", "refusal")
        assert "not in a closed epoch" in result.text


def test_map_with_a_tile_url_loads_tiles_and_shows_their_attribution(
    server: ApiServer, sqlite_world: World, tmp_path: Path
) -> None:
    # Tiles served by the API itself stand in for a tile server: the test stays offline.
    config = ApiConfig(map=MapConfig(tile_url=TILES, attribution="Tiles by the test"))
    api = serve(sqlite_world, config)
    try:
        with chromium(tmp_path / "profile") as driver:
            driver.get(api.url + "/")
            wait_for(driver, lambda d: count(d, "#map img.leaflet-tile-loaded") > 0, "tiles")
            sources = driver.execute_script(
                "return [...document.querySelectorAll('#map img.leaflet-tile')].map(i => i.src)"
            )
            assert all(s.startswith(api.url + "/static/vendor/leaflet/") for s in sources)
            assert all("z=" in s and "&x=" in s and "&y=" in s for s in sources)
            attribution = driver.find_element(By.CSS_SELECTOR, ".leaflet-control-attribution")
            assert "Tiles by the test" in attribution.text
            assert "offline" not in driver.find_element(By.ID, "map").get_attribute("class")
            wait_for(driver, lambda d: len(markers(d)) == 5, "the markers over the tiles")
            assert severe_logs(driver) == []
    finally:
        api.stop()
