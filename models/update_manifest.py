"""Refresh the sha256 and size of every file listed in models/manifest.json.

Run after rebuilding a model; the descriptive fields (licence, provenance, I/O spec)
are edited by hand in the manifest itself.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    path = HERE / "manifest.json"
    manifest = json.loads(path.read_text())
    for name, entry in manifest["files"].items():
        data = (HERE / name).read_bytes()
        entry["sha256"] = hashlib.sha256(data).hexdigest()
        entry["size"] = len(data)
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"updated {len(manifest['files'])} entries in {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
