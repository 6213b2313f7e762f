"""The dashboard's static files: the vendored Leaflet is upstream's, unmodified, with its
licence; every static file ships in the wheel; the map's tile setting is validated and
served to the dashboard."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from aggregator.api import ApiConfig, MapConfig, create_app
from aggregator.api.app import STATIC_DIR
from aggregator.api.config import OSM_TILE_URL
from tests.aggregator.api.world import World

REPO = Path(__file__).resolve().parents[3]
UPSTREAM = REPO / "node_modules" / "leaflet"
VENDORED = STATIC_DIR / "vendor" / "leaflet"


def test_vendored_leaflet_is_the_upstream_dist() -> None:
    if not UPSTREAM.exists():
        pytest.fail("leaflet not in node_modules; install it with: npm ci")
    pairs = {
        "leaflet.js": UPSTREAM / "dist" / "leaflet.js",
        "leaflet.css": UPSTREAM / "dist" / "leaflet.css",
        "LICENSE": UPSTREAM / "LICENSE",
    }
    for image in (UPSTREAM / "dist" / "images").glob("*.png"):
        pairs[f"images/{image.name}"] = image
    assert len(pairs) == 8
    for name, upstream in pairs.items():
        assert (VENDORED / name).read_bytes() == upstream.read_bytes(), name
    assert "Leaflet 1.9.4" in (VENDORED / "leaflet.js").read_text()[:200]


def test_every_static_file_is_package_data() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["aggregator"]
    package = REPO / "aggregator"
    shipped = {path for pattern in patterns for path in package.glob(pattern) if path.is_file()}
    files = {path for path in STATIC_DIR.rglob("*") if path.is_file()}
    assert files, "no static files found"
    assert files - shipped == set()


def test_tile_url_defaults_to_openstreetmap_with_attribution() -> None:
    config = ApiConfig()  # type: ignore[call-arg]
    assert config.map.tile_url == OSM_TILE_URL
    assert "OpenStreetMap" in config.map.attribution


@pytest.mark.parametrize("offline", [None, "", "  "])
def test_an_empty_tile_url_is_offline_mode(offline: str | None) -> None:
    assert MapConfig(tile_url=offline).tile_url is None


@pytest.mark.parametrize(
    ("tile_url", "attribution", "reason"),
    [
        ("tile.example.org/{z}/{x}/{y}.png", "x", "http(s) URL"),
        ("https://tile.example.org/{z}/{x}.png", "x", "must contain {y}"),
        ("https://tile.example.org/{z}/{x}/{y}.png", " ", "attribution"),
    ],
)
def test_a_bad_tile_setting_is_refused(tile_url: str, attribution: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        MapConfig(tile_url=tile_url, attribution=attribution)


def test_info_gives_the_dashboard_its_map_setting(sqlite_world: World) -> None:
    tiles = MapConfig(tile_url="https://tiles.example.org/{z}/{x}/{y}.png", attribution="Ex")
    info = TestClient(create_app(sqlite_world.sources, ApiConfig(map=tiles))).get("/v1/info")
    assert info.status_code == 200
    assert info.json()["map"] == {
        "tile_url": "https://tiles.example.org/{z}/{x}/{y}.png",
        "attribution": "Ex",
        "max_zoom": 19,
    }
