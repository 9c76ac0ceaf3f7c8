"""Pure naming and retention rules for the checkpoint layout.

Layout under a checkpoint URL::

    <url>/step-00000123/.metadata        DCP's index, written by rank 0 after every shard
    <url>/step-00000123/__0_0.distcp     one file per rank (single_file_per_rank)
    <url>/step-00000123/manifest.json    human-readable summary, written LAST: the commit marker

A step directory is *complete* only when both ``.metadata`` and ``manifest.json``
exist; anything else is *torn* (a save that was killed or failed) and is never
loaded. Nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "MANIFEST_NAME",
    "METADATA_NAME",
    "StepEntry",
    "is_complete",
    "parse_step_dir",
    "plan_deletions",
    "step_dir_name",
]

METADATA_NAME = ".metadata"
MANIFEST_NAME = "manifest.json"
_STEP_WIDTH = 8
_STEP_RE = re.compile(r"step-(\d+)")


def step_dir_name(step: int) -> str:
    """``step-00000123``: zero padded so a plain lexical listing is in step order."""
    if step < 0:
        raise ValueError(f"checkpoint step must be >= 0, got {step}")
    return f"step-{step:0{_STEP_WIDTH}d}"


def parse_step_dir(name: str) -> int | None:
    """The step of a directory named by :func:`step_dir_name` (a trailing ``/`` is allowed), else ``None``."""
    match = _STEP_RE.fullmatch(name.rstrip("/").rsplit("/", 1)[-1])
    return int(match.group(1)) if match else None


def is_complete(file_names: Iterable[str]) -> bool:
    """Whether a step directory holding ``file_names`` (base names) is a committed checkpoint."""
    names = set(file_names)
    return METADATA_NAME in names and MANIFEST_NAME in names


@dataclass(frozen=True)
class StepEntry:
    """One step directory found under the checkpoint URL."""

    step: int
    complete: bool


def plan_deletions(entries: Iterable[StepEntry], *, keep_last: int, committed_step: int) -> list[int]:
    """Steps to delete right after ``committed_step`` was committed.

    - Complete checkpoints: all but the newest ``keep_last`` are deleted.
    - Torn directories: deleted only when their step is *below* ``committed_step``.
      At most one save is in flight and it is the one that just committed, so any
      torn directory below it is dead; a torn directory above it may belong to a
      save still being written (e.g. a slow straggler of an earlier incarnation)
      and is left alone — it is never loaded, and a later commit collects it.

    Invariant: ``committed_step`` itself is never returned (``keep_last >= 1``).
    """
    if keep_last < 1:
        raise ValueError(f"keep_last must be >= 1, got {keep_last}")
    entries = list(entries)
    complete = sorted((e.step for e in entries if e.complete), reverse=True)
    if committed_step in complete:
        # The just-committed checkpoint always survives, even if a higher complete one exists.
        complete.remove(committed_step)
        complete.insert(0, committed_step)
    doomed = set(complete[keep_last:])
    doomed.update(e.step for e in entries if not e.complete and e.step < committed_step)
    doomed.discard(committed_step)
    return sorted(doomed)
