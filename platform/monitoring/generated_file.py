"""The ``--write`` / ``--check`` command line shared by the generators of checked-in files.

The Grafana dashboard and the chart README's values table are generated from code and
committed; each generator's ``main`` writes the file (``--write``), fails when the committed
file differs from what it would write (``--check``, what CI and the tests run), or prints
(neither). One implementation keeps the two generators' exit statuses and messages alike.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_mode_flags(parser: argparse.ArgumentParser, *, write_help: str, check_help: str) -> None:
    """``--write`` and ``--check``, mutually exclusive."""
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help=write_help)
    mode.add_argument("--check", action="store_true", help=check_help)


def write_or_check(path: Path, text: str, *, write: bool, check: bool, module: str, shown: str) -> int:
    """Write ``text`` to ``path`` (``write``), compare it with ``path`` (``check``), or print ``shown``.

    Returns the exit status: 1 only when ``check`` finds ``path`` missing or different, with a
    message naming ``python -m MODULE --write`` as the fix.
    """
    if write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
        return 0
    if check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"{path} is out of date: run python -m {module} --write", file=sys.stderr)
            return 1
        return 0
    sys.stdout.write(shown)
    return 0
