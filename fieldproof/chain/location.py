"""Device locations as the DeviceRegistry keeps them: H3 cells of one resolution, as uint64.

The resolution is fixed on-chain (``DeviceRegistry.CELL_RESOLUTION``); these helpers turn
coordinates and H3's hex strings into the integer the contract takes, and back.
"""

from __future__ import annotations

import h3

from fieldproof.chain.errors import ChainValueError

# Resolution 7 (about 5.2 km² per cell): the reasoning is in contracts/DeviceRegistry.sol.
CELL_RESOLUTION = 7


def cell_from_latlng(lat: float, lon: float) -> int:
    """The resolution-7 cell holding ``lat``, ``lon`` (degrees, WGS 84)."""
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise ChainValueError(f"location {lat}, {lon}: outside -90..90, -180..180")
    return int(h3.str_to_int(h3.latlng_to_cell(lat, lon, CELL_RESOLUTION)))


def parse_cell(value: int | str) -> int:
    """A cell given as an integer, an H3 hex string (``87…``) or ``0x…``; checked."""
    if isinstance(value, int):
        cell = value
    else:
        text = value.strip().lower().removeprefix("0x")
        try:
            cell = int(text, 16)
        except ValueError as exc:
            raise ChainValueError(f"cell {value!r}: not a hexadecimal H3 index") from exc
    check_cell(cell)
    return cell


def check_cell(cell: int) -> None:
    """Fail unless ``cell`` is a valid H3 cell of the registry's resolution."""
    if not 0 < cell < 2**64 or not h3.is_valid_cell(h3.int_to_str(cell)):
        raise ChainValueError(f"cell {cell:#x}: not a valid H3 cell")
    resolution = h3.get_resolution(h3.int_to_str(cell))
    if resolution != CELL_RESOLUTION:
        raise ChainValueError(
            f"cell {h3.int_to_str(cell)}: resolution {resolution}, the registry takes "
            f"{CELL_RESOLUTION}"
        )


def cell_str(cell: int) -> str:
    """H3's usual hex form (``8731aa554ffffff``)."""
    return str(h3.int_to_str(cell))


def cell_center(cell: int) -> tuple[float, float]:
    """The cell's centre as (lat, lon)."""
    lat, lon = h3.cell_to_latlng(h3.int_to_str(cell))
    return float(lat), float(lon)


def parse_location(text: str) -> int:
    """``LAT,LON`` (degrees) or an H3 cell, as the cell the registry takes."""
    if "," in text:
        lat, _, lon = text.partition(",")
        try:
            coordinates = float(lat), float(lon)
        except ValueError as exc:
            raise ChainValueError(f"location {text!r}: expected LAT,LON in degrees") from exc
        return cell_from_latlng(*coordinates)
    return parse_cell(text)
