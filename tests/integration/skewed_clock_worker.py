"""``train_worker.py`` with a skewed checkpoint clock per rank, for the time-interval test.

    python skewed_clock_worker.py --seconds-per-step R0,R1,... --job JOB --out DIR

The checkpointer's clock (``time.monotonic`` as the checkpoint module sees it) jumps by
``R<rank>`` seconds at every ``should_save`` call, on top of real time: with the rates
of two ranks different, their time-based decisions differ at known steps — what real
clocks and uneven step times do, made deterministic. Writes ``DIR/due-rank-<r>.json``:
the steps at which ``should_save`` answered True on this rank.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import train_worker  # noqa: E402


class SkewedClock:
    """The ``time`` module, except ``monotonic()`` runs ``offset`` seconds ahead."""

    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def main() -> int:
    argv = sys.argv[1:]
    i = argv.index("--seconds-per-step")
    rates = [float(x) for x in argv[i + 1].split(",")]
    rest = argv[:i] + argv[i + 2 :]
    rank = int(os.environ.get("RANK", "0"))
    out = Path(rest[rest.index("--out") + 1])

    from seer.trainer.checkpoint import Checkpointer

    checkpoint_module = sys.modules[Checkpointer.__module__]
    clock = SkewedClock()
    checkpoint_module.time = clock  # type: ignore[attr-defined]
    due_steps: list[int] = []
    real_should_save = Checkpointer.should_save

    def should_save(self: Any, step: int) -> bool:
        clock.offset += rates[rank]
        due = real_should_save(self, step)
        if due:
            due_steps.append(step)
        return due

    Checkpointer.should_save = should_save  # type: ignore[method-assign]
    code = train_worker.main(rest)
    (out / f"due-rank-{rank}.json").write_text(json.dumps(due_steps))
    return code


if __name__ == "__main__":
    sys.exit(main())
