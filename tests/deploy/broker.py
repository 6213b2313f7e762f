"""Start Mosquitto with the shipped ACL and a provisioned password file."""

from __future__ import annotations

from pathlib import Path

from tests.services.mosquitto import MosquittoBroker, start_broker

REPO = Path(__file__).resolve().parents[2]
SHIPPED_ACL = REPO / "deploy" / "mosquitto" / "acl"


def secured_broker(tmp_path: Path, passwd: Path, extra: str = "") -> MosquittoBroker:
    """A broker on a plain loopback listener with password login and the shipped ACL.

    ``user root`` keeps a root test run able to read the files in its private temp dir
    (Mosquitto drops to the ``mosquitto`` user otherwise); it is ignored unprivileged.
    """
    config = (
        f"user root\nallow_anonymous false\npassword_file {passwd}\nacl_file {SHIPPED_ACL}\n{extra}"
    )
    return start_broker(tmp_path, config)
