"""Test-only: registers the ``quotafile://`` full-disk filesystem in a child process
(see ``tests/integration/full_disk.py``); does nothing unless its variables are set."""

import os
import sys

if os.environ.get("SEER_TEST_QUOTA_BYTES"):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import full_disk

    full_disk.install(os.environ["SEER_TEST_QUOTA_ROOT"], int(os.environ["SEER_TEST_QUOTA_BYTES"]))
