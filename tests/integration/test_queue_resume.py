"""Resume with the SwAV feature queue on (``swav.queue.length > 0``).

Same world size: the queue is per-rank state in every checkpoint, so a run stopped
after the queue filled and resumed reproduces the uninterrupted run's losses bit for
bit (fp32, CPU). Without the queue in the checkpoint the resumed run would refill an
empty queue and Sinkhorn would see other rows: the losses would differ at once.

Other world size: per-rank state is not loaded (each rank's rows came from samples
another rank layout no longer has), so the queue starts empty and is used again once
refilled, ``length / (world × batch)`` steps later — documented in docs/checkpoints.md.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from integration_support import run_train

#: 32 rows across all ranks: 4 batches of 8 on one rank, 2 of 16 on two. Filled from
#: epoch 1 (steps 21.. on one rank: 20 steps/epoch), used from step 25 on.
QUEUE = {"length": 32, "startEpoch": 1}
STOP = 27  # in epoch 1, after the queue filled and was used for 2 steps


@pytest.mark.slow
def test_a_run_with_the_queue_on_resumes_to_exactly_the_uninterrupted_losses(
    job_file: Callable[..., Path], tmp_path: Path
) -> None:
    straight = job_file("q-straight", swav={"queue": QUEUE}, checkpoint={"url": str(tmp_path / "ck-straight")})
    interrupted = job_file("q-stopped", swav={"queue": QUEUE}, checkpoint={"url": str(tmp_path / "ck-stopped")})

    [reference] = run_train(straight, tmp_path / "straight", nprocs=1)
    [first] = run_train(interrupted, tmp_path / "first", nprocs=1, stop_after_step=STOP)
    [second] = run_train(interrupted, tmp_path / "second", nprocs=1)

    assert reference.step == 40 and first.preempted and first.step == STOP
    assert second.resumed_from == STOP and sorted(second.losses) == list(range(STOP + 1, 41))
    assert second.losses == {s: reference.losses[s] for s in second.losses}, "losses after the resume differ"

    # The queue mattered: the same job without it trains to other losses once the queue is in use.
    without = job_file("q-off", checkpoint={"url": str(tmp_path / "ck-off")})
    [plain] = run_train(without, tmp_path / "plain", nprocs=1, stop_after_step=STOP)
    assert all(plain.losses[s] == reference.losses[s] for s in range(1, 25)), "identical until the queue is used"
    assert plain.losses[25] != reference.losses[25]


@pytest.mark.slow
def test_on_another_world_size_the_queue_starts_empty_and_refills(
    job_file: Callable[..., Path], tmp_path: Path
) -> None:
    one_rank = tmp_path / "ck-1"
    [first] = run_train(
        job_file("q-one", swav={"queue": QUEUE}, checkpoint={"url": str(one_rank)}),
        tmp_path / "first",
        nprocs=1,
        stop_after_step=STOP,
    )
    assert first.step == STOP
    # Resume the same checkpoint on 2 ranks twice: with the queue, and with it switched off.
    shutil.copytree(one_rank, tmp_path / "ck-2-off")
    on = run_train(
        job_file("q-two", swav={"queue": QUEUE}, resources={"procsPerNode": 2}, checkpoint={"url": str(one_rank)}),
        tmp_path / "on",
        nprocs=2,
    )
    off = run_train(
        job_file("q-two-off", resources={"procsPerNode": 2}, checkpoint={"url": str(tmp_path / "ck-2-off")}),
        tmp_path / "off",
        nprocs=2,
    )
    # Position 7 × 8 = 56 of epoch 1 → 104 images left = 7 steps of 2 × 8 (the last one partial or dropped).
    for rank in range(2):
        assert on[rank].resumed_from == STOP and off[rank].resumed_from == STOP
        steps = sorted(on[rank].losses)
        assert steps == sorted(off[rank].losses) and steps[0] == STOP + 1 and len(steps) >= 3
        refill = 32 // (2 * 8)  # steps until the emptied queue is full again
        # While it refills the queue is not used: bit-identical to a run without a queue...
        for s in steps[:refill]:
            assert on[rank].losses[s] == off[rank].losses[s], (
                f"rank {rank} step {s}: a queue was used before it refilled"
            )
        # ...and once full it is: the losses part.
        assert on[rank].losses[steps[refill]] != off[rank].losses[steps[refill]]
