"""``python -m fieldproof`` runs the command line."""

import sys

from fieldproof.cli import main

sys.exit(main())
