"""``python -m edge.cli`` is ``station-edge``."""

import sys

from edge.cli import main

sys.exit(main())
