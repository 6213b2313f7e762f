"""Each role installs what it runs and nothing else, checked on real installs of the tree.

A wheel of the project is built from a copy of the tree, and every distribution it needs
is repacked from this environment into a local wheelhouse; fresh virtual environments
then install from that wheelhouse alone (``--no-index``), so pip resolves the project's
declared requirements with no network. The core install verifies a reading anchored on
anvil; the edge install checks an agent config. About a minute on two cores.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.parser import Parser
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from demo.broker import DemoBroker
from demo.devices import DemoDevice, agent_config, agent_yaml
from fieldproof.bundle import build_bundle, encode_bundle, ipfs_uri, write_bundle
from fieldproof.cli import main
from fieldproof.identity import DeviceKey
from tests.aggregator.anchoring.chainenv import OWNER_A, make_env
from tests.aggregator.anchoring.reports import KEYS, signed

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "fieldproof"
# What only the aggregator, the demo or a role other than the core brings.
NOT_IN_CORE = ("fastapi", "uvicorn", "psycopg", "amqtt", "py-evm", "onnxruntime", "paho-mqtt")
NOT_ON_EDGE = ("fastapi", "psycopg", "amqtt", "py-evm")
EDGE_EXTRAS = ("edge", "cpu")
# Left out of a repacked wheel: pip writes these itself on install.
INSTALL_RECORDS = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})


@dataclass(frozen=True, slots=True)
class Venv:
    path: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def fieldproof(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.path / "bin" / PROJECT), *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def installed(self) -> set[str]:
        listed = _pip("--python", str(self.python), "list", "--format=freeze")
        return {canonicalize_name(line.split("==")[0]) for line in listed.splitlines() if line}


@dataclass(frozen=True, slots=True)
class Installs:
    core: Venv
    edge: Venv


def _pip(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"pip {' '.join(args)} failed:\n{done.stderr[-3000:]}", pytrace=False)
    return done.stdout


def _project_wheel(workdir: Path) -> Path:
    """The project's wheel, built offline from a copy (the build writes into its source)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    source = workdir / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for package in packages:
        shutil.copytree(
            ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    dist = workdir / "dist"
    # This environment's setuptools builds it, so no build requirement is fetched.
    _pip(
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "-q",
        "-w",
        str(dist),
        str(source),
    )
    (wheel,) = dist.glob(f"{PROJECT}-*.whl")
    return wheel


def _wheel_requirements(wheel: Path) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        fields = Parser().parsestr(archive.read(name).decode())
    return [Requirement(line) for line in fields.get_all("Requires-Dist") or ()]


def _closure(requirements: Iterable[Requirement], extras: Iterable[str]) -> set[str]:
    """Every distribution that the project with ``extras`` needs, as installed here."""
    wanted = {"", *extras}
    pending = [
        r
        for r in requirements
        if r.marker is None or any(r.marker.evaluate({"extra": e}) for e in wanted)
    ]
    needed: dict[str, set[str]] = {}
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        if name == PROJECT:
            continue
        have = needed.get(name)
        if have is not None and set(requirement.extras) <= have:
            continue
        chosen = (have or set()) | set(requirement.extras)
        needed[name] = chosen
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            pytest.fail(f"{name} is not installed here: pip install -e '.[cpu,dev]'", pytrace=False)
        for line in dist.requires or ():
            sub = Requirement(line)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in {"", *chosen}):
                pending.append(sub)
    return set(needed)


def _repack(dist: metadata.Distribution, wheelhouse: Path) -> None:
    """A wheel of an installed distribution: its files under site-packages, a fresh RECORD."""
    site = Path(str(dist.locate_file("")))
    files = [
        f
        for f in dist.files or ()
        if f.parts[0] != ".." and "__pycache__" not in f.parts and f.name not in INSTALL_RECORDS
    ]
    infos = {f.parts[0] for f in files if f.parts[0].endswith(".dist-info")}
    if len(infos) != 1:
        pytest.fail(f"{dist.name}: no single .dist-info to repack", pytrace=False)
    (info,) = infos
    tags = [
        line.split(":", 1)[1].strip()
        for line in (site / info / "WHEEL").read_text().splitlines()
        if line.startswith("Tag:")
    ]
    # A compressed tag set: each part lists its alternatives, dot-separated.
    python, abi, platform = (
        ".".join(dict.fromkeys(t.split("-")[i] for t in tags)) for i in range(3)
    )
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"])
    target = wheelhouse / f"{name}-{dist.version}-{python}-{abi}-{platform}.whl"
    record = io.StringIO()
    rows = csv.writer(record, lineterminator="\n")
    # Stored, not deflated: written in seconds, read once.
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
        for file in files:
            data = (site / file).read_bytes()
            archive.writestr(str(file), data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            rows.writerow([str(file), f"sha256={digest.decode()}", len(data)])
        rows.writerow([f"{info}/RECORD", "", ""])
        archive.writestr(f"{info}/RECORD", record.getvalue())


def _venv(path: Path, wheelhouse: Path, wheel: Path, extras: tuple[str, ...]) -> Venv:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    venv = Venv(path)
    spec = f"{PROJECT}[{','.join(extras)}]" if extras else PROJECT
    # This environment's pip installs into the new one: no pip inside it, no ensurepip.
    _pip(
        "--python", str(venv.python), "install", "-q", "--no-compile", "--no-index",
        "--find-links", str(wheelhouse), "--find-links", str(wheel.parent), spec,
    )  # fmt: skip
    return venv


@pytest.fixture(scope="module")
def installs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installs]:
    workdir = tmp_path_factory.mktemp("installs")
    try:
        wheel = _project_wheel(workdir)
        wheelhouse = workdir / "wheelhouse"
        wheelhouse.mkdir()
        for name in sorted(_closure(_wheel_requirements(wheel), EDGE_EXTRAS)):
            _repack(metadata.distribution(name), wheelhouse)
        yield Installs(
            core=_venv(workdir / "core", wheelhouse, wheel, ()),
            edge=_venv(workdir / "edge", wheelhouse, wheel, EDGE_EXTRAS),
        )
    finally:
        # Half a gigabyte of unpacked wheels: not kept with pytest's last temp dirs.
        shutil.rmtree(workdir, ignore_errors=True)


def test_core_installs_no_role(installs: Installs) -> None:
    installed = installs.core.installed()
    assert PROJECT in installed
    assert sorted(set(NOT_IN_CORE) & installed) == []


def test_core_cli_names_the_extra_of_a_missing_role(installs: Installs) -> None:
    helped = installs.core.fieldproof("--help")
    assert helped.returncode == 0, helped.stderr
    assert "verify" in helped.stdout
    agent = installs.core.fieldproof("agent")
    assert agent.returncode != 0
    assert "pip install 'fieldproof[edge]'" in agent.stderr


def test_core_verifies_an_anchored_reading(
    installs: Installs, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    env = make_env("anvil", request)
    key = KEYS[0]
    registered = env.register(key, OWNER_A)
    report = signed(key, 1, registered, 30)
    bundle = build_bundle(0, registered, registered + 60, [report])
    assert bundle.root is not None
    cid, path = write_bundle(tmp_path / "bundles", encode_bundle(bundle))
    env.anchor.anchor(0, bundle.root, bundle.count, ipfs_uri(cid))
    deployment = tmp_path / "deployment.json"
    env.deployment.save(deployment)

    # The aggregator's command (full install) extracts the report and its proof...
    report_file, proof_file = tmp_path / "report.cose", tmp_path / "proof.json"
    extract = ["aggregator", "proof", str(path), "--device", "0x" + key.device_id.hex()]
    extract += ["--seq", "1", "--report-out", str(report_file), "--proof-out", str(proof_file)]
    assert main(extract) == 0
    # ...and the core alone checks them against the chain.
    verified = installs.core.fieldproof(
        "verify", "--report", str(report_file), "--proof", str(proof_file),
        "--rpc", env.url, "--deployment", str(deployment),
    )  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.count("\u2714") == 4


def test_edge_installs_no_server_part(installs: Installs) -> None:
    installed = installs.edge.installed()
    assert {"onnxruntime", "paho-mqtt"} <= installed
    assert sorted(set(NOT_ON_EDGE) & installed) == []


def test_edge_checks_an_agent_config(installs: Installs, tmp_path: Path) -> None:
    device = DemoDevice(0, DeviceKey.generate(), tmp_path, "0x" + "11" * 20, (36.1, -79.9))
    config = agent_config(
        device, DemoBroker(1883, "v5", "mosquitto"), interval_s=5.0, weather_speed=1.0, camera=True
    )
    device.config_path.write_text(agent_yaml(config))
    checked = installs.edge.fieldproof("agent", "check-config", str(device.config_path))
    assert checked.returncode == 0, checked.stderr
    aggregator = installs.edge.fieldproof("aggregator")
    assert aggregator.returncode != 0
    assert "pip install 'fieldproof[aggregator]'" in aggregator.stderr
