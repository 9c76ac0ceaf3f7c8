"""Checkpoints load across parallelisms: a run saved under DDP (2 gloo ranks) resumes under
FSDP2 (2 ranks) — and one saved under FSDP2 resumes without any wrapper (1 process) — and
the losses continue as in the uninterrupted run (to float32 rounding: the layouts differ in
the order of float additions). End to end through ``train()``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from integration_support import make_subset, run_train, tiny_job, write_job  # noqa: E402


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from seer.trainer.data.digits import materialize_digits

    root = tmp_path_factory.mktemp("digits")
    materialize_digits(str(root), size=16)
    return make_subset(root / "train", tmp_path_factory.mktemp("small") / "train", 160)


def _job(tmp_path: Path, data: Path, name: str, parallelism: str, procs: int, url: Path) -> Path:
    doc = tiny_job(
        name,
        data,
        resources={"procsPerNode": procs},
        training={"parallelism": parallelism},
        checkpoint={"url": str(url), "intervalSteps": 100},
    )
    return write_job(tmp_path / f"{name}.yaml", doc)


@pytest.mark.slow
def test_ddp_checkpoint_resumes_under_fsdp_with_the_same_losses(tmp_path: Path, data: Path) -> None:
    # 160 images, 8 per rank, 2 ranks: 10 steps/epoch, 2 epochs = 20 steps; fp32 on CPU.
    reference = run_train(_job(tmp_path, data, "ref", "ddp", 2, tmp_path / "ck-ref"), tmp_path / "ref", nprocs=2)
    url = tmp_path / "ck"
    first = run_train(_job(tmp_path, data, "a", "ddp", 2, url), tmp_path / "a", nprocs=2, stop_after_step=7)
    second = run_train(_job(tmp_path, data, "b", "fsdp", 2, url), tmp_path / "b", nprocs=2)
    assert [r.step for r in first] == [7, 7] and [r.resumed_from for r in second] == [7, 7]
    for rank in range(2):
        assert second[rank].indices == {s: reference[rank].indices[s] for s in second[rank].indices}
        # DDP all-reduces and FSDP2 reduce-scatters the same gradients: the same math up to
        # the order of float additions, so equal to float32 rounding, not bit for bit.
        got = torch.tensor([second[rank].losses[s] for s in sorted(second[rank].losses)])
        want = torch.tensor([reference[rank].losses[s] for s in sorted(second[rank].losses)])
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_fsdp_checkpoint_resumes_in_one_unwrapped_process(tmp_path: Path, data: Path) -> None:
    # One process: FSDP2 over one rank vs the plain module. The same math, but not the same
    # floats: unwrapped, the weights are channels_last too (other convolution kernels).
    reference = run_train(_job(tmp_path, data, "ref1", "ddp", 1, tmp_path / "ck-ref1"), tmp_path / "ref1", nprocs=1)
    url = tmp_path / "ck1"
    [first] = run_train(_job(tmp_path, data, "f", "fsdp", 1, url), tmp_path / "f", nprocs=1, stop_after_step=13)
    [second] = run_train(_job(tmp_path, data, "n", "ddp", 1, url), tmp_path / "n", nprocs=1)
    assert first.step == 13 and second.resumed_from == 13 and second.step == reference[0].step
    assert second.indices == {s: reference[0].indices[s] for s in second.indices}
    for part in (first, second):
        got = torch.tensor([part.losses[s] for s in sorted(part.losses)])
        want = torch.tensor([reference[0].losses[s] for s in sorted(part.losses)])
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
