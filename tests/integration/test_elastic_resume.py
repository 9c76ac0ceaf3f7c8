"""Resume on another world size, 2 → 1 → 2 ranks, from one checkpoint location: model and
optimizer reshard, the global sample position carries over, so within an epoch no
sample is repeated or skipped, and the loss continues where it was."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from integration_support import SMALL_SET, WorkerResult, run_train


def _by_epoch(runs: list[list[WorkerResult]]) -> dict[int, list[int]]:
    """Every sample index trained on, per epoch, over all runs and ranks."""
    seen: dict[int, list[int]] = {}
    for ranks in runs:
        for r in ranks:
            for step, indices in r.indices.items():
                seen.setdefault(r.epochs[step], []).extend(indices)
    return seen


def _mean_loss(ranks: list[WorkerResult], step: int) -> float:
    return sum(r.losses[step] for r in ranks) / len(ranks)


@pytest.mark.slow
def test_two_to_one_to_two_ranks_continues_the_epoch_without_repeating_samples(
    job_file: Callable[..., Path], tmp_path: Path
) -> None:
    url = str(tmp_path / "checkpoints")
    jobs = {
        n: job_file(f"elastic{n}", resources={"procsPerNode": n}, checkpoint={"url": url, "intervalSteps": 100})
        for n in (1, 2)
    }
    # 160 images, 8 per rank: 10 steps/epoch on 2 ranks, 20 on 1 rank; 2 epochs.
    a = run_train(jobs[2], tmp_path / "a", nprocs=2, stop_after_step=7)  # epoch 0, position 112
    b = run_train(jobs[1], tmp_path / "b", nprocs=1, stop_after_step=17)  # 6 steps finish epoch 0, 4 into epoch 1
    c = run_train(jobs[2], tmp_path / "c", nprocs=2)  # 8 steps finish epoch 1

    assert [r.step for r in a] == [7, 7]
    assert b[0].resumed_from == 7 and b[0].step == 17
    assert [r.resumed_from for r in c] == [17, 17] and [r.step for r in c] == [25, 25]
    assert sorted(b[0].losses) == list(range(8, 18))
    assert sorted(c[0].losses) == list(range(18, 26))

    # Every epoch covers each of the 160 images exactly once across the three runs.
    for epoch, indices in _by_epoch([a, b, c]).items():
        repeated = [i for i, n in Counter(indices).items() if n > 1]
        assert not repeated, f"epoch {epoch}: samples {repeated[:10]} trained twice"
        assert sorted(indices) == list(range(SMALL_SET)), f"epoch {epoch}: samples skipped"

    # The loss continues: finite, and after each resume it stays near where it was instead
    # of jumping back towards the untrained level (a sign the weights did not carry over).
    losses = (
        [_mean_loss(a, s) for s in range(1, 8)]
        + [b[0].losses[s] for s in range(8, 18)]
        + [_mean_loss(c, s) for s in range(18, 26)]
    )
    assert all(math.isfinite(x) for x in losses)
    untrained = losses[0]
    for before, after in ((7, 8), (17, 18)):
        last, first = losses[before - 1], losses[after - 1]
        assert abs(first - last) < 0.5 * abs(untrained - last), (
            f"loss jumped from {last:.4f} to {first:.4f} across the resume at step {before}"
        )
