"""``fieldproof demo``: the whole network on one machine, on embedded defaults.

What runs: the in-process chain with the five contracts deployed; Mosquitto (or the
in-process amqtt broker); the aggregator (SQLite ledger and series, devices checked
against an allowlist built from the on-chain registry); N devices, each a real
``fieldproof agent run`` process with its own encrypted key, registered on-chain by its
own owner with the device's proof of possession at the H3 cell of a real monitoring site
(``demo/sites.py``), with the minimum stake behind it, counting people on the sample video
through NanoDet and replaying real TMY3 weather, time-compressed. Epochs close and are
anchored, rewards are published, one owner claims, and one random reading is verified
end to end against the chain.
"""

from __future__ import annotations

import json
import random
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from aggregator.anchoring.chain import ContractChain
from aggregator.anchoring.placements import DeviceFilePlacements
from aggregator.anchoring.service import AnchorSettings, EpochAnchorer
from aggregator.anchoring.state import EpochRecord, EpochStatus
from aggregator.config import AggregatorConfig
from aggregator.errors import AggregatorError
from aggregator.ledger import SqlLedger, open_ledger
from aggregator.service import Aggregator
from demo.broker import DemoBroker, start_demo_broker
from demo.devices import (
    DemoDevice,
    agent_config,
    create_device,
    start_agent,
    stop_agent,
)
from demo.sites import site_for
from fieldproof.bundle import ipfs_uri, read_bundle
from fieldproof.chain.backends import connect, prefunded_keys
from fieldproof.chain.deploy import Deployment, deploy_all
from fieldproof.chain.location import cell_str
from fieldproof.chain.pop import sign_pop
from fieldproof.chain.sender import Sender
from fieldproof.identity import device_id_hex
from fieldproof.rewards.explain import explain_owner, factor_lines
from fieldproof.rewards.tree import load_tree, owner_leaf
from fieldproof.verify import ContractView, all_ok, verify

EMISSION = 1_000 * 10**18


@dataclass(frozen=True, slots=True)
class DemoOptions:
    devices: int = 3
    duration: float = 60.0
    epoch: int = 15
    interval: float = 3.0
    weather_speed: float = 3600.0  # an hour of recorded weather each second
    workdir: Path | None = None
    keep: bool = False
    seed: int | None = None
    prefer_mosquitto: bool = True
    serve: bool = False
    port: int = 8080


@dataclass
class DemoResult:
    reports_published: int = 0
    reports_stored: int = 0
    reports_rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    epochs_anchored: int = 0
    reward_roots: int = 0
    verified_reading: bool = False
    verification: list[dict[str, Any]] = field(default_factory=list)
    claims: int = 0
    owners_paid: int = 0
    claimed_amount: str = "0"
    # One device of one owner in the last rewarded epoch: why it earned what it earned.
    explained_reward: dict[str, Any] | None = None
    devices: list[dict[str, Any]] = field(default_factory=list)
    broker: str = ""
    chain: str = ""
    workdir: str = ""
    wall_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


Progress = Callable[[str], None]


class DemoNetwork:
    """Starts every part, runs for a while, then closes the books and checks them."""

    def __init__(self, options: DemoOptions, progress: Progress) -> None:
        self.options = options
        self.progress = progress
        self.random = random.Random(options.seed)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if options.workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="fieldproof-demo-")
            self.workdir = Path(self._tmp.name)
        else:
            self.workdir = options.workdir
            self.workdir.mkdir(parents=True, exist_ok=True)
        self.devices: list[DemoDevice] = []
        self.broker: DemoBroker | None = None
        self.aggregator: Aggregator | None = None
        self.anchorer: EpochAnchorer | None = None
        self.state: SqlLedger | None = None
        self.result = DemoResult(workdir=str(self.workdir))
        self.api: Any = None
        self.ledger_url = f"sqlite:///{self.workdir / 'ledger.sqlite'}"

    # -- set-up -------------------------------------------------------------------------

    def _chain(self) -> None:
        from eth_account import Account

        self.w3 = connect("eth-tester://")
        _serialise_requests(self.w3)
        keys = prefunded_keys(self.w3)
        if len(keys) < self.options.devices + 1:
            raise AggregatorError(f"demo: at most {len(keys) - 1} devices on the in-process chain")
        self.operator = Account.from_key(keys[0])
        self.owners = [Account.from_key(k) for k in keys[1 : self.options.devices + 1]]
        self.operator_sender = Sender(self.w3, self.operator)
        self.deployment: Deployment = deploy_all(self.operator_sender)
        self.deployment.save(self.workdir / "deployment.json")
        self.result.chain = f"eth-tester (in-process), chain id {self.deployment.chain_id}"
        self.progress(f"chain: contracts deployed ({self.result.chain})")

    def _register(self, device: DemoDevice, owner: Any, cell: int) -> None:
        """The owner registers the device at its cell and stakes the minimum behind it
        (tokens from the operator, who holds the genesis supply), so it can be rewarded."""
        sender = Sender(self.w3, owner)
        registry = self.deployment.registry(self.w3, sender)
        nonce = registry.nonce_of(device.key.device_id)
        pop = sign_pop(device.key, registry.address, self.deployment.chain_id, owner.address, nonce)
        lat, lon = device.location
        registry.register(pop, metadata_uri=f"geo:{lat:.5f},{lon:.5f}", cell=cell)
        staking = self.deployment.staking(self.w3, sender)
        stake = staking.min_stake()
        self.deployment.token(self.w3, self.operator_sender).transfer(owner.address, stake)
        self.deployment.token(self.w3, sender).approve(staking.address, stake)
        staking.stake_to(device.key.device_id, stake)

    def _devices(self) -> None:
        registry = self.deployment.registry(self.w3)
        allowlist: list[dict[str, Any]] = []
        meta: list[dict[str, Any]] = []
        for index, owner in enumerate(self.owners):
            site = site_for(index)
            location = (site.lat, site.lon)
            device = create_device(index, self.workdir, owner.address, location)
            self._register(device, owner, site.cell)
            # The allowlist is the registry as the aggregator sees it: keys read back on-chain.
            public_key = registry.public_key_of(device.key.device_id)
            allowlist.append(
                {"key": "0x" + public_key.hex(), "active": registry.is_active(device.key.device_id),
                 "name": device.name}
            )  # fmt: skip
            meta.append(
                {"id": device_id_hex(device.key.device_id), "name": device.name,
                 "lat": location[0], "lon": location[1]}
            )  # fmt: skip
            self.devices.append(device)
            self.progress(
                f"device {device.name} {device_id_hex(device.key.device_id)[:18]}… "
                f"registered and staked by owner {owner.address} at {site.name} "
                f"(H3 {cell_str(site.cell)})"
            )
        # The in-process chain stamps each block at least a second after the last, so after
        # a burst of transactions its clock runs ahead of ours; devices start reporting only
        # once they are registered by our clock too.
        registered_at = int(self.w3.eth.get_block("latest")["timestamp"])
        time.sleep(max(0.0, registered_at + 1 - time.time()))
        (self.workdir / "allowlist.yaml").write_text(yaml.safe_dump({"devices": allowlist}))
        (self.workdir / "devices.yaml").write_text(yaml.safe_dump({"devices": meta}))

    def _aggregator(self) -> None:
        assert self.broker is not None
        # Validated by the aggregator's own model; built from a mapping because its fields
        # declare their defaults positionally, which type checkers read as required.
        config = AggregatorConfig.model_validate(
            {
                "roles": ["ingest", "projection"],
                "mqtt": {
                    "url": self.broker.url,
                    "protocol": "5" if self.broker.protocol == "v5" else "3.1.1",
                    "client_id": "fieldproof-demo-aggregator",
                },
                "ledger": {"url": self.ledger_url},
                "series": {"url": f"sqlite:///{self.workdir / 'series.sqlite'}"},
                "registry": {
                    "mode": "allowlist",
                    "allowlist": {"path": str(self.workdir / "allowlist.yaml")},
                },
                "metrics": {"enabled": False},
            }
        )
        self.aggregator = Aggregator(config)
        self.aggregator.start()
        self.progress(f"aggregator: subscribed on {self.broker.name} at {self.broker.url}")

    def _anchoring(self, genesis: int) -> None:
        # Anchor state lives in the ledger, whose schema the started aggregator migrated; the
        # anchorer reads and closes epochs through a connection of its own, as the
        # aggregator's anchoring role does.
        assert self.aggregator is not None
        self.state = open_ledger(self.ledger_url, migrate=False)
        chain = ContractChain(
            self.deployment.anchor(self.w3, self.operator_sender),
            self.deployment.distributor(self.w3, self.operator_sender),
            self.deployment.registry(self.w3),
        )
        settings = AnchorSettings(
            bundle_dir=self.workdir / "bundles",
            epoch_seconds=self.options.epoch,
            genesis=genesis,
            grace_seconds=1.0,
            emission=EMISSION,
            first_epoch=0,
        )
        # The device file's coordinates give each device its cell in the epoch bundles.
        placements = DeviceFilePlacements(self.workdir / "devices.yaml")
        self.anchorer = EpochAnchorer(
            settings, self.state, chain, self.state, placements=placements
        )

    # -- run ----------------------------------------------------------------------------

    def _serve_api(self) -> None:
        """The HTTP API and dashboard over the demo's stores and chain, while it runs."""
        from aggregator.api import ApiConfig, ApiSources, ContractReader
        from aggregator.api.app import create_app
        from aggregator.api.devicefile import load_devices
        from aggregator.api.server import ApiServer

        assert self.aggregator is not None
        assert self.aggregator.reader is not None
        assert self.aggregator.series is not None
        sources = ApiSources(
            ledger=self.aggregator.reader,
            series=self.aggregator.series,
            anchors=self.aggregator.reader,
            bundle_dir=self.workdir / "bundles",
            chain=ContractReader.from_deployment(self.w3, self.deployment),
            devices=load_devices(self.workdir / "devices.yaml"),
        )
        # The demo runs offline: the map draws its markers without tiles.
        config = ApiConfig.model_validate({"map": {"tile_url": None}})
        self.api = ApiServer(create_app(sources, config), port=self.options.port)
        self.api.start()
        self.progress(f"dashboard and API at {self.api.url}/ (OpenAPI docs at {self.api.url}/docs)")

    def run(self, on_finished: Callable[[DemoResult], None] | None = None) -> DemoResult:
        started = time.monotonic()
        try:
            self._chain()
            self.broker = start_demo_broker(
                self.workdir, prefer_mosquitto=self.options.prefer_mosquitto
            )
            self.result.broker = self.broker.name
            self._devices()
            self._aggregator()
            genesis = int(time.time())
            self._anchoring(genesis)
            if self.options.serve:
                self._serve_api()
            for device in self.devices:
                config = agent_config(
                    device,
                    self.broker,
                    interval_s=self.options.interval,
                    weather_speed=self.options.weather_speed,
                    camera=True,
                )
                start_agent(device, config)
            self.progress(
                f"{len(self.devices)} agents started; running {self.options.duration:g} s"
            )
            self._loop(time.monotonic() + self.options.duration)
            self._drain()
            self._close_books()
            self._claim()
            self._verify_random_reading()
            self.result.wall_s = round(time.monotonic() - started, 1)
            if on_finished is not None:
                on_finished(self.result)
            if self.api is not None:
                self.progress(f"serving {self.api.url}/ until Ctrl-C")
                _wait_for_interrupt()
        finally:
            self._shutdown()
        return self.result

    def _loop(self, until: float) -> None:
        assert self.anchorer is not None
        last_line = 0.0
        while time.monotonic() < until:
            self.anchorer.tick()
            for device in self.devices:
                if device.process is not None and device.process.poll() is not None:
                    raise AggregatorError(
                        f"demo: agent {device.name} exited with status "
                        f"{device.process.returncode}; see {device.log_path}"
                    )
            if time.monotonic() - last_line >= 2.0:
                self._count()
                left = max(0.0, until - time.monotonic())
                self.progress(
                    f"[{left:4.0f} s left] reports published {self.result.reports_published:4d}"
                    f"  stored {self.result.reports_stored:4d}"
                    f"  rejected {self.result.reports_rejected}"
                    f"  | epochs anchored {self.result.epochs_anchored}"
                    f"  reward roots {self.result.reward_roots}"
                )
                last_line = time.monotonic()
            time.sleep(0.25)

    def _published(self) -> int:
        """Reports the devices' brokers acknowledged (the agent deletes a report on PUBACK)."""
        total = 0
        for device in self.devices:
            stats = device.outbox_stats()
            if stats is not None:
                total += stats.acknowledged
        return total

    def _count(self) -> None:
        assert self.aggregator is not None
        assert self.aggregator.reader is not None
        assert self.state is not None
        reader = self.aggregator.reader
        self.result.reports_published = self._published()
        self.result.reports_stored = reader.count_reports()
        rejected = reader.dead_letter_counts()
        self.result.rejected_by_reason = dict(rejected)
        self.result.reports_rejected = sum(rejected.values())
        epochs = self.state.epochs()
        anchored = [e for e in epochs if e.status in (EpochStatus.ANCHORED, EpochStatus.DONE)]
        self.result.epochs_anchored = len(anchored)
        self.result.reward_roots = sum(1 for e in anchored if e.reward_tx is not None)

    def _drain(self) -> None:
        """Stop the devices, then wait until everything they published is stored."""
        for device in self.devices:
            self.result.devices.append(
                {
                    "name": device.name,
                    "device_id": device_id_hex(device.key.device_id),
                    "owner": device.owner,
                    "site": site_for(device.index).name,
                    "cell": cell_str(site_for(device.index).cell),
                    "agent_exit": stop_agent(device),
                }
            )
        self.progress("agents stopped; waiting for the aggregator to store what they published")
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline:
            self._count()
            if self.result.reports_stored + self.result.reports_rejected >= (
                self.result.reports_published
            ):
                return
            time.sleep(0.2)

    def _close_books(self) -> None:
        """Close every epoch that holds reports, the one in progress included."""
        assert self.anchorer is not None
        end = time.time() + self.options.epoch + 2.0
        self.anchorer.tick(now=end)
        self._count()
        self.progress(
            f"books closed: {self.result.epochs_anchored} epochs anchored, "
            f"{self.result.reward_roots} reward roots published"
        )

    def _latest_reward_epoch(self) -> EpochRecord | None:
        assert self.state is not None
        rewarded = [
            e
            for e in self.state.epochs()
            if e.status is EpochStatus.DONE and e.reward_root is not None
        ]
        return rewarded[-1] if rewarded else None

    def _claim(self) -> None:
        record = self._latest_reward_epoch()
        if record is None or record.cid is None:
            self.progress("no reward epoch to claim from")
            return
        _, _, dump = read_bundle(self.workdir / "bundles" / f"{record.cid}.json")
        if self.owners:
            self._explain_newest(self.owners[0].address)
        tree = None if dump is None else load_tree(dump)
        if tree is None:
            return
        token = self.deployment.token(self.w3)
        for owner in self.owners[:1]:
            found = owner_leaf(tree, owner.address)
            if found is None:
                continue
            index, cumulative = found
            # Any account may submit the claim; here the owner pays its own gas.
            distributor = self.deployment.distributor(self.w3, Sender(self.w3, owner))
            before = token.balance_of(owner.address)
            distributor.claim(owner.address, cumulative, tree.get_proof(index))
            paid = token.balance_of(owner.address) - before
            if paid > 0:
                self.result.claims += 1
                self.result.claimed_amount = str(paid)
                self.progress(f"owner {owner.address} claimed {paid / 10**18:.3f} FPR")
        self.result.owners_paid = sum(
            1 for owner in self.owners if token.balance_of(owner.address) > 0
        )

    def _explain_newest(self, owner: str) -> None:
        """Explain the newest rewarded epoch in which ``owner`` had a device (the last one
        may close with only a few seconds of reports, none of them the owner's)."""
        assert self.state is not None
        for record in reversed(self.state.epochs()):
            if record.status is not EpochStatus.DONE or record.cid is None:
                continue
            _, _, dump = read_bundle(self.workdir / "bundles" / f"{record.cid}.json")
            if dump is not None and self._explain(dump, owner):
                return

    def _explain(self, dump: dict[str, Any], owner: str) -> bool:
        explained = explain_owner(dump, owner)
        if not explained["devices"]:
            return False
        entry = explained["devices"][0]
        self.result.explained_reward = {
            "epoch": explained["epoch"],
            "owner": explained["owner"],
            "device": entry["device"],
            "amount": entry["amount"],
            "lines": factor_lines(entry),
        }
        return True

    def _verify_random_reading(self) -> None:
        assert self.state is not None
        anchored = [
            e
            for e in self.state.epochs()
            if e.count > 0 and e.cid is not None
            and e.status in (EpochStatus.ANCHORED, EpochStatus.DONE)
        ]  # fmt: skip
        if not anchored:
            self.progress("no anchored epoch to verify a reading from")
            return
        record = self.random.choice(anchored)
        assert record.cid is not None
        cid, bundle, _ = read_bundle(self.workdir / "bundles" / f"{record.cid}.json")
        report = self.random.choice(bundle.reports)
        proof = bundle.proof(report.device_id, report.seq, ipfs_uri(cid))
        view = ContractView(self.deployment.registry(self.w3), self.deployment.anchor(self.w3))
        steps = verify(report.raw, proof, view)
        self.result.verified_reading = all_ok(steps)
        self.result.verification = [
            {"step": step.name, "ok": step.ok, "detail": step.detail} for step in steps
        ]
        self.progress(
            f"verified {device_id_hex(report.device_id)[:18]}… seq {report.seq} "
            f"(epoch {record.epoch}): "
            + ", ".join(f"{'✔' if s.ok else '✘'} {s.name}" for s in steps)
        )

    def _shutdown(self) -> None:
        if self.api is not None:
            self.api.stop()
        for device in self.devices:
            stop_agent(device, timeout=5.0)
            device.close_outbox()
        if self.aggregator is not None:
            self.aggregator.stop()
        if self.state is not None:
            self.state.close()
        if self.broker is not None:
            self.broker.stop()
        if self._tmp is not None and not self.options.keep:
            self._tmp.cleanup()


def _serialise_requests(w3: Any) -> None:
    """Let one thread at a time into the in-process chain (the API reads it from its own)."""
    lock = threading.Lock()
    make_request = w3.provider.make_request

    def locked(method: Any, params: Any) -> Any:
        with lock:
            return make_request(method, params)

    w3.provider.make_request = locked


def _wait_for_interrupt() -> None:
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def print_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_demo(
    options: DemoOptions,
    progress: Progress = print_progress,
    on_finished: Callable[[DemoResult], None] | None = None,
) -> DemoResult:
    return DemoNetwork(options, progress).run(on_finished)


def summary(result: DemoResult) -> str:
    ok = "✔" if result.verified_reading else "✘"
    lines = [
        "",
        "fieldproof demo — summary",
        f"  broker            {result.broker}",
        f"  chain             {result.chain}",
        f"  reports           {result.reports_published} published, "
        f"{result.reports_stored} stored, {result.reports_rejected} rejected",
        f"  epochs anchored   {result.epochs_anchored} ({result.reward_roots} reward roots)",
        f"  claims            {result.claims} ({result.owners_paid} owners paid)",
        f"  verified reading  {ok}",
        f"  wall time         {result.wall_s} s",
    ]
    explained = result.explained_reward
    if explained is not None:
        lines.append(
            f"  explained reward  epoch {explained['epoch']}, owner {explained['owner']}, "
            f"device {explained['device']}:"
        )
        lines += [f"      {line}" for line in explained["lines"]]
    return "\n".join(lines)


def result_json(result: DemoResult) -> str:
    return json.dumps(result.to_json())


__all__ = ["DemoOptions", "DemoResult", "result_json", "run_demo", "summary"]
