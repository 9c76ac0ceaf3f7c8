"""Progress events read back from worker log lines, for ``seerctl plot`` of a cluster job
(whose ``events.jsonl`` lives in pods, not on this machine). Pure: lines in, events out.

The lines are the trainer's own (``trainer/training_reporter.py``: ``step %d/%d epoch %d
loss %.4f lr %.4g %.1f img/s data-wait %.1f%%``; the checkpointer: ``checkpoint step %d
committed ...``), after the logging prefix ``<time> [rank R] INFO <logger>: ``.
``tests/platform/test_log_progress.py`` reads the format out of the trainer's source, so a
change there fails here instead of drawing nothing. Steps come from rank 0 only (every rank
logs the same cross-rank mean); the same step seen twice (a restart) keeps the later line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

STEP = re.compile(
    r"\[rank 0\] \w+ [\w.]+: step (?P<step>\d+)/(?P<total>\d+) epoch (?P<epoch>\d+) loss (?P<loss>\S+) "
    r"lr (?P<lr>\S+) (?P<ips>[\d.]+) img/s data-wait (?P<wait>[\d.]+)%"
)
CHECKPOINT = re.compile(r"\[rank \d+\] \w+ [\w.]+: checkpoint step (?P<step>\d+) (?:already )?committed")


def progress_events(lines: Iterable[str]) -> list[dict[str, Any]]:
    """``step`` and ``checkpoint`` events (the keys of a local run's ``events.jsonl``), by step."""
    steps: dict[int, dict[str, Any]] = {}
    checkpoints: dict[int, dict[str, Any]] = {}
    for line in lines:
        if match := STEP.search(line):
            step = int(match["step"])
            steps[step] = {
                "type": "step",
                "step": step,
                "total_steps": int(match["total"]),
                "epoch": int(match["epoch"]),
                "loss": float(match["loss"]),
                "lr": float(match["lr"]),
                "images_per_s": float(match["ips"]),
                "data_wait_share": float(match["wait"]) / 100,
            }
        elif match := CHECKPOINT.search(line):
            checkpoints[int(match["step"])] = {"type": "checkpoint", "step": int(match["step"])}
    return [steps[s] for s in sorted(steps)] + [checkpoints[s] for s in sorted(checkpoints)]
