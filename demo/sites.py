"""Where the demo's devices stand: the twelve national air-quality monitoring sites of
Beijing (coordinates from the national site list, accurate to about 1 km; Beijing
Multi-Site Air-Quality Data, Zhang et al. 2017, UCI ML Repository, CC BY 4.0).

Their nearest neighbours are 3.9-21.6 km apart, so every site falls in its own H3 cell at
the registry's resolution and the scoring has real neighbours to compare.
"""

from __future__ import annotations

from dataclasses import dataclass

from fieldproof.chain.location import cell_from_latlng


@dataclass(frozen=True, slots=True)
class Site:
    name: str
    lat: float
    lon: float

    @property
    def cell(self) -> int:
        """The site's H3 cell as DeviceRegistry takes it."""
        return cell_from_latlng(self.lat, self.lon)


SITES: tuple[Site, ...] = (
    Site("Aotizhongxin", 39.9821, 116.3966),
    Site("Changping", 40.2170, 116.2296),
    Site("Dingling", 40.2915, 116.2202),
    Site("Dongsi", 39.9289, 116.4174),
    Site("Guanyuan", 39.9295, 116.3392),
    Site("Gucheng", 39.9136, 116.1840),
    Site("Huairou", 40.3275, 116.6275),
    Site("Nongzhanguan", 39.9365, 116.4620),
    Site("Shunyi", 40.1350, 116.6636),
    Site("Tiantan", 39.8863, 116.4072),
    Site("Wanliu", 39.9611, 116.2878),
    Site("Wanshouxigong", 39.8784, 116.3621),
)


def site_for(index: int) -> Site:
    """The site of the demo's ``index``-th device (each device its own site)."""
    if not 0 <= index < len(SITES):
        raise ValueError(f"the demo places at most {len(SITES)} devices, one per site")
    return SITES[index]
