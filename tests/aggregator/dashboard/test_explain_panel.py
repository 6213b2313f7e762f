"""The device page's explanation panel in headless Chromium: for every device of the
device's owner it draws, in words, what the device earned in an epoch, every factor and
every flag with its reason, as ``/v1/rewards/{owner}/explain`` gives them. The world's
shared cell is full: owner A's newest device there earns nothing ("cell full"), its
other device is paid."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from aggregator.api import ApiServer, create_app
from tests.aggregator.api.explain_world import CAPACITY, FULL, PAID, SHARED_CELL, full_cell_world
from tests.aggregator.api.world import EPOCHS, World
from tests.aggregator.dashboard.browser import chromium, wait_for
from tests.aggregator.dashboard.test_dashboard import SCREENSHOT_DIR_ENV

__all__ = ["full_cell_world"]

PANEL_JS = """
return [...document.querySelectorAll('#dev-explain article.explain-device')].map(a => ({
  device: a.dataset.device,
  earned: a.dataset.earned,
  verdict: a.querySelector('.verdict-line').textContent,
  factors: Object.fromEntries([...a.querySelectorAll('[data-factor]')]
    .map(d => [d.dataset.factor, d.textContent])),
  flags: [...a.querySelectorAll('li[data-flag]')].map(li => ({
    code: li.dataset.flag, severity: li.dataset.severity,
    reason: li.querySelector('.reason').textContent})),
}));
"""


@pytest.fixture(scope="module")
def server(full_cell_world: World) -> Iterator[ApiServer]:
    api = ApiServer(create_app(full_cell_world.sources))
    api.start()
    yield api
    api.stop()


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)


def pct(ppm: int) -> str:
    return f"{ppm / 10_000:.1f} %"


def open_page(driver: WebDriver, server: ApiServer, device: str) -> None:
    driver.get(f"{server.url}/#/devices/{device}")
    wait_for(
        driver,
        lambda d: d.execute_script("return document.body.dataset.device") == device,
        "the device page",
    )
    wait_for(driver, ready, "the explanation")


def ready(driver: WebDriver) -> bool:
    box = driver.find_element(By.ID, "dev-explain")
    return box.get_attribute("data-ready") == "true"


def panel(driver: WebDriver) -> dict[str, dict[str, Any]]:
    return {a["device"]: a for a in driver.execute_script(PANEL_JS)}


def assert_drawn_as_explained(drawn: dict[str, dict[str, Any]], body: dict[str, Any]) -> None:
    """Every device, factor and flag of the API's answer is on the page, in its words."""
    assert set(drawn) == {d["device"] for d in body["devices"]}
    for entry in body["devices"]:
        shown = drawn[entry["device"]]
        assert shown["earned"] == str(int(entry["weight"]) > 0).lower()
        assert shown["factors"]["coverage"] == pct(entry["coveragePpm"])
        assert shown["factors"]["quality"] == pct(entry["qualityPpm"])
        assert shown["factors"]["consistency"] == pct(entry["consistencyPpm"])
        assert shown["factors"]["score"] == pct(entry["scorePpm"])
        assert shown["flags"] == [
            {"code": f["code"], "severity": f["severity"], "reason": f["reason"]}
            for f in entry["flags"]
        ]


def test_the_panel_explains_a_full_cell_and_a_paid_device(
    server: ApiServer, full_cell_world: World, tmp_path: Path
) -> None:
    owner = full_cell_world.owners[FULL]
    body = get_json(f"{server.url}/v1/rewards/{owner}/explain")
    with chromium(tmp_path / "profile") as driver:
        open_page(driver, server, World.hex(FULL))
        box = driver.find_element(By.ID, "dev-explain")
        assert box.get_attribute("data-epoch") == str(EPOCHS - 1)
        assert f"Epoch {EPOCHS - 1}: the owner earned" in box.text
        drawn = panel(driver)
        assert_drawn_as_explained(drawn, body)

        # The device left out of its full cell says why, in words.
        full = drawn[World.hex(FULL)]
        assert full["earned"] == "false"
        assert full["verdict"].startswith(
            f"earned nothing: cell full: {SHARED_CELL} already has {CAPACITY} earning devices"
        )
        capacity = [f for f in full["flags"] if f["code"] == "cell-capacity"]
        assert len(capacity) == 1
        assert capacity[0]["severity"] == "zero"
        assert "(this device)" in box.text

        # The paid device shows what it earned and each factor behind it.
        paid = drawn[World.hex(PAID)]
        assert paid["earned"] == "true"
        assert paid["verdict"].startswith("earned ")
        assert "nothing" not in paid["verdict"]
        assert paid["factors"]["coverage"] == "100.0 %"
        assert float(paid["factors"]["score"].removesuffix(" %")) > 0
        assert not any(f["severity"] == "zero" for f in paid["flags"])
        shots = Path(os.environ.get(SCREENSHOT_DIR_ENV, tmp_path))
        driver.save_screenshot(str(shots / "explain-panel.png"))

        # Another epoch, chosen in the panel, is explained in turn.
        Select(driver.find_element(By.ID, "dev-explain-epoch")).select_by_value("0")
        wait_for(
            driver,
            lambda d: box.get_attribute("data-epoch") == "0" and ready(d),
            "epoch 0's explanation",
        )
        first = get_json(f"{server.url}/v1/rewards/{owner}/explain?epoch=0")
        assert_drawn_as_explained(panel(driver), first)
        assert "Epoch 0: the owner earned" in box.text
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert severe == []


def test_the_panel_shows_only_the_owners_devices_and_nothing_for_the_unregistered(
    server: ApiServer, tmp_path: Path
) -> None:
    with chromium(tmp_path / "profile") as driver:
        open_page(driver, server, World.hex(2))  # owner B's only device
        assert list(panel(driver)) == [World.hex(2)]
        assert panel(driver)[World.hex(2)]["earned"] == "true"
        open_page(driver, server, World.hex(3))  # never registered
        assert panel(driver) == {}
        text = driver.find_element(By.ID, "dev-explain").text
        assert text == "Not registered on-chain: nothing to explain."
