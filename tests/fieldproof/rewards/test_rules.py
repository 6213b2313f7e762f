"""The version 2 reward rules, each on a hand-made epoch, and their properties."""

from __future__ import annotations

import h3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldproof.bundle import BundleReport, build_bundle, decode_bundle, encode_bundle
from fieldproof.rewards.assess import Assessment, assess
from fieldproof.rewards.placement import DevicePlacement
from fieldproof.rewards.rules import DEFAULT_RULES, RuleParams
from fieldproof.rewards.tree import REWARD_FORMAT_V2, rescore, score_epoch
from tests.aggregator.anchoring.reports import KEYS, signed

HOUR = 3600
START = 1_700_000_000 - 1_700_000_000 % HOUR
END = START + 24 * HOUR
# Beijing, Dongsi: the cells around it are the neighbourhood of these tests.
HOME = h3.latlng_to_cell(39.9289, 116.4174, 7)
RING = sorted(h3.grid_ring(HOME, 1))
FAR = h3.latlng_to_cell(40.9, 117.9, 7)  # about 170 km away


# 1 March 2013 at Dongsi, hour by hour (°C), from the Beijing multi-site data.
DONGSI = (-0.5, -0.7, -1.2, -1.4, -1.9, -2.4, -2.5, -1.4, -0.3, 0.4, 1.4, 2.9,
          4.0, 5.0, 6.2, 6.0, 5.6, 4.4, 3.2, 3.0, 1.6, 0.8, 0.1, -0.5)  # fmt: skip


def truth(hour: int) -> float:
    return DONGSI[hour]


def noise(device: int, hour: int) -> float:
    """Each sensor's own small, deterministic noise (±0.3 °C)."""
    return ((device * 31 + hour * 17 + device * hour * 7) % 13 - 6) * 0.05


def day(device: int, values: list[float | None] | None = None) -> list[BundleReport]:
    """Hourly reports of ``device``; ``None`` leaves an hour out."""
    if values is None:
        values = [truth(h) + noise(device, h) for h in range(24)]
    return [
        signed(KEYS[device], h + 1, START + h * HOUR, HOUR, [("temp", value)])
        for h, value in enumerate(values)
        if value is not None
    ]


def place(cell: str, placed_at: int = 0) -> DevicePlacement:
    return DevicePlacement(cell=cell, placed_at=placed_at)


def honest_placements(count: int = 4) -> dict[bytes, DevicePlacement]:
    """Devices 0…count-1, one per cell around HOME (independent neighbours)."""
    return {KEYS[i].device_id: place(RING[i], 100 + i) for i in range(count)}


def run(
    reports: list[BundleReport],
    placements: dict[bytes, DevicePlacement],
    params: RuleParams = DEFAULT_RULES,
) -> dict[int, Assessment]:
    bundle = build_bundle(1, START, END, reports, placements)
    found = {a.device_id: a for a in assess(bundle, None, params)}
    return {i: found[key.device_id] for i, key in enumerate(KEYS) if key.device_id in found}


def honest(count: int = 4) -> list[BundleReport]:
    return [r for i in range(count) for r in day(i)]


def test_honest_neighbours_earn_their_full_score() -> None:
    result = run(honest(), honest_placements())
    for a in result.values():
        assert (a.coverage_ppm, a.quality_ppm, a.consistency_ppm) == (10**6, 10**6, 10**6)
        assert a.weight == 10**6
        assert a.flags == ()


def test_a_stuck_sensor_loses_the_stuck_readings() -> None:
    values: list[float | None] = [truth(h) + noise(4, h) for h in range(24)]
    values[6:12] = [1.25] * 6  # six hourly readings, five hours held
    placements = {**honest_placements(), KEYS[4].device_id: place(RING[4])}
    result = run([*honest(), *day(4, values)], placements)
    stuck = result[4]
    assert stuck.has("stuck")
    assert stuck.quality_ppm == 10**6 * 18 // 24
    assert "5.0 h" in next(f.reason for f in stuck.flags if f.code == "stuck")
    assert not any(result[i].has("stuck") for i in range(4))


def test_a_shorter_hold_is_not_stagnation() -> None:
    values: list[float | None] = [truth(h) + noise(4, h) for h in range(24)]
    values[6:9] = [1.25] * 3  # two hours held: below the three-hour limit
    placements = {**honest_placements(), KEYS[4].device_id: place(RING[4])}
    assert not run([*honest(), *day(4, values)], placements)[4].has("stuck")


def test_a_spike_costs_the_reading_and_the_one_after_it() -> None:
    values: list[float | None] = [truth(h) + noise(4, h) for h in range(24)]
    values[10] = 21.0  # +20 °C for one hour
    placements = {**honest_placements(), KEYS[4].device_id: place(RING[4])}
    spiky = run([*honest(), *day(4, values)], placements)[4]
    assert spiky.has("spike")
    assert spiky.quality_ppm == 10**6 * 22 // 24


def test_a_gap_lowers_coverage_and_is_named() -> None:
    values: list[float | None] = [truth(h) + noise(0, h) for h in range(24)]
    values[8:14] = [None] * 6
    result = run([*day(0, values), *[r for i in (1, 2, 3) for r in day(i)]], honest_placements())
    gappy = result[0]
    assert gappy.coverage_ppm == 10**6 * 18 // 24
    assert gappy.has("gap")
    assert "6.0 h" in next(f.reason for f in gappy.flags if f.code == "gap")
    assert not result[1].has("gap")


def test_a_clone_pair_pays_only_the_senior() -> None:
    # Device 0's readings re-signed by device 4, placed later.
    copy = day(4, [truth(h) + noise(0, h) for h in range(24)])
    placements = {**honest_placements(), KEYS[4].device_id: place(RING[4], 500)}
    result = run([*honest(), *copy], placements)
    assert result[4].has("clone")
    assert result[4].weight == 0
    assert KEYS[0].device_id.hex() in next(f.reason for f in result[4].flags if f.code == "clone")
    assert not result[0].has("clone")
    assert result[0].weight > 0


def test_a_copier_with_offset_and_delay_is_flagged_even_when_senior() -> None:
    source = [truth(h) + noise(0, h) for h in range(24)]
    delayed: list[float | None] = [None, None] + [v + 0.7 for v in source[:22]]
    # The copier registered first: delay, not seniority, tells who copied whom.
    placements = {**honest_placements(), KEYS[4].device_id: place(RING[4], 1)}
    result = run([*honest(), *day(4, delayed)], placements)
    copier = result[4]
    assert copier.has("clone")
    assert copier.weight == 0
    reason = next(f.reason for f in copier.flags if f.code == "clone")
    assert "2 slot(s) later" in reason
    assert "0.7" in reason
    assert result[0].weight > 0
    assert not result[0].has("clone")


def test_independent_sensors_side_by_side_are_not_clones() -> None:
    placements = {KEYS[i].device_id: place(HOME, i) for i in range(3)}
    result = run(honest(3), placements)
    assert not any(a.has("clone") for a in result.values())


def test_a_near_neighbour_is_counted() -> None:
    off: list[float | None] = [truth(h) + noise(4, h) + 8.0 for h in range(24)]
    placements = {**honest_placements(), KEYS[4].device_id: place(HOME)}
    odd = run([*honest(), *day(4, off)], placements)[4]
    assert odd.consistency_ppm < DEFAULT_RULES.min_consistency_ppm
    assert odd.has("inconsistent")
    assert odd.weight == 0


def test_a_far_neighbour_is_ignored() -> None:
    off: list[float | None] = [truth(h) + noise(4, h) + 8.0 for h in range(24)]
    placements = {**honest_placements(), KEYS[4].device_id: place(FAR)}
    result = run([*honest(), *day(4, off)], placements)
    far = result[4]
    assert far.consistency_ppm == 10**6
    assert far.has("few-neighbours")
    # …and it does not drag its (far) peers' consistency down either.
    assert all(result[i].consistency_ppm == 10**6 for i in range(4))


def test_capacity_ties_are_broken_by_seniority() -> None:
    placements = {KEYS[i].device_id: place(HOME, 1000 - i) for i in range(3)}
    placements.update({KEYS[i].device_id: place(RING[i]) for i in (3, 4, 5)})
    reports = [r for i in range(6) for r in day(i)]
    params = RuleParams(cell_capacity=2)
    result = run(reports, placements, params)
    # Devices 0, 1, 2 share HOME with equal scores; 0 was placed last.
    assert {i for i in range(3) if result[i].weight > 0} == {1, 2}
    assert result[0].has("cell-capacity")
    assert result[0].weight == 0


def full_cell(senior: list[float | None]) -> dict[int, Assessment]:
    """Device 2 (placed first, reporting ``senior``) and device 6 (a perfect newcomer)
    share HOME, which holds one earning device; 3, 4, 5 are the neighbours."""
    placements = {KEYS[2].device_id: place(HOME, 1), KEYS[6].device_id: place(HOME, 9)}
    placements.update({KEYS[i].device_id: place(RING[i]) for i in (3, 4, 5)})
    reports = [*day(2, senior), *day(6), *[r for i in (3, 4, 5) for r in day(i)]]
    return run(reports, placements, RuleParams(cell_capacity=1))


def test_a_senior_device_with_an_outage_keeps_its_place_in_a_full_cell() -> None:
    values: list[float | None] = [truth(h) + noise(2, h) for h in range(24)]
    values[0:8] = [None] * 8  # an 8 h outage: two thirds of the day covered
    result = full_cell(values)
    assert result[2].weight == result[2].score_ppm > 0
    assert result[6].score_ppm > result[2].score_ppm
    assert result[6].weight == 0
    capacity = [f for f in result[6].flags if f.code == "cell-capacity"]
    assert len(capacity) == 1
    assert capacity[0].reason.startswith(f"cell full: {HOME} already has 1 earning devices")
    assert "seniority" in capacity[0].reason


def test_a_device_below_the_capacity_floor_ranks_after_working_ones() -> None:
    values: list[float | None] = [truth(h) + noise(2, h) for h in range(24)]
    values[0:14] = [None] * 14  # ten hours of the day: below the 50 % floor
    result = full_cell(values)
    assert 0 < result[2].score_ppm < DEFAULT_RULES.capacity_floor_ppm
    assert result[6].weight > 0
    assert result[2].weight == 0
    assert result[2].has("cell-capacity")
    assert "below the 50.0 %" in next(
        f.reason for f in result[2].flags if f.code == "cell-capacity"
    )


def test_own_qc_no_longer_pays_and_unplaced_devices_earn_nothing() -> None:
    low_qc = [
        signed(
            KEYS[4], h + 1, START + h * HOUR, HOUR, [("temp", truth(h) + noise(4, h)), ("qc", 0.1)]
        )
        for h in range(24)
    ]
    placements = {**honest_placements(), KEYS[4].device_id: place(RING[4])}
    result = run([*honest(), *low_qc, *day(5)], placements)
    assert result[4].weight == 10**6
    assert result[4].self_qc_ppm == 100_000
    assert result[5].weight == 0
    assert result[5].has("no-location")


def test_ineligible_and_unstaked_devices_earn_nothing() -> None:
    placements = honest_placements()
    placements[KEYS[0].device_id] = DevicePlacement(RING[0], 0, eligible=False)
    placements[KEYS[1].device_id] = DevicePlacement(RING[1], 0, staked=False)
    result = run(honest(), placements)
    assert result[0].has("ineligible")
    assert result[0].weight == 0
    assert result[1].has("unstaked")
    assert result[1].weight == 0
    assert result[2].weight > 0


def test_v2_rewards_rescore_from_the_published_bundle_and_explain() -> None:
    from fieldproof.rewards.explain import explain_owner

    owner = "0x1111111111111111111111111111111111111111"
    placements = {**honest_placements(), KEYS[4].device_id: place(RING[4], 500)}
    copy = [signed(KEYS[4], h + 1, START + h * HOUR, HOUR, [("temp", truth(h) + noise(0, h))])
            for h in range(24)]  # fmt: skip
    bundle = build_bundle(1, START, END, [*honest(), *copy], placements)
    owners = {key.device_id: owner for key in KEYS[:5]}
    rewards = score_epoch(bundle, owners, 10**18, {})
    published, dump = decode_bundle(encode_bundle(bundle, rewards.to_json()))
    assert dump is not None
    assert dump["format"] == REWARD_FORMAT_V2
    assert published.placements == bundle.placements
    assert rescore(published, dump).root == rewards.root
    explained = explain_owner(dump, owner)
    words = " ".join(explained["text"])
    assert "earned nothing: its readings repeat those of" in words
    assert len(explained["devices"]) == 5


readings = st.lists(
    st.floats(min_value=-5, max_value=30, allow_nan=False, width=32), min_size=24, max_size=24
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(readings, st.integers(0, 3), st.integers(0, 50))
def test_rescoring_gives_the_same_root(values: list[float], device: int, emission: int) -> None:
    series: list[float | None] = list(values)
    reports = [*[r for i in range(4) if i != device for r in day(i)], *day(device, series)]
    owners = {KEYS[i].device_id: f"0x{i + 1:040x}" for i in range(4)}
    bundle = build_bundle(1, START, END, reports, honest_placements())
    rewards = score_epoch(bundle, owners, emission * 10**18, {})
    published, dump = decode_bundle(encode_bundle(bundle, rewards.to_json()))
    assert dump is not None
    assert rescore(published, dump).root == rewards.root


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(readings, st.integers(0, 23), st.sampled_from([999.0, -200.0, 80.0]))
def test_a_worse_reading_never_raises_the_score(
    values: list[float], hour: int, broken: float
) -> None:
    placements = {**honest_placements(), KEYS[4].device_id: place(RING[4])}
    before: list[float | None] = list(values)
    after = list(before)
    after[hour] = broken
    score_before = run([*honest(), *day(4, before)], placements)[4].score_ppm
    score_after = run([*honest(), *day(4, after)], placements)[4].score_ppm
    assert score_after <= score_before
