"""Issue #4 point 7: with a fixed seed on CPU (fp32), a run resumed from a checkpoint at
step k produces exactly the same per-step losses after k as a run that was never
interrupted (same world size). Compared bit for bit: no tolerance."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from integration_support import WorkerResult, run_train


def _assert_same_after(resumed: WorkerResult, reference: WorkerResult, k: int) -> None:
    assert resumed.resumed_from == k
    assert resumed.step == reference.step
    assert sorted(resumed.losses) == list(range(k + 1, reference.step + 1))
    # Bit-identical, not approximately equal: the same floats from the same computation.
    assert resumed.losses == {s: reference.losses[s] for s in resumed.losses}, (
        f"rank {resumed.rank}: losses after the resume differ"
    )
    # ...from the same batches: the data position and order carried over.
    assert resumed.indices == {s: reference.indices[s] for s in resumed.losses}


@pytest.mark.slow
def test_stopped_and_resumed_run_reproduces_the_uninterrupted_losses_exactly(
    job_file: Callable[..., Path], tmp_path: Path
) -> None:
    # One rank, 160 images, batch 8, 2 epochs = 40 steps; stopped at 13 (final checkpoint on
    # the stop path, not a periodic one); the resumed part crosses the epoch boundary.
    straight = job_file("straight", checkpoint={"url": str(tmp_path / "ck-straight")})
    interrupted = job_file("interrupted", checkpoint={"url": str(tmp_path / "ck-interrupted")})

    [reference] = run_train(straight, tmp_path / "straight", nprocs=1)
    [first] = run_train(interrupted, tmp_path / "first", nprocs=1, stop_after_step=13)
    [second] = run_train(interrupted, tmp_path / "second", nprocs=1)

    assert reference.step == 40
    assert first.preempted and first.step == 13
    assert first.losses == {s: reference.losses[s] for s in first.losses}
    _assert_same_after(second, reference, 13)


@pytest.mark.slow
def test_two_ranks_resumed_from_a_periodic_async_checkpoint_reproduce_the_losses_exactly(
    job_file: Callable[..., Path], tmp_path: Path
) -> None:
    # Two ranks (FSDP2), 10 steps/epoch, 2 epochs; async checkpoints every 5 steps. The run
    # is resumed from its own step-5 checkpoint, written in the background while training
    # went on: it must hold the state as of step 5, not a later one.
    url = tmp_path / "ck"
    job = job_file(
        "periodic", resources={"procsPerNode": 2}, checkpoint={"url": str(url), "intervalSteps": 5, "keepLast": 10}
    )
    reference = run_train(job, tmp_path / "straight", nprocs=2)
    assert [r.step for r in reference] == [20, 20]

    for later in url.glob("step-*"):  # keep only step 5: as if the run had died at step 6..9
        if later.name != "step-00000005":
            shutil.rmtree(later)
    resumed = run_train(job, tmp_path / "resumed", nprocs=2)
    for rank in range(2):
        _assert_same_after(resumed[rank], reference[rank], 5)
