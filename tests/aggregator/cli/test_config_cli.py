"""``fieldproof aggregator check-config`` exits 0/1 and names key paths; a bad value
stops ``aggregator run`` at start-up the same way."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from aggregator.config import load_aggregator_config
from fieldproof.cli import main
from tests.aggregator.reports import new_device
from tests.aggregator.runtime import REPO, config_dict, write_config
from tests.services.ports import free_port

ANCHORING = {"rpc": "http://127.0.0.1:8545", "deployment": "deployment.json"}
ANCHORING |= {"key": "env:FP_KEY", "epoch_seconds": 60}


def test_valid_config_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path / "a.yaml", config_dict(tmp_path, 1883, [new_device()]))
    assert main(["aggregator", "check-config", str(path)]) == 0
    assert "valid" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["ledger"].update(url="mysql://x/y"), "ledger -> url"),
        (lambda d: d["series"].update(url="redis://x"), "series -> url"),
        (lambda d: d["ingest"].update(batch_size=0), "ingest -> batch_size"),
        (lambda d: d["mqtt"].update(protocol="4"), "mqtt -> protocol"),
        (lambda d: d["mqtt"].update(group="a/b"), "mqtt -> group"),
        (lambda d: d.update(surprise=1), "surprise"),
        (lambda d: d["registry"].update(mode="chain"), "registry"),
        (lambda d: d["ingest"].update(batch_size=5000), "receive_maximum"),
        (lambda d: d["ingest"].update(verify_workers="many"), "ingest -> verify_workers"),
        (lambda d: d["ingest"].update(verify_workers=-1), "ingest -> verify_workers"),
        (lambda d: d["ingest"].update(verify_workers=True), "ingest -> verify_workers"),
        (lambda d: d.update(roles=["ingest", "mining"]), "roles -> 1"),
        (lambda d: d.update(roles=["anchoring"]), "roles: anchoring needs an 'anchoring'"),
        (lambda d: d.pop("registry"), "roles: ingest needs a 'registry'"),
        (lambda d: d.update(anchoring={**ANCHORING, "rpc": "ws://x"}), "anchoring -> rpc"),
        (lambda d: d.update(anchoring={**ANCHORING, "key": "0xabc"}), "anchoring -> key"),
        (lambda d: d.update(anchoring={**ANCHORING, "epoch_seconds": 0}), "epoch_seconds"),
        (lambda d: d.update(rewards={"emission": -1}), "rewards -> emission"),
        (lambda d: d.update(api={"port": 70000}), "api -> port"),
        (lambda d: d.update(api={"devices": "missing.yaml"}), "api -> devices"),
        (
            lambda d: d.update(api={"map": {"tile_url": "tiles/{z}/{x}/{y}"}}),
            "api -> map -> tile_url",
        ),
        (lambda d: d.update(api={"map": {"tiles": "x"}}), "api -> map -> tiles"),
    ],
)
def test_invalid_config_exits_one_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: object, expected: str
) -> None:
    data = config_dict(tmp_path, 1883, [new_device()])
    change(data)  # type: ignore[operator]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["aggregator", "check-config", str(path)]) == 1
    assert expected in capsys.readouterr().err


def test_missing_or_bad_allowlist_exits_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = config_dict(tmp_path, 1883, [new_device()])
    path = write_config(tmp_path / "a.yaml", data)
    allowlist = Path(data["registry"]["allowlist"]["path"])
    allowlist.write_text("devices:\n  - key: nonsense\n")
    assert main(["aggregator", "check-config", str(path)]) == 1
    assert "devices -> 0 -> key" in capsys.readouterr().err
    allowlist.unlink()
    assert main(["aggregator", "check-config", str(path)]) == 1
    assert "registry -> allowlist -> path" in capsys.readouterr().err


def test_missing_file_exits_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["aggregator", "check-config", str(tmp_path / "nope.yaml")]) == 1
    assert "nope.yaml" in capsys.readouterr().err


def test_auto_verify_workers_is_one_per_usable_core(tmp_path: Path) -> None:
    data = config_dict(tmp_path, 1883, [new_device()])
    data["ingest"]["verify_workers"] = "auto"
    config = load_aggregator_config(write_config(tmp_path / "a.yaml", data))
    assert config.ingest.verify_worker_count == len(os.sched_getaffinity(0))
    data["ingest"]["verify_workers"] = 3
    config = load_aggregator_config(write_config(tmp_path / "b.yaml", data))
    assert config.ingest.verify_worker_count == 3


def test_relative_paths_resolve_from_the_config_folder(tmp_path: Path) -> None:
    data = config_dict(tmp_path, 1883, [new_device()])
    data["ledger"] = {"url": "sqlite:///db/ledger.db"}
    data["anchoring"] = {**ANCHORING, "key": "keystore:keys/anchor.json"}
    (tmp_path / "conf").mkdir()
    config = load_aggregator_config(write_config(tmp_path / "conf" / "a.yaml", data))
    assert config.ledger.url == f"sqlite:///{tmp_path / 'conf' / 'db' / 'ledger.db'}"
    assert config.anchoring is not None
    assert config.anchoring.deployment == tmp_path / "conf" / "deployment.json"
    assert config.anchoring.key == f"keystore:{tmp_path / 'conf' / 'keys' / 'anchor.json'}"
    assert config.anchoring.bundle_dir == tmp_path / "conf" / "bundles"


def test_a_bad_value_stops_start_up_naming_the_key(tmp_path: Path) -> None:
    data = config_dict(tmp_path, 1883, [new_device()])
    data["roles"] = ["ingest", "api"]
    data["api"] = {"max_limit": 0}
    path = write_config(tmp_path / "a.yaml", data)
    started = subprocess.run(
        [sys.executable, "-m", "aggregator", "run", "--config", str(path)],
        cwd=REPO,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 1
    assert "api -> max_limit" in started.stderr
    assert "(value: 0)" in started.stderr


@pytest.mark.parametrize(
    ("ledger", "named"),
    [
        ("sqlite:///{blocker}/ledger.db", "ledger sqlite:///"),
        ("postgresql://fp:hunter2@127.0.0.1:{port}/fp", "ledger postgresql://fp:***@127.0.0.1"),
    ],
)
def test_a_store_that_will_not_open_is_one_line_and_exit_three(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ledger: str, named: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    data = config_dict(tmp_path, 1883, [new_device()])
    data["roles"] = ["projection"]
    data["ledger"] = {"url": ledger.format(blocker=blocker, port=free_port())}
    path = write_config(tmp_path / "a.yaml", data)
    assert main(["aggregator", "run", "--config", str(path)]) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert named in err
    assert "cannot open" in err
    assert "hunter2" not in err
