"""An epoch's rewards: the emission split among owners, cumulative totals, the reward tree.

:func:`score_epoch` is pure: given the epoch bundle, the device → owner map, the emission
and the cumulative totals before the epoch, it always yields the same reward root. The
reward epoch's dump (kept in the epoch bundle) holds those inputs, so anyone can re-run
the scoring with :func:`rescore` and compare roots.

The split is integer and floors every owner's share, so what is paid out is the emission
less a dust smaller than the number of paid owners; the dust is not carried over.

A bundle that records placements (version 2) is scored with the version 2 rules
(:mod:`fieldproof.rewards.assess`) and its dump (``fieldproof-rewards-v2``) explains every
device; a version 1 bundle keeps its original scoring, so old roots still re-run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from eth_utils.address import is_address, to_checksum_address

from fieldproof.bundle import EpochBundle
from fieldproof.errors import MerkleError, RewardValueError
from fieldproof.merkle import StandardMerkleTree
from fieldproof.rewards.assess import Assessment, assess
from fieldproof.rewards.rules import DEFAULT_RULES, RuleParams
from fieldproof.rewards.scoring import DEFAULT_PARAMS, DeviceScore, ScoringParams, score_devices

REWARD_LEAF_TYPES: tuple[str, ...] = ("address", "uint256")
REWARD_FORMAT = "fieldproof-rewards-v1"
REWARD_FORMAT_V2 = "fieldproof-rewards-v2"
MAX_UINT256 = 2**256 - 1


def checksum(address: str) -> str:
    if not isinstance(address, str) or not is_address(address):
        raise RewardValueError(f"rewards: {address!r} is not an address")
    return str(to_checksum_address(address))


@dataclass(frozen=True, slots=True)
class RewardEpoch:
    """What an epoch pays, to whom, and the cumulative root published on-chain."""

    epoch: int
    emission: int
    params: ScoringParams
    owners: Mapping[bytes, str]
    previous_cumulative: Mapping[str, int]
    scores: tuple[DeviceScore, ...]
    amounts: Mapping[str, int]
    cumulative: Mapping[str, int]
    tree: StandardMerkleTree | None = field(compare=False)
    # Version 2 only: the rules applied and every device's assessment.
    rules: RuleParams | None = None
    assessments: tuple[Assessment, ...] = ()

    @property
    def version(self) -> int:
        return 1 if self.rules is None else 2

    def device_amounts(self) -> dict[bytes, int]:
        """Each device's part of the emission (its owner's amount is the floored sum)."""
        weights = {a.device_id: a.weight for a in self.assessments if a.device_id in self.owners}
        total = sum(weights.values())
        if total == 0:
            return {device: 0 for device in weights}
        return {device: self.emission * w // total for device, w in weights.items()}

    @property
    def paid(self) -> int:
        return sum(self.amounts.values())

    @property
    def dust(self) -> int:
        return self.emission - self.paid

    @property
    def total_cumulative(self) -> int:
        return sum(self.cumulative.values())

    @property
    def root(self) -> bytes | None:
        return None if self.tree is None else self.tree.root_bytes

    def claim(self, owner: str) -> tuple[int, list[str]]:
        """``(cumulative, proof)`` for ``owner``'s claim under this epoch's root."""
        owner = checksum(owner)
        amount = self.cumulative.get(owner)
        if amount is None or self.tree is None:
            raise RewardValueError(f"rewards: epoch {self.epoch} has no leaf for {owner}")
        return amount, self.tree.get_proof((owner, amount))

    def to_json(self) -> dict[str, Any]:
        if self.rules is not None:
            return self._to_json_v2(self.rules)
        return {
            "format": REWARD_FORMAT,
            "epoch": self.epoch,
            "emission": str(self.emission),
            "params": self.params.to_json(),
            "owners": {"0x" + device.hex(): owner for device, owner in sorted(self.owners.items())},
            "previousCumulative": {k: str(v) for k, v in sorted(self.previous_cumulative.items())},
            "scores": [
                {
                    "device": "0x" + score.device_id.hex(),
                    "reports": score.reports,
                    "uptimePpm": score.uptime_ppm,
                    "qualityPpm": score.quality_ppm,
                    "agreementPpm": score.agreement_ppm,
                    "weight": score.weight,
                }
                for score in self.scores
            ],
            **self._payout_json(),
        }

    def _payout_json(self) -> dict[str, Any]:
        """What both bundle formats say of the payout: amounts, totals, the tree."""
        return {
            "amounts": {k: str(v) for k, v in sorted(self.amounts.items())},
            "cumulative": {k: str(v) for k, v in sorted(self.cumulative.items())},
            "totalCumulative": str(self.total_cumulative),
            "dust": str(self.dust),
            "root": None if self.root is None else "0x" + self.root.hex(),
            "tree": None if self.tree is None else self.tree.dump(),
        }

    def _to_json_v2(self, rules: RuleParams) -> dict[str, Any]:
        amounts = self.device_amounts()
        return {
            "format": REWARD_FORMAT_V2,
            "epoch": self.epoch,
            "emission": str(self.emission),
            "params": rules.to_json(),
            "owners": {"0x" + device.hex(): owner for device, owner in sorted(self.owners.items())},
            "previousCumulative": {k: str(v) for k, v in sorted(self.previous_cumulative.items())},
            "devices": [
                {
                    "device": "0x" + a.device_id.hex(),
                    "owner": self.owners.get(a.device_id),
                    "cell": a.cell,
                    "placedAt": a.placed_at,
                    "reports": a.reports,
                    "coveragePpm": a.coverage_ppm,
                    "qualityPpm": a.quality_ppm,
                    "consistencyPpm": a.consistency_ppm,
                    "scorePpm": a.score_ppm,
                    "selfQcPpm": a.self_qc_ppm,
                    "weight": a.weight,
                    "amount": str(amounts.get(a.device_id, 0)),
                    "flags": [flag.to_json() for flag in a.flags],
                }
                for a in self.assessments
            ],
            **self._payout_json(),
        }


def split(emission: int, weights: Mapping[str, int]) -> dict[str, int]:
    """``emission`` pro rata to ``weights``, floored; owners of weight 0 get 0."""
    total = sum(weights.values())
    if total == 0:
        return {owner: 0 for owner in weights}
    return {owner: emission * weight // total for owner, weight in weights.items()}


def score_epoch(
    bundle: EpochBundle,
    owners: Mapping[bytes, str],
    emission: int,
    previous_cumulative: Mapping[str, int],
    params: ScoringParams = DEFAULT_PARAMS,
    *,
    rules: RuleParams = DEFAULT_RULES,
) -> RewardEpoch:
    """Score ``bundle``, split ``emission`` among the devices' owners, accrue cumulatively.

    Devices missing from ``owners`` (not registered) are scored but paid nothing. A
    bundle with placements is scored by ``rules`` (version 2), one without by ``params``.
    """
    if emission < 0 or emission > MAX_UINT256:
        raise RewardValueError(f"rewards: emission {emission} is out of range")
    owner_of = {bytes(device): checksum(owner) for device, owner in owners.items()}
    previous: dict[str, int] = {}
    for owner, amount in previous_cumulative.items():
        if amount < 0:
            raise RewardValueError(f"rewards: cumulative of {owner} is negative")
        key = checksum(owner)
        previous[key] = previous.get(key, 0) + amount
    assessments: tuple[Assessment, ...] = ()
    if bundle.placements is None:
        scores = score_devices(bundle, params)
        weighted = [(score.device_id, score.weight) for score in scores]
    else:
        assessments = assess(bundle, set(owner_of), rules)
        scores = ()
        weighted = [(a.device_id, a.weight) for a in assessments]
    weights: dict[str, int] = {}
    for device_id, weight in weighted:
        paid_to = owner_of.get(device_id)
        if paid_to is not None:
            weights[paid_to] = weights.get(paid_to, 0) + weight
    amounts = {owner: amount for owner, amount in split(emission, weights).items() if amount}
    cumulative = dict(previous)
    for owner, amount in amounts.items():
        cumulative[owner] = cumulative.get(owner, 0) + amount
    cumulative = {owner: amount for owner, amount in sorted(cumulative.items()) if amount > 0}
    tree = (
        StandardMerkleTree.of(sorted(cumulative.items()), REWARD_LEAF_TYPES) if cumulative else None
    )
    scored = {device_id for device_id, _ in weighted}
    used_owners = {device: owner for device, owner in owner_of.items() if device in scored}
    return RewardEpoch(
        epoch=bundle.epoch,
        emission=emission,
        params=params,
        owners=used_owners,
        previous_cumulative=previous,
        scores=scores,
        amounts=amounts,
        cumulative=cumulative,
        tree=tree,
        rules=None if bundle.placements is None else rules,
        assessments=assessments,
    )


def _int(value: Any, where: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise RewardValueError(f"rewards: {where}: not an integer: {value!r}") from exc
    if number < 0:
        raise RewardValueError(f"rewards: {where}: negative")
    return number


def rescore(bundle: EpochBundle, dump: Mapping[str, Any]) -> RewardEpoch:
    """Re-run :func:`score_epoch` with the inputs recorded in a reward ``dump``."""
    version = {REWARD_FORMAT: 1, REWARD_FORMAT_V2: 2}.get(str(dump.get("format")))
    if version is None:
        raise RewardValueError(f"rewards: format must be {REWARD_FORMAT_V2!r} or {REWARD_FORMAT!r}")
    if (version == 2) != (bundle.placements is not None):
        raise RewardValueError("rewards: version 2 rewards need a bundle with placements")
    if _int(dump.get("epoch"), "epoch") != bundle.epoch:
        raise RewardValueError(
            f"rewards: dump is for epoch {dump.get('epoch')}, not {bundle.epoch}"
        )
    try:
        owners = {
            bytes.fromhex(str(device).removeprefix("0x")): str(owner)
            for device, owner in dict(dump["owners"]).items()
        }
        previous = {
            str(owner): _int(amount, f"previousCumulative -> {owner}")
            for owner, amount in dict(dump["previousCumulative"]).items()
        }
        emission = _int(dump.get("emission"), "emission")
        if version == 2:
            rules = RuleParams.from_json(dict(dump["params"]))
            return score_epoch(bundle, owners, emission, previous, rules=rules)
        params = ScoringParams(
            agreement_tolerance_ppm=_int(
                dict(dump["params"])["agreementTolerancePpm"], "params -> agreementTolerancePpm"
            )
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RewardValueError(f"rewards: malformed dump ({exc!r})") from exc
    return score_epoch(bundle, owners, emission, previous, params)


def load_tree(dump: Mapping[str, Any]) -> StandardMerkleTree | None:
    """The reward tree recorded in a dump (for claim proofs without re-scoring)."""
    data = dump.get("tree")
    if data is None:
        return None
    try:
        return StandardMerkleTree.load(dict(data))
    except MerkleError as exc:
        raise RewardValueError(f"rewards: tree: {exc}") from exc


def owner_leaf(tree: StandardMerkleTree, owner: str) -> tuple[int, int] | None:
    """(index, cumulative amount) of ``owner``'s leaf in a reward tree (the address in
    any letter case), or None when the tree has none."""
    wanted = owner.lower()
    for index, (address, cumulative) in tree.entries():
        if str(address).lower() == wanted:
            return index, int(cumulative)
    return None
