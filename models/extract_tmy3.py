"""Rebuild ``models/data/tmy3-723170.csv`` from the TMY3 file that pvlib ships.

The replayed weather of the demo's environmental sensors: NREL TMY3 station 723170
(Greensboro Piedmont Triad Intl., NC; 36.1 N, 79.95 W), 8,760 hourly rows, renamed to
the metric catalogue's names and units (pressure in Pa). Needs the ``models`` extra.
"""

from __future__ import annotations

from pathlib import Path

import pvlib

COLUMNS = {
    "temp_air": "temp",
    "temp_dew": "dew",
    "relative_humidity": "rh",
    "pressure": "pres",
    "wind_speed": "wspd",
    "wind_direction": "wdir",
    "ghi": "ghi",
    "dni": "dni",
    "dhi": "dhi",
}
OUTPUT = Path(__file__).with_name("data") / "tmy3-723170.csv"


def main() -> None:
    source = Path(pvlib.__file__).parent / "data" / "723170TYA.CSV"
    data, _ = pvlib.iotools.read_tmy3(str(source), map_variables=True)
    table = data[list(COLUMNS)].rename(columns=COLUMNS)
    table["pres"] = table["pres"] * 100.0  # mbar → Pa
    table.index = table.index.tz_convert("UTC")
    table.index.name = "time"
    OUTPUT.parent.mkdir(exist_ok=True)
    table.to_csv(OUTPUT, float_format="%.6g", date_format="%Y-%m-%dT%H:%M:%SZ")
    print(f"{len(table)} rows written to {OUTPUT}")


if __name__ == "__main__":
    main()
