"""``python -m vocalmix``: the command-line interface."""

import sys

from vocalmix.cli import main

sys.exit(main())
