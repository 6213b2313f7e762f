"""The local view in headless Chromium against a running agent: a line placed by two
clicks is saved to agent.yaml and counts from the next interval, without a restart;
from another address the frames come blurred where persons stand."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from edge_agent.config import load_agent_config
from tests.aggregator.dashboard.browser import chromium, wait_for
from tests.edge_agent.view.live import live_runtime, non_loopback_address, street
from tests.edge_agent.view.scene import HEIGHT, WIDTH, person_box, scene_frame


def _click_source_point(driver: WebDriver, section: str, x: float, y: float) -> None:
    """Click the frame of ``section`` at source pixel (x, y)."""
    svg = driver.find_element(By.CSS_SELECTOR, f"{section} svg.overlay")
    width, height = svg.size["width"], svg.size["height"]
    # Offsets count from the element's centre.
    dx = round(x * width / WIDTH - width / 2)
    dy = round(y * height / HEIGHT - height / 2)
    ActionChains(driver).move_to_element_with_offset(svg, dx, dy).click().perform()


def test_a_line_placed_in_the_view_counts_from_the_next_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        live_runtime(tmp_path, monkeypatch, [street()]) as live,
        chromium(tmp_path / "profile") as driver,
    ):
        section = "section[data-camera='street']"
        driver.get(live.url)
        wait_for(driver, lambda d: d.execute_script("return document.body.dataset.loaded"), "state")
        wait_for(
            driver,
            lambda d: d.execute_script(
                f'return document.querySelector("{section} img.frame").naturalWidth'
            ),
            "first frame",
        )
        # Detections and tracks are drawn over the frame.
        wait_for(
            driver,
            lambda d: d.find_elements(By.CSS_SELECTOR, f"{section} svg rect.track"),
            "a track",
        )
        assert "door" not in live.record_names()

        driver.find_element(By.CSS_SELECTOR, f"{section} input.line-name").send_keys("door")
        driver.find_element(By.CSS_SELECTOR, f"{section} button.place").click()
        _click_source_point(driver, section, 10, 120)
        _click_source_point(driver, section, 310, 120)
        status = driver.find_element(By.CSS_SELECTOR, f"{section} .status")
        wait_for(driver, lambda d: "saved" in status.text, "line saved")

        # Written back to the config, validated: the agent's next start reads it.
        line = load_agent_config(live.config_path).cameras[0].lines[0]
        assert line.name == "door"
        assert line.start == pytest.approx((10, 120), abs=2)
        assert line.end == pytest.approx((310, 120), abs=2)
        assert (tmp_path / "agent.yaml.bak").exists()

        # The running camera takes it at its next interval: drawn as a counting line,
        # counted live in the view and in the reports it signs.
        wait_for(
            driver,
            lambda d: d.find_elements(By.CSS_SELECTOR, f"{section} svg line.count-line"),
            "line active",
        )
        wait_for(
            driver,
            lambda d: d.execute_script(
                f"const r = document.querySelector(\"{section} tr[data-line='door']\");"
                "return r && (+r.querySelector('td.in').textContent"
                " + +r.querySelector('td.out').textContent) > 0"
            ),
            "live count",
        )
        deadline = time.monotonic() + 20
        while live.counted("door") == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert live.counted("door") > 0, sorted(live.record_names())
        assert live.runtime.workers[0].camera.lines[0].name == "door"
        severe = [
            e
            for e in driver.get_log("browser")  # type: ignore[no-untyped-call]
            if e["level"] == "SEVERE"
        ]
        assert not severe, severe


def _jpeg(url: str) -> npt.NDArray[np.uint8]:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Type"] == "image/jpeg"
        data = np.frombuffer(response.read(), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    assert image is not None
    return np.asarray(image, dtype=np.uint8)


def _texture(image: npt.NDArray[np.uint8]) -> float:
    """Detail inside the person's box: the mean step between neighbouring pixels (the
    checkerboard's 4-pixel squares make it large; a blur leaves next to none)."""
    x1, y1, x2, y2 = person_box(0)
    inner = image[y1 + 6 : y2 - 6, x1 + 6 : x2 - 6].astype(float)
    return float(max(np.abs(np.diff(inner, axis=0)).mean(), np.abs(np.diff(inner, axis=1)).mean()))


def test_another_address_gets_frames_with_persons_blurred(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    address = non_loopback_address()
    cameras = [
        street(share_frames=True),
        street(name="yard", share_frames=True, redact_shared_frames=False),
        street(name="garden"),
    ]
    with (
        live_runtime(tmp_path, monkeypatch, cameras, view={"bind": "0.0.0.0"}, still=True) as live,
        chromium(tmp_path / "profile") as driver,
    ):
        view = live.runtime.view
        assert view is not None
        local = live.url
        if address is None:  # no other address here: have every peer count as remote
            remote = local
            view.local_peer = lambda host: False
        else:
            remote = f"http://{address}:{view.port}/"
        driver.get(remote)
        wait_for(driver, lambda d: d.execute_script("return document.body.dataset.loaded"), "state")
        wait_for(
            driver,
            lambda d: len(d.find_elements(By.CSS_SELECTOR, "section[data-camera]")) == 3,
            "three cameras",
        )
        sections = {
            n: driver.find_element(By.CSS_SELECTOR, f"section[data-camera='{n}']")
            for n in ("street", "yard", "garden")
        }
        assert sections["street"].get_attribute("data-redacted") == "true"
        assert (
            not sections["garden"]
            .find_element(By.CSS_SELECTOR, ".withheld")
            .get_attribute("hidden")
        )
        # Read-only from there: no line controls.
        assert not sections["street"].find_element(By.CSS_SELECTOR, ".controls").is_displayed()
        wait_for(
            driver,
            lambda d: d.execute_script(
                "return document.querySelector(\"section[data-camera='street'] img.frame\")"
                ".naturalWidth"
            ),
            "redacted frame shown",
        )

        original = scene_frame(0)
        blurred = _jpeg(remote + "api/cameras/street/frame.jpg")
        # The checkerboard person is a smooth blob: no 4-pixel squares left in it.
        assert _texture(original) > 40
        assert _texture(blurred) < 4, _texture(blurred)
        # The street around it is as captured.
        assert np.abs(blurred[:, :100].astype(int) - original[:, :100]).mean() < 3
        # A camera whose config turns redaction off is sent as captured.
        assert _texture(_jpeg(remote + "api/cameras/yard/frame.jpg")) > 30
        # A camera that does not share frames sends none.
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(remote + "api/cameras/garden/frame.jpg", timeout=10)
        assert refused.value.code == 403
        # Lines cannot be changed from there.
        request = urllib.request.Request(
            remote + "api/cameras/street/lines",
            data=json.dumps({"name": "x", "start": [0, 0], "end": [9, 9]}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with pytest.raises(urllib.error.HTTPError) as forbidden:
            urllib.request.urlopen(request, timeout=10)
        assert forbidden.value.code == 403
        assert load_agent_config(live.config_path).cameras[0].lines == ()

        if address is not None:
            # On this machine the same camera's frame is as captured.
            assert _texture(_jpeg(local + "api/cameras/street/frame.jpg")) > 30
