"""Reward scoring and the emission split: properties and worked examples."""

from __future__ import annotations

from eth_utils.address import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldproof.bundle import BundleReport, build_bundle, decode_bundle, encode_bundle
from fieldproof.merkle import StandardMerkleTree
from fieldproof.rewards.scoring import SCALE, covered_seconds, score_devices
from fieldproof.rewards.tree import REWARD_LEAF_TYPES, rescore, score_epoch, split
from tests.aggregator.anchoring.reports import KEYS, signed

OWNERS = (
    "0x1111111111111111111111111111111111111111",
    "0x2222222222222222222222222222222222222222",
    "0x3333333333333333333333333333333333333333",
    "0x00000000000000000000000000000000000000aA",
)
EPOCH_START, EPOCH_LENGTH = 10_000, 600

temps = st.floats(min_value=-30, max_value=45, allow_nan=False, width=32)
qcs = st.floats(min_value=0, max_value=1, allow_nan=False, width=32)


@st.composite
def bundles(draw: st.DrawFn, epoch: int = 1) -> list[BundleReport]:
    reports = []
    for device in draw(st.sets(st.integers(0, len(KEYS) - 1), max_size=5)):
        for seq in range(draw(st.integers(1, 4))):
            readings = [("bme280/temp", draw(temps))]
            if draw(st.booleans()):
                readings.append(("bme280/qc", draw(qcs)))
            start = EPOCH_START + seq * draw(st.sampled_from([60, 150, 300]))
            reports.append(signed(KEYS[device], seq + 100 * epoch, start, 150, readings))
    return reports


owner_maps = st.dictionaries(
    st.sampled_from([key.device_id for key in KEYS]), st.sampled_from(OWNERS), max_size=len(KEYS)
)
emissions = st.integers(0, 10**24)
previous_maps = st.dictionaries(st.sampled_from(OWNERS), st.integers(0, 10**24), max_size=3)


@settings(max_examples=40, deadline=None)
@given(bundles(), owner_maps, emissions, previous_maps)
def test_split_sums_to_emission_less_small_dust(
    reports: list[BundleReport],
    owners: dict[bytes, str],
    emission: int,
    previous: dict[str, int],
) -> None:
    bundle = build_bundle(1, EPOCH_START, EPOCH_START + EPOCH_LENGTH, reports)
    rewards = score_epoch(bundle, owners, emission, previous)
    paid_owners = {owners[s.device_id] for s in rewards.scores if s.device_id in owners}
    weight = sum(s.weight for s in rewards.scores if s.device_id in owners)
    assert rewards.paid + rewards.dust == emission
    if weight > 0:
        assert 0 <= rewards.dust < len(paid_owners)
    else:
        assert rewards.paid == 0
    assert all(amount > 0 for amount in rewards.amounts.values())


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(bundles(), owner_maps, emissions), min_size=1, max_size=4))
def test_cumulative_totals_never_decrease(
    epochs: list[tuple[list[BundleReport], dict[bytes, str], int]],
) -> None:
    cumulative: dict[str, int] = {}
    for number, (reports, owners, emission) in enumerate(epochs, start=1):
        bundle = build_bundle(number, EPOCH_START, EPOCH_START + EPOCH_LENGTH, reports)
        rewards = score_epoch(bundle, owners, emission, cumulative)
        for owner, before in cumulative.items():
            assert rewards.cumulative.get(owner, 0) >= before
        assert rewards.total_cumulative == sum(cumulative.values()) + rewards.paid
        cumulative = dict(rewards.cumulative)


@settings(max_examples=25, deadline=None)
@given(bundles(), owner_maps, emissions, previous_maps)
def test_rescoring_a_bundle_reproduces_the_root(
    reports: list[BundleReport],
    owners: dict[bytes, str],
    emission: int,
    previous: dict[str, int],
) -> None:
    bundle = build_bundle(1, EPOCH_START, EPOCH_START + EPOCH_LENGTH, reports)
    rewards = score_epoch(bundle, owners, emission, previous)
    # Through the published bytes, as a third party would.
    published, dump = decode_bundle(encode_bundle(bundle, rewards.to_json()))
    assert dump is not None
    again = rescore(published, dump)
    assert again.root == rewards.root
    assert again.to_json() == rewards.to_json()


def test_claim_proofs_verify_against_the_root() -> None:
    reports = [signed(KEYS[i], 1, EPOCH_START, 600) for i in range(3)]
    bundle = build_bundle(1, EPOCH_START, EPOCH_START + EPOCH_LENGTH, reports)
    owners = {KEYS[0].device_id: OWNERS[0], KEYS[1].device_id: OWNERS[1]}
    rewards = score_epoch(bundle, owners, 1_000, {OWNERS[2]: 5})
    assert rewards.root is not None
    for owner in (OWNERS[0], OWNERS[1], OWNERS[2]):
        amount, proof = rewards.claim(owner)
        assert amount == rewards.cumulative[_cs(owner)]
        assert StandardMerkleTree.verify_against(
            rewards.root, REWARD_LEAF_TYPES, (_cs(owner), amount), proof
        )
    # Two identical devices split evenly; the unregistered third gets nothing.
    assert rewards.amounts == {_cs(OWNERS[0]): 500, _cs(OWNERS[1]): 500}
    assert rewards.cumulative[_cs(OWNERS[2])] == 5


def _cs(address: str) -> str:
    return str(to_checksum_address(address))


def test_uptime_quality_and_agreement() -> None:
    start, end = EPOCH_START, EPOCH_START + 600
    full = [signed(KEYS[0], i, start + 60 * i, 60, [("temp", 20.0)]) for i in range(10)]
    half = [signed(KEYS[1], i, start + 60 * i, 60, [("temp", 20.0)]) for i in range(5)]
    poor = [
        signed(KEYS[2], i, start + 60 * i, 60, [("temp", 20.0), ("qc", 0.5)]) for i in range(10)
    ]
    off = [signed(KEYS[3], i, start + 60 * i, 60, [("temp", 32.4)]) for i in range(10)]
    bogus = [
        signed(KEYS[4], i, start + 60 * i, 60, [("temp", 20.0), ("rh", 180.0)]) for i in range(10)
    ]
    scores = {
        s.device_id: s
        for s in score_devices(build_bundle(1, start, end, full + half + poor + off + bogus))
    }
    assert scores[KEYS[0].device_id].uptime_ppm == SCALE
    assert scores[KEYS[1].device_id].uptime_ppm == SCALE // 2
    assert scores[KEYS[2].device_id].quality_ppm == SCALE // 2
    # An out-of-range reading makes half of the report's catalogued readings invalid.
    assert scores[KEYS[4].device_id].quality_ppm == SCALE // 2
    # 12.4 °C off the others' median: tolerance 2 % of 155 °C = 3.1 °C, 1 / (1 + 4²).
    assert scores[KEYS[3].device_id].agreement_ppm == SCALE // 17
    assert scores[KEYS[0].device_id].agreement_ppm == SCALE
    assert scores[KEYS[0].device_id].weight == SCALE


def test_split_floors_and_is_deterministic() -> None:
    assert split(10, {"a": 1, "b": 1, "c": 1}) == {"a": 3, "b": 3, "c": 3}
    assert split(10, {"a": 0}) == {"a": 0}
    assert split(7, {}) == {}


@given(st.lists(st.tuples(st.integers(0, 500), st.integers(0, 100)), max_size=30))
def test_covered_seconds_is_the_union_of_intervals(pairs: list[tuple[int, int]]) -> None:
    intervals = [(start, start + length) for start, length in pairs]
    seconds = set()
    for start, end in intervals:
        seconds.update(range(start, end))
    assert covered_seconds(intervals) == len(seconds)


def test_repeating_one_interval_does_not_raise_uptime() -> None:
    start = EPOCH_START
    repeated = [signed(KEYS[0], i, start, 60) for i in range(10)]
    (score,) = score_devices(build_bundle(1, start, start + 600, repeated))
    assert score.uptime_ppm == SCALE // 10
