"""Fraud simulation: how much of the emission cheaters take under the version 1 and the
version 2 reward rules, and what the version 2 rules cost honest devices.

The network lives around the twelve Beijing monitoring sites of the shared stations data
(hourly meteorology and particulate matter, 2013-2017). Honest devices stand within 5 km
of a site and report its hourly temperature, dew point, pressure, wind speed, PM2.5 and
PM10 through their own sensor: a calibration offset, their own noise, and real faults
(hours without reports, a stuck temperature sensor, a spike). About 30 % of the devices
cheat:

* **cloners**: one real stream under several identities in one cell;
* **fabricators**: plausible made-up data (the site's climatology for the month and hour,
  from the other years, plus noise);
* **replayers**: the same site's data of the same days a year earlier;
* **spoofers**: the data of the site farthest away, claimed for a cell near another;
* **colluders**: groups of 5 in one area agreeing on fake values (the site's data shifted,
  each with its own noise);
* **copiers**: an honest neighbour's published data, with a small offset and a delay.

Every device signs its hourly reports; each simulated day is one epoch bundle. The same
epochs are scored by the version 1 rules and by the version 2 rules (with placements),
and again without the cheaters, to see what honest devices lose.

Usage: ``python bench/fraud.py [--json] [--devices N] [--days D] [--seed S]``.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import random
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import h3

from fieldproof.bundle import BundleReport, build_bundle
from fieldproof.identity import DeviceKey
from fieldproof.rewards.assess import ZERO, assess
from fieldproof.rewards.placement import DevicePlacement
from fieldproof.rewards.rules import DEFAULT_RULES
from fieldproof.rewards.scoring import score_devices
from fieldproof.wire import Record, Report, sign_report

STATIONS = Path(__file__).resolve().parents[2] / "shared" / "data" / "stations" / "beijing"
HOUR = 3600
FIRST_DAY = datetime(2016, 1, 12, tzinfo=UTC)  # Beijing local days (UTC+8)
COLUMNS = {
    "temp": "TEMP",
    "dew": "DEWP",
    "pres": "PRES",
    "wspd": "WSPM",
    "pm25": "PM2.5",
    "pm10": "PM10",
}
# Each honest sensor: calibration offset range and noise (σ) per metric, and PM gain.
OFFSET = {"temp": 0.4, "dew": 0.6, "pres": 60.0, "wspd": 0.3, "pm25": 3.0, "pm10": 5.0}
NOISE = {"temp": 0.2, "dew": 0.3, "pres": 15.0, "wspd": 0.25, "pm25": 3.0, "pm10": 5.0}
KINDS = ("cloner", "fabricator", "replayer", "spoofer", "colluder", "copier")
EMISSION = 10**6


@dataclass(frozen=True, slots=True)
class Site:
    name: str
    lat: float
    lon: float


@dataclass
class Device:
    index: int
    kind: str  # "honest" or one of KINDS
    site: Site
    cell: str
    placed_at: int
    key: DeviceKey
    params: dict[str, Any] = field(default_factory=dict)


Series = dict[int, dict[str, float]]  # hour timestamp -> metric -> value


def load_sites() -> tuple[list[Site], dict[str, dict[int, dict[str, float]]]]:
    sites = []
    with (STATIONS / "stations.csv").open() as handle:
        for row in csv.DictReader(handle):
            sites.append(Site(row["station"], float(row["lat"]), float(row["lon"])))
    data: dict[str, dict[int, dict[str, float]]] = {}
    for site in sites:
        rows: dict[int, dict[str, float]] = {}
        with gzip.open(STATIONS / f"PRSA_{site.name}.csv.gz", "rt", newline="") as handle:
            for row in csv.DictReader(handle):
                local = datetime(
                    int(row["year"]),
                    int(row["month"]),
                    int(row["day"]),
                    int(row["hour"]),
                    tzinfo=UTC,
                )
                t = int((local - timedelta(hours=8)).timestamp())
                values = {}
                for metric, column in COLUMNS.items():
                    if row[column] != "NA":
                        value = float(row[column])
                        values[metric] = value * 100 if metric == "pres" else value
                rows[t] = values
        data[site.name] = rows
    return sites, data


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    la1, lo1, la2, lo2 = map(math.radians, (*a, *b))
    h = (
        math.sin((la2 - la1) / 2) ** 2
        + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    )
    return 12_742 * math.asin(math.sqrt(h))


def near(site: Site, rng: random.Random, radius_km: float = 5.0) -> tuple[float, float]:
    r, a = radius_km * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
    return site.lat + r * math.cos(a) / 111.0, site.lon + r * math.sin(a) / (
        111.0 * math.cos(math.radians(site.lat))
    )


def jitter(seed: int, device: int, t: int, metric: str) -> float:
    """A device's own noise draw for one reading (reproducible)."""
    return random.Random(f"{seed}:{device}:{t}:{metric}").gauss(0.0, 1.0)


class World:
    def __init__(self, devices: int, days: int, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.sites, self.data = load_sites()
        self.start = int(FIRST_DAY.timestamp()) - 8 * HOUR
        self.days = days
        self.devices: list[Device] = []
        cheaters = round(devices * 0.3)
        self._honest(devices - cheaters)
        self._cheaters(cheaters)
        self._published: dict[int, Series] = {}

    def _new(
        self, kind: str, site: Site, position: tuple[float, float], placed_at: int, **params: Any
    ) -> Device:
        index = len(self.devices)
        device = Device(
            index,
            kind,
            site,
            h3.latlng_to_cell(*position, 7),
            placed_at,
            DeviceKey.from_secret(0xF4A0D + self.seed * 100_000 + index),
            params,
        )
        self.devices.append(device)
        return device

    def _honest(self, count: int) -> None:
        for i in range(count):
            site = self.sites[i % len(self.sites)]
            rng = self.rng
            faults: dict[str, Any] = {}
            if rng.random() < 0.12:  # an outage: hours without reports
                faults["gap"] = (rng.randrange(self.days * 24 - 8), rng.randint(2, 8))
            if rng.random() < 0.05:  # a stuck temperature sensor
                faults["stuck"] = (rng.randrange(self.days * 24 - 8), rng.randint(4, 8))
            if rng.random() < 0.03:  # a spike
                faults["spike"] = rng.randrange(self.days * 24)
            self._new(
                "honest",
                site,
                near(site, rng),
                self.start - rng.randint(30, 900) * 86400,
                offset={m: rng.uniform(-o, o) for m, o in OFFSET.items()},
                gain=rng.uniform(0.92, 1.08),
                noise=rng.uniform(0.7, 1.5),
                faults=faults,
            )

    def _cheaters(self, count: int) -> None:
        rng = self.rng
        per = {kind: count // len(KINDS) for kind in KINDS}
        for kind in KINDS[: count - sum(per.values())]:
            per[kind] += 1
        recent = self.start - rng.randint(1, 20) * 86400
        left = per["cloner"]
        while left > 0:  # groups of up to 10 identities in one cell
            size = min(10, left)
            site = rng.choice(self.sites)
            position = near(site, rng)
            for _ in range(size):
                self._new(
                    "cloner",
                    site,
                    position,
                    recent + rng.randint(0, 86400),
                    offset={m: 0.0 for m in OFFSET},
                    gain=1.0,
                    noise=1.0,
                    stream=position,
                )
            left -= size
        for _ in range(per["fabricator"]):
            site = rng.choice(self.sites)
            self._new("fabricator", site, near(site, rng), recent, noise=1.0)
        for _ in range(per["replayer"]):
            site = rng.choice(self.sites)
            self._new("replayer", site, near(site, rng), recent, noise=1.0)
        for _ in range(per["spoofer"]):
            site = rng.choice(self.sites)
            source = max(self.sites, key=lambda s: km((s.lat, s.lon), (site.lat, site.lon)))
            self._new(
                "spoofer",
                site,
                near(site, rng),
                recent,
                source=source.name,
                noise=1.0,
                offset={m: rng.uniform(-o, o) for m, o in OFFSET.items()},
                gain=1.0,
            )
        left = per["colluder"]
        while left > 0:
            size = min(5, left)
            site = rng.choice(self.sites)
            bias = {
                "temp": rng.choice([-3.0, 3.0]),
                "dew": 2.5,
                "pres": 300.0,
                "wspd": 1.5,
                "pm25": rng.choice([0.5, 1.8]),
                "pm10": 1.6,
            }
            for _ in range(size):
                self._new("colluder", site, near(site, rng, 3.0), recent, bias=bias, noise=1.0)
            left -= size
        honest = [d for d in self.devices if d.kind == "honest"]
        for _ in range(per["copier"]):
            victim = rng.choice(honest)
            position = h3.cell_to_latlng(h3.grid_ring(victim.cell, 1)[rng.randrange(6)])
            self._new(
                "copier",
                victim.site,
                position,
                rng.choice([victim.placed_at - 86400, recent]),
                victim=victim.index,
                delay=rng.randint(1, 3),
                shift={
                    "temp": 0.3,
                    "dew": 0.3,
                    "pres": 40.0,
                    "wspd": 0.1,
                    "pm25": 2.0,
                    "pm10": 3.0,
                },
            )

    # -- data ----------------------------------------------------------------------------

    def _sensor(self, device: Device, site: str, t: int, source_t: int) -> dict[str, float]:
        """What an (honest-looking) sensor at ``site`` reads at ``t`` (from ``source_t``)."""
        raw = self.data[site].get(source_t, {})
        out = {}
        for metric, value in raw.items():
            gain = device.params.get("gain", 1.0) if metric.startswith("pm") else 1.0
            noisy = (
                value * gain
                + device.params["offset"][metric]
                + NOISE[metric]
                * device.params["noise"]
                * jitter(self.seed, device.index, t, metric)
            )
            out[metric] = max(0.0, noisy) if metric in ("wspd", "pm25", "pm10") else noisy
        return out

    def _climatology(self, site: str, t: int) -> dict[str, float]:
        when = datetime.fromtimestamp(t + 8 * HOUR, UTC)
        values: dict[str, list[float]] = defaultdict(list)
        for year in range(2013, 2017):
            if year == when.year:
                continue
            for day in range(1, 29):
                other = int(when.replace(year=year, day=day).timestamp()) - 8 * HOUR
                for metric, value in self.data[site].get(other, {}).items():
                    values[metric].append(value)
        return {m: sum(v) / len(v) for m, v in values.items()}

    def published(self, device: Device) -> Series:
        """Every hour's readings ``device`` sends (a missing hour: no report)."""
        if device.index in self._published:
            return self._published[device.index]
        series: Series = {}
        hours = range(-24, self.days * 24)
        for h in hours:
            t = self.start + h * HOUR
            kind = device.kind
            if kind in ("honest", "cloner"):
                # Cloners all send one real stream: one sensor's readings, many identities.
                twin = device if kind == "honest" else self._first_cloner(device)
                values = self._sensor(twin, device.site.name, t, t)
            elif kind == "spoofer":
                values = self._sensor(device, device.params["source"], t, t)
            elif kind == "replayer":
                year_ago = int((datetime.fromtimestamp(t, UTC) - timedelta(days=365)).timestamp())
                values = {
                    m: v + NOISE[m] * jitter(self.seed, device.index, t, m)
                    for m, v in self.data[device.site.name].get(year_ago, {}).items()
                }
            elif kind == "fabricator":
                values = {
                    m: v + 2 * NOISE[m] * jitter(self.seed, device.index, t, m)
                    for m, v in self._climatology(device.site.name, t).items()
                }
            elif kind == "colluder":
                bias = device.params["bias"]
                values = {}
                for m, v in self.data[device.site.name].get(t, {}).items():
                    shifted = v * bias[m] if m.startswith("pm") else v + bias[m]
                    values[m] = shifted + NOISE[m] * jitter(self.seed, device.index, t, m)
            else:  # copier: the victim's published readings, shifted and late
                victim = self.devices[device.params["victim"]]
                source = self.published(victim).get(t - device.params["delay"] * HOUR)
                if source is None:
                    continue
                values = {m: v + device.params["shift"][m] for m, v in source.items()}
            if kind == "honest":
                values = self._faults(device, h, values)
                if values is None:
                    continue
            series[t] = {m: v for m, v in values.items() if math.isfinite(v)}
        self._published[device.index] = series
        return series

    def _first_cloner(self, device: Device) -> Device:
        return next(
            d
            for d in self.devices
            if d.kind == "cloner" and d.params["stream"] == device.params["stream"]
        )

    def _faults(self, device: Device, h: int, values: dict[str, float]) -> dict[str, float] | None:
        faults = device.params["faults"]
        if "gap" in faults and faults["gap"][0] <= h < sum(faults["gap"]):
            return None
        if (
            "stuck" in faults
            and faults["stuck"][0] <= h < sum(faults["stuck"])
            and "temp" in values
        ):
            values["temp"] = 7.25
        if faults.get("spike") == h and "temp" in values:
            values["temp"] += 18.0
        return values

    def reports(self, devices: list[Device], day: int) -> Iterator[BundleReport]:
        for device in devices:
            series = self.published(device)
            for h in range(day * 24, day * 24 + 24):
                t = self.start + h * HOUR
                values = series.get(t)
                if not values:
                    continue
                report = Report(
                    device_id=device.key.device_id,
                    seq=h + 100,
                    start=t,
                    end=t + HOUR,
                    records=tuple(
                        Record(name=f"wx/{m}", value=v) for m, v in sorted(values.items())
                    ),
                )
                yield BundleReport(device.key.device_id, h + 100, sign_report(report, device.key))


def score(world: World, devices: list[Device]) -> dict[str, Any]:
    """Per device: rewards under v1 and v2 over all days, and v2 flags."""
    v1: dict[int, Fraction] = defaultdict(Fraction)
    v2: dict[int, Fraction] = defaultdict(Fraction)
    flags: dict[int, set[str]] = defaultdict(set)
    by_id = {d.key.device_id: d for d in devices}
    placements = {d.key.device_id: DevicePlacement(d.cell, d.placed_at) for d in devices}
    for day in range(world.days):
        reports = list(world.reports(devices, day))
        start = world.start + day * 24 * HOUR
        old = build_bundle(day, start, start + 24 * HOUR, reports)
        scores = score_devices(old)
        total = sum(s.weight for s in scores)
        for s in scores:
            v1[by_id[s.device_id].index] += Fraction(EMISSION * s.weight, total or 1)
        new = build_bundle(day, start, start + 24 * HOUR, reports, placements)
        found = assess(new, None, DEFAULT_RULES)
        total = sum(a.weight for a in found)
        for a in found:
            index = by_id[a.device_id].index
            v2[index] += Fraction(EMISSION * a.weight, total or 1)
            flags[index] |= {f.code for f in a.flags if f.severity == ZERO or f.code == "clone"}
    return {"v1": v1, "v2": v2, "flags": flags}


def share(rewards: dict[int, Fraction], members: list[Device]) -> float:
    total = sum(rewards.values(), Fraction(0))
    return float(sum((rewards[d.index] for d in members), Fraction(0)) / total) if total else 0.0


FRAUD_FLAGS = {"clone", "inconsistent"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--days", type=int, default=3, help="epochs of one day each")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.monotonic()
    world = World(args.devices, args.days, args.seed)
    honest = [d for d in world.devices if d.kind == "honest"]
    cheaters = [d for d in world.devices if d.kind != "honest"]
    full = score(world, world.devices)
    clean = score(world, honest)
    clean_total = sum((clean["v2"][d.index] for d in honest), Fraction(0))
    full_total = sum((full["v2"][d.index] for d in honest), Fraction(0))
    losses = [
        float(1 - full["v2"][d.index] / clean["v2"][d.index])
        for d in honest
        if clean["v2"][d.index] > 0
    ]
    flagged = [d for d in honest if full["flags"][d.index] & FRAUD_FLAGS]
    per_adversary = {}
    for kind in KINDS:
        members = [d for d in cheaters if d.kind == kind]
        per_adversary[kind] = {
            "devices": len(members),
            "reward_share_v1": round(share(full["v1"], members), 4),
            "reward_share_v2": round(share(full["v2"], members), 4),
            "earning_v2": sum(1 for d in members if full["v2"][d.index] > 0),
            "flags_v2": sorted({f for d in members for f in full["flags"][d.index]}),
        }
    out = {
        "devices": len(world.devices),
        "epochs": args.days,
        "cheater_device_share": round(len(cheaters) / len(world.devices), 4),
        "cheater_reward_share_v1": round(share(full["v1"], cheaters), 4),
        "cheater_reward_share_v2": round(share(full["v2"], cheaters), 4),
        "honest_loss_v2": round(float(1 - full_total / clean_total), 4),
        "honest_worst_device_loss_v2": round(max(losses, default=0.0), 4),
        "honest_false_flags": round(len(flagged) / len(honest), 4),
        "honest_fault_flags": {
            code: sum(1 for d in honest if code in full["flags"][d.index])
            for code in ("cell-capacity", "inconsistent", "clone")
        },
        "per_adversary": per_adversary,
        "wall_s": round(time.monotonic() - started, 1),
    }
    if args.json:
        print(json.dumps(out))
    else:
        for key, value in out.items():
            print(f"{key:30} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
