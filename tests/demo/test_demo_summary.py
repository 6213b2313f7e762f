"""The demo's summary prints one explained reward: a line per factor and per flag."""

from __future__ import annotations

from demo.network import DemoResult, summary
from fieldproof.rewards.explain import factor_lines

ENTRY = {
    "device": "0x" + "ab" * 32,
    "weight": 0,
    "amount": "0",
    "coveragePpm": 1_000_000,
    "qualityPpm": 987_500,
    "consistencyPpm": 1_000_000,
    "scorePpm": 987_500,
    "selfQcPpm": 900_000,
    "flags": [
        {"code": "few-neighbours", "severity": "info", "reason": "consistency is neutral"},
        {"code": "cell-capacity", "severity": "zero", "reason": "cell full: 87… is full"},
    ],
}


def test_factor_lines_name_the_outcome_every_factor_and_every_flag() -> None:
    lines = factor_lines(ENTRY)
    assert lines[0] == "earned nothing: cell full: 87… is full"
    assert lines[1].startswith("coverage              100.0 %")
    assert lines[2].startswith("quality               98.8 %")
    assert lines[3].startswith("neighbour consistency 100.0 %")
    assert lines[4].startswith("score                 98.8 %")
    assert lines[5] == "own quality score     90.0 % (shown, not paid)"
    assert lines[6:] == [
        "flag few-neighbours: consistency is neutral",
        "flag cell-capacity: cell full: 87… is full",
    ]
    paid = factor_lines({**ENTRY, "weight": 987_500, "amount": "12", "flags": []})
    assert paid[0] == "earned 12"
    assert not any(line.startswith("flag") for line in paid)


def test_the_summary_shows_the_explained_reward_when_there_is_one() -> None:
    result = DemoResult(verified_reading=True)
    assert "explained reward" not in summary(result)
    result.explained_reward = {
        "epoch": 4,
        "owner": "0x" + "11" * 20,
        "device": ENTRY["device"],
        "amount": "0",
        "lines": factor_lines(ENTRY),
    }
    text = summary(result).splitlines()
    head = next(i for i, line in enumerate(text) if "explained reward" in line)
    assert text[head].endswith(f"epoch 4, owner 0x{'11' * 20}, device {ENTRY['device']}:")
    assert [line.strip() for line in text[head + 1 :]] == factor_lines(ENTRY)
