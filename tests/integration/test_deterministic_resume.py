"""Issue #4 point 7: with a fixed seed on CPU (fp32), a run stopped at step k and resumed
from its checkpoint produces exactly the same per-step losses after k as a run that was
never interrupted (same world size). Compared bit for bit: no tolerance."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from integration_support import run_train


@pytest.mark.slow
@pytest.mark.parametrize(("nprocs", "stop_step"), [(1, 13), (2, 7)])
def test_resumed_run_reproduces_the_uninterrupted_losses_exactly(
    job_file: Callable[..., Path], tmp_path: Path, nprocs: int, stop_step: int
) -> None:
    # 160 images, batch 8 per rank, 2 epochs: the resumed part crosses the epoch boundary.
    resources = {"procsPerNode": nprocs}
    straight = job_file(f"straight{nprocs}", resources=resources, checkpoint={"url": str(tmp_path / "ck-straight"), "intervalSteps": 5})
    interrupted = job_file(f"interrupted{nprocs}", resources=resources, checkpoint={"url": str(tmp_path / "ck-interrupted"), "intervalSteps": 5})

    reference = run_train(straight, tmp_path / "straight", nprocs=nprocs)
    first = run_train(interrupted, tmp_path / "first", nprocs=nprocs, stop_after_step=stop_step)
    second = run_train(interrupted, tmp_path / "second", nprocs=nprocs)

    total = reference[0].step
    assert total == 40 // nprocs
    for rank in range(nprocs):
        assert first[rank].preempted and first[rank].step == stop_step
        assert second[rank].resumed_from == stop_step
        assert second[rank].step == total
        resumed = second[rank].losses
        assert sorted(resumed) == list(range(stop_step + 1, total + 1))
        # Bit-identical, not approximately equal: same floats from the same computation.
        assert resumed == {s: reference[rank].losses[s] for s in resumed}, f"rank {rank}: resumed losses differ from the uninterrupted run"
        # And the same batches: the data position and order carried over.
        assert second[rank].indices == {s: reference[rank].indices[s] for s in resumed}
        # The part before the stop matched too (same seed, same init).
        assert first[rank].losses == {s: reference[rank].losses[s] for s in first[rank].losses}
