"""Run the real ``seerctl`` in a subprocess, as a user would, for the CLI tests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

#: The repository root: the default working directory of a ``seerctl`` call.
REPO = Path(__file__).resolve().parents[2]


def run_seerctl(
    env: Mapping[str, str], *args: str, cwd: Path = REPO, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m seer.platform.cli ARGS`` with ``env``; output captured as text, never raises on exit status.

    ``timeout`` only stops a hung call (the test then errors); no assertion depends on it.
    """
    return subprocess.run(
        [sys.executable, "-m", "seer.platform.cli", *args],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
