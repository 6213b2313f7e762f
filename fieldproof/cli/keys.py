"""``fieldproof keys``: create and inspect device keys."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fieldproof.cli import group_parser


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    commands = group_parser(subparsers, "keys", "Create and inspect device keys (ECDSA P-256).")
    new = commands.add_parser(
        "new",
        help="Create a new device key, encrypted at rest.",
        description="Create a new P-256 device key. The passphrase comes from "
        "FIELDPROOF_PASSPHRASE or is asked for on the terminal.",
    )
    new.add_argument("--out", required=True, type=Path, help="key file to create (mode 0600)")
    new.add_argument(
        "--insecure-plaintext",
        action="store_true",
        help="store the key unencrypted (only for throwaway test devices)",
    )
    new.set_defaults(handler=_new)

    show = commands.add_parser("show", help="Print a key's device id, did:key and public key.")
    show.add_argument("keyfile", type=Path, help="key file")
    show.add_argument("--json", action="store_true", help="print one JSON object")
    show.set_defaults(handler=_show)


def _new(args: argparse.Namespace) -> int:
    from fieldproof.identity import DeviceKey, passphrase_from_env_or_prompt, save_key

    key = DeviceKey.generate()
    passphrase = None if args.insecure_plaintext else passphrase_from_env_or_prompt(confirm=True)
    save_key(key, args.out, passphrase)
    print(f"device id {key.device_id.hex()} written to {args.out}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from fieldproof.identity import device_id_hex, load_key

    key = load_key(args.keyfile)
    info = {
        "device_id": device_id_hex(key.device_id),
        "did": key.did,
        "public_key": key.public_key.hex(),
    }
    if args.json:
        print(json.dumps(info))
    else:
        for name, value in info.items():
            print(f"{name:11} {value}")
    return 0
