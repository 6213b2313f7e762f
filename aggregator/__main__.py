"""``python -m aggregator …`` is ``fieldproof aggregator …``."""

from __future__ import annotations

import sys

from fieldproof.cli import main

if __name__ == "__main__":
    sys.exit(main(["aggregator", *sys.argv[1:]]))
