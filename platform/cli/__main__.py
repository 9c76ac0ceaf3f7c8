"""`python -m seer.platform.cli` is `seerctl`."""

import sys

from seer.platform.cli import main

sys.exit(main())
