"""``python -m vocalmix``: the command-line interface."""

import sys

from vocalmix.cli import entry

sys.exit(entry())
