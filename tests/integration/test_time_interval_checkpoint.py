"""A two-rank job with a time-based checkpoint interval (``intervalSeconds``, no step
interval) checkpoints on both ranks at the same steps.

A time-based decision is local: each rank reads its own clock after its own step. The
ranks' clocks are skewed on purpose (``skewed_clock_worker.py``: rank 0's checkpoint
clock gains 7 s per step, rank 1's 10 s; interval 25 s), so alone rank 1 would be due at
steps 3, 6, ... and rank 0 at 4, 8, ...: only the checkpointer's cross-rank agreement
makes them save together, and a save is a collective that needs every rank.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from integration_support import HANG_GUARD_S, REPO, quiet_env, torchrun_command

WORKER = Path(__file__).resolve().parent / "skewed_clock_worker.py"


@pytest.mark.slow
def test_two_ranks_with_a_time_interval_checkpoint_at_the_same_steps(
    job_file: Callable[..., Path], tmp_path: Path
) -> None:
    url = tmp_path / "ck"
    job = job_file(
        "by-time",
        resources={"procsPerNode": 2},
        optim={"epochs": 1},  # 10 steps
        checkpoint={"url": str(url), "intervalSteps": None, "intervalSeconds": 25, "keepLast": 100},
    )
    out = tmp_path / "out"
    out.mkdir()
    cmd = torchrun_command(2, WORKER, "--seconds-per-step", "7,10", "--job", str(job), "--out", str(out))
    proc = subprocess.run(cmd, env=quiet_env(), cwd=REPO, capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]

    due = [json.loads((out / f"due-rank-{r}.json").read_text()) for r in range(2)]
    assert due[0] == due[1], f"ranks decided to save at different steps: {due}"
    # Rank 1's clock alone makes step 3 due; agreement makes it due on rank 0 as well.
    assert due[0] and due[0][0] == 3, due

    # Every agreed save is a complete checkpoint written by both ranks (plus the final one).
    committed = sorted(int(p.name.split("-")[1]) for p in url.glob("step-*") if (p / "manifest.json").exists())
    assert committed == sorted({*due[0], 10})
    for step in committed:
        folder = url / f"step-{step:08d}"
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["step"] == step and manifest["world_size"] == 2
        assert {p.name.split("_")[2] for p in folder.glob("__*_*.distcp")} == {"0", "1"}, sorted(folder.iterdir())
