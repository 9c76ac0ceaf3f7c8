"""``python -m seer.trainer`` (what torchrun starts in every worker process)."""

import sys

from seer.trainer.entrypoint import main

sys.exit(main())
