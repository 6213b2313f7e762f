"""The demo's device sites: real, each in its own valid H3 cell of the registry's resolution."""

from __future__ import annotations

import h3
import pytest

from demo.sites import SITES, site_for
from fieldproof.chain.location import CELL_RESOLUTION, cell_str


def test_every_site_has_its_own_valid_cell() -> None:
    cells = [site.cell for site in SITES]
    assert len(set(cells)) == len(SITES) == 12
    for site, cell in zip(SITES, cells, strict=True):
        assert h3.is_valid_cell(cell_str(cell))
        assert h3.get_resolution(cell_str(cell)) == CELL_RESOLUTION
        # The cell holds the site: its centre is within a cell's width of the coordinates.
        lat, lon = h3.cell_to_latlng(cell_str(cell))
        assert h3.great_circle_distance((lat, lon), (site.lat, site.lon), "km") < 2.5


def test_sites_are_handed_out_one_per_device() -> None:
    assert site_for(0).name == "Aotizhongxin"
    assert len({site_for(i).name for i in range(len(SITES))}) == len(SITES)
    with pytest.raises(ValueError, match="at most 12"):
        site_for(len(SITES))
