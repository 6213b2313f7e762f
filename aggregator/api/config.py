"""The API's config section: bind address, page sizes, API keys and their rate limits, and
the dashboard map's tiles."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator, model_validator

from fieldproof.config import ConfigModel


class ApiKeyConfig(ConfigModel):
    name: str = Field(description="Who holds the key (shown in logs and /metrics).")
    key: str = Field(min_length=16, description="The secret (use ${secret:NAME}).")
    rate_per_s: float = Field(10.0, gt=0, description="Sustained requests per second.")
    burst: int = Field(20, ge=1, description="Requests allowed at once (bucket size).")
    admin: bool = Field(False, description="May call the /v1/admin endpoints.")


OSM_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)


class MapConfig(ConfigModel):
    """The dashboard map's base layer; the device markers are drawn with or without it."""

    tile_url: str | None = Field(
        OSM_TILE_URL,
        description="Raster tile URL template with {z}, {x} and {y} (Leaflet's syntax, "
        "{s} for subdomains); the browser fetches the tiles. Empty or null: offline mode, "
        "the markers on a plain background and nothing fetched.",
    )
    attribution: str = Field(
        OSM_ATTRIBUTION,
        description="Credit shown on the map for the tiles (HTML); required with a tile_url.",
    )
    max_zoom: int = Field(19, ge=0, le=24, description="Deepest zoom level the tiles serve.")

    @field_validator("tile_url")
    @classmethod
    def _tile_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("https://", "http://", "/")):
            raise ValueError("must be an http(s) URL or a path on this server")
        missing = [part for part in ("{z}", "{x}", "{y}") if part not in value]
        if missing:
            raise ValueError(f"must contain {', '.join(missing)}")
        return value

    @field_validator("attribution")
    @classmethod
    def _attribution(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("tile_url") and not value.strip():
            raise ValueError("tiles need their attribution")
        return value


class ApiConfig(ConfigModel):
    host: str = Field("127.0.0.1", description="Bind address.")
    port: int = Field(8080, ge=0, le=65535, description="Port (0: any free port).")
    require_keys: bool = Field(
        False,
        description="Researchers must send an API key (X-API-Key header); each key has its "
        "own rate limit. Admin endpoints always need an admin key.",
    )
    keys: list[ApiKeyConfig] = Field(default_factory=list, description="API keys.")
    anonymous_rate_per_s: float = Field(
        20.0, gt=0, description="Rate limit per client address when no key is sent."
    )
    anonymous_burst: int = Field(40, ge=1, description="Bucket size for anonymous clients.")
    max_limit: int = Field(10_000, ge=1, description="Largest page a list returns.")
    default_limit: int = Field(1_000, ge=1, description="Page size when none is asked for.")
    max_raw_points: int = Field(
        200_000,
        ge=1,
        description="Most raw points one series query may span (pages are cut from it); "
        "longer asks are refused with a hint to aggregate, narrow or export.",
    )
    max_range_days: float = Field(
        400.0, gt=0, description="Longest time range one series query may span."
    )
    devices: Path | None = Field(
        None, description="YAML of device names and locations (map and bbox queries)."
    )
    stale_after_s: float = Field(
        300.0, gt=0, description="A device silent for longer than this is shown as stale."
    )
    map: MapConfig = Field(
        default_factory=MapConfig,  # type: ignore[arg-type]
        description="The dashboard map's base layer (tiles or offline).",
    )

    @model_validator(mode="after")
    def _check(self) -> ApiConfig:
        if self.default_limit > self.max_limit:
            raise ValueError("default_limit must not exceed max_limit")
        names = [k.name for k in self.keys]
        if len(set(names)) != len(names):
            raise ValueError("keys: names must be unique")
        secrets = [k.key for k in self.keys]
        if len(set(secrets)) != len(secrets):
            raise ValueError("keys: two entries share one secret")
        return self
