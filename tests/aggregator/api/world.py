"""A small deployment for API and dashboard tests: signed reports in a real ledger,
projected into a real series store, epochs closed and anchored on an in-process chain,
rewards published. Expected answers are computed from the generated readings."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from eth_hash.auto import keccak

from aggregator.anchoring.service import AnchorSettings, EpochAnchorer
from aggregator.api import ApiSources, ContractReader, DeviceMeta
from aggregator.ledger import Batch, HealthUpdate, IncomingReport, SqlLedger, StatusUpdate
from aggregator.series import Projector, SeriesStore
from fieldproof.identity import DeviceKey
from fieldproof.rewards.placement import DevicePlacement, StaticPlacements, cell_of
from fieldproof.rewards.rules import DEFAULT_RULES, RuleParams
from fieldproof.wire import Record, Report, sign_report
from tests.aggregator.anchoring.chainenv import OWNER_A, OWNER_B, ChainEnv

EPOCH_S = 600
INTERVAL_S = 60
EPOCHS = 3
KEYS: tuple[DeviceKey, ...] = tuple(DeviceKey.from_secret(0xA11CE + i) for i in range(4))
# (name, lat, lon): three in Auckland, one in Wellington.
PLACES = (
    ("harbour-bridge", -36.8321, 174.7460),
    ("queen-st", -36.8485, 174.7633),
    ("domain", -36.8600, 174.7770),
    ("lambton-quay", -41.2812, 174.7762),
)
OWNERS = (OWNER_A, OWNER_A, OWNER_B, None)  # the last device is never registered


def temp_of(device: int, n: int) -> float:
    # Quarter degrees are exact in float32, so every backend returns them unchanged.
    return 12.0 + device * 2 + (n % 8) * 0.25


def cars_of(device: int, n: int) -> float:
    return float((n * (device + 1)) % 5)


@dataclass
class World:
    genesis: int
    end: int
    ledger: SqlLedger
    series: SeriesStore
    sources: ApiSources
    owners: dict[int, str]
    # (device hex) -> [(time, value)] of every raw reading, per metric.
    readings: dict[str, dict[str, list[tuple[float, float]]]] = field(default_factory=dict)
    last_seq: dict[str, int] = field(default_factory=dict)
    env: ChainEnv | None = None
    directory: Path | None = None

    @staticmethod
    def hex(index: int) -> str:
        return "0x" + KEYS[index].device_id.hex()

    def expected(
        self, metric: str, devices: list[str], every: int | None, agg: str | None
    ) -> list[tuple[str, float, float]]:
        """What a series query must return, from the readings as generated."""
        out: list[tuple[str, float, float]] = []
        for device in sorted(devices):
            points = sorted(self.readings.get(metric, {}).get(device, []))
            if every is None:
                out.extend((device, t, v) for t, v in points)
                continue
            buckets: dict[float, list[float]] = defaultdict(list)
            for t, v in points:
                buckets[(t // every) * every].append(v)
            for bucket, values in sorted(buckets.items()):
                value = {
                    "mean": sum(values) / len(values),
                    "min": min(values),
                    "max": max(values),
                    "sum": sum(values),
                    "count": float(len(values)),
                }[agg or "mean"]
                out.append((device, bucket, value))
        return out


def build_world(
    tmp_path: Path,
    ledger: SqlLedger,
    series: SeriesStore,
    env: ChainEnv,
    *,
    placed: Mapping[int, DevicePlacement] | None = None,
    rules: RuleParams = DEFAULT_RULES,
) -> World:
    """``placed``: placements by device index instead of each device's own cell
    (placed at 0); ``rules``: the reward rules the epochs are scored by."""
    owners: dict[int, str] = {}
    for index, owner in enumerate(OWNERS):
        if owner is not None:
            env.register(KEYS[index], owner)
            owners[index] = env.address(owner)
    # Reports start after every registration, so verification's last step holds.
    genesis = (env.latest_timestamp() // EPOCH_S + 1) * EPOCH_S
    readings: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    last_seq: dict[str, int] = {}
    batch = Batch()
    per_epoch = EPOCH_S // INTERVAL_S
    for index, key in enumerate(KEYS):
        device = World.hex(index)
        for n in range(EPOCHS * per_epoch):
            start = genesis + n * INTERVAL_S
            seq = n + 1
            temp, cars = temp_of(index, n), cars_of(index, n)
            records = (
                Record(name="temp", unit="Cel", value=temp, time=float(start)),
                Record(name="line1/car/in", unit="count", value=cars, time=float(start)),
                Record(name="line1/person/out", unit="count", value=1.0, time=float(start)),
            )
            raw = sign_report(Report(key.device_id, seq, start, start + INTERVAL_S, records), key)
            readings["temp"][device].append((float(start), temp))
            readings["line1/car/in"][device].append((float(start), cars))
            readings["line1/person/out"][device].append((float(start), 1.0))
            batch.reports.append(
                IncomingReport(
                    device_id=key.device_id,
                    seq=seq,
                    received_at=float(start + INTERVAL_S + 2),
                    start=start,
                    end=start + INTERVAL_S,
                    raw=raw,
                    digest=bytes(keccak(raw)),
                )
            )
            last_seq[device] = seq
        at = float(genesis + EPOCHS * EPOCH_S)
        batch.statuses.append(StatusUpdate(key.device_id, "online" if index < 3 else "offline", at))
        health = {"fps": 14.5 + index, "gpu": 40 + 5 * index, "outbox_depth": index}
        batch.healths.append(HealthUpdate(key.device_id, json.dumps(health), at))
    ledger.write_batch(batch)
    Projector(ledger, series).catch_up()
    settings = AnchorSettings(
        bundle_dir=tmp_path / "bundles",
        epoch_seconds=EPOCH_S,
        genesis=genesis,
        grace_seconds=1,
        emission=1_000 * 10**18,
        rules=rules,
    )
    # Each device's place goes into the bundles, so rewards are explained per device.
    if placed is None:
        placed = {
            i: DevicePlacement(cell_of(lat, lon, 7), 0) for i, (_, lat, lon) in enumerate(PLACES)
        }
    placements = StaticPlacements({KEYS[i].device_id: p for i, p in placed.items()})
    anchorer = EpochAnchorer(settings, ledger, env.contract_chain(), ledger, placements=placements)
    anchorer.tick(float(genesis))  # the first tick fixes epoch 0 at genesis
    # The last report of each device arrives just after the last window: it stays open.
    anchorer.tick(float(genesis + EPOCHS * EPOCH_S + 5))
    sources = ApiSources(
        ledger=ledger,
        series=series,
        anchors=ledger,
        bundle_dir=settings.bundle_dir,
        chain=ContractReader.from_deployment(env.w3, env.deployment),
        devices={
            KEYS[i].device_id: DeviceMeta(name, lat, lon)
            for i, (name, lat, lon) in enumerate(PLACES)
        },
        stale_after_s=10 * 86_400,
    )
    return World(
        genesis=genesis,
        end=genesis + EPOCHS * EPOCH_S + INTERVAL_S,
        ledger=ledger,
        series=series,
        sources=sources,
        owners=owners,
        readings={k: dict(v) for k, v in readings.items()},
        last_seq=last_seq,
        env=env,
        directory=tmp_path,
    )
