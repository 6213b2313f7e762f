"""Why each of an owner's devices earned what it earned, in words, from a reward dump."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fieldproof.errors import RewardValueError
from fieldproof.rewards.tree import REWARD_FORMAT, REWARD_FORMAT_V2, checksum


def _pct(ppm: Any) -> str:
    return f"{int(ppm) / 10_000:.1f} %"


def device_sentence(entry: Mapping[str, Any]) -> str:
    """One device's outcome as a sentence, then its flags' reasons."""
    factors = (
        f"coverage {_pct(entry['coveragePpm'])}, quality {_pct(entry['qualityPpm'])}, "
        f"neighbour consistency {_pct(entry['consistencyPpm'])}: score "
        f"{_pct(entry['scorePpm'])}"
    )
    zero = [f for f in entry["flags"] if f["severity"] == "zero"]
    if int(entry["weight"]) > 0:
        head = f"earned {entry['amount']} ({factors})."
    elif zero:
        head = f"earned nothing: {zero[0]['reason']} ({factors})."
    else:
        head = f"earned nothing ({factors})."
    rest = [f"{f['reason']}." for f in entry["flags"] if f not in zero[:1]]
    if entry.get("selfQcPpm") is not None:
        rest.append(
            f"Its own quality score was {_pct(entry['selfQcPpm'])} (shown, not paid: the "
            "server checks the readings itself)."
        )
    return " ".join([head, *rest])


def factor_lines(entry: Mapping[str, Any]) -> list[str]:
    """One device's outcome, then one line per factor and per flag (a summary's lines)."""
    zero = [f for f in entry["flags"] if f["severity"] == "zero"]
    if int(entry["weight"]) > 0:
        outcome = f"earned {entry['amount']}"
    else:
        outcome = f"earned nothing: {zero[0]['reason']}" if zero else "earned nothing"
    lines = [
        outcome,
        f"coverage              {_pct(entry['coveragePpm'])} of the epoch covered by its reports",
        f"quality               {_pct(entry['qualityPpm'])} of its readings pass the server's "
        "checks",
        f"neighbour consistency {_pct(entry['consistencyPpm'])} agreement with the cells around it",
        f"score                 {_pct(entry['scorePpm'])} (coverage × quality × consistency)",
    ]
    if entry.get("selfQcPpm") is not None:
        lines.append(f"own quality score     {_pct(entry['selfQcPpm'])} (shown, not paid)")
    lines += [f"flag {f['code']}: {f['reason']}" for f in entry["flags"]]
    return lines


def explain_owner(dump: Mapping[str, Any], owner: str) -> dict[str, Any]:
    """``{"epoch", "owner", "amount", "devices": [{"device", …, "explanation"}], "text"}``."""
    owner = checksum(owner)
    fmt = dump.get("format")
    if fmt not in (REWARD_FORMAT, REWARD_FORMAT_V2):
        raise RewardValueError(f"rewards: format {fmt!r} is not a reward dump")
    amount = str(dict(dump.get("amounts", {})).get(owner, "0"))
    epoch = int(dump["epoch"])
    if fmt == REWARD_FORMAT:
        return {
            "epoch": epoch,
            "owner": owner,
            "amount": amount,
            "version": 1,
            "devices": [],
            "text": [
                f"Epoch {epoch} was scored by the version 1 rules (uptime, own quality, "
                f"agreement), which keep no explanation; {owner} earned {amount}."
            ],
        }
    devices = []
    for entry in dump["devices"]:
        if entry.get("owner") is None or checksum(str(entry["owner"])) != owner:
            continue
        devices.append({**entry, "explanation": device_sentence(entry)})
    text = [f"Epoch {epoch}: {owner} earned {amount} from {len(devices)} device(s)."]
    text += [f"Device {d['device']} {d['explanation']}" for d in devices]
    return {
        "epoch": epoch,
        "owner": owner,
        "amount": amount,
        "version": 2,
        "devices": devices,
        "text": text,
    }
