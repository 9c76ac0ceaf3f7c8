"""A torn checkpoint — what a worker killed during a save leaves behind — newer than the
last complete one: the resumed run skips it, uses the previous complete checkpoint, and
garbage collection removes it after the next commit."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from integration_support import complete_steps, run_train

from seer.trainer.checkpoint import MANIFEST_NAME, step_dir_name


@pytest.mark.slow
def test_torn_checkpoints_are_skipped_on_resume_and_collected_after_the_next_commit(
    job_file: Callable[..., Path], tmp_path: Path
) -> None:
    ckpt = tmp_path / "checkpoints"
    job = job_file("torn", checkpoint={"url": str(ckpt), "intervalSteps": 5, "keepLast": 3})
    first = run_train(job, tmp_path / "first", nprocs=1, stop_after_step=10)
    assert first[0].step == 10 and complete_steps(ckpt) == [5, 10]

    # Killed after DCP wrote every shard and .metadata, before the manifest (the commit marker):
    shutil.copytree(ckpt / step_dir_name(10), ckpt / step_dir_name(12))
    (ckpt / step_dir_name(12) / MANIFEST_NAME).unlink()
    # Killed while writing shards, at the very step the resumed run saves next:
    (ckpt / step_dir_name(15)).mkdir()
    shard = next((ckpt / step_dir_name(10)).glob("*.distcp"))
    (ckpt / step_dir_name(15) / shard.name).write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])

    second = run_train(job, tmp_path / "second", nprocs=1, stop_after_step=16)
    assert second[0].resumed_from == 10, "the torn step-12 directory must never be loaded"
    assert min(second[0].losses) == 11
    assert second[0].step == 16
    # Step 15 was rewritten in full; the torn step 12 below it was collected; retention kept 3.
    assert sorted(int(p.name.split("-")[1]) for p in ckpt.glob("step-*")) == [10, 15, 16]
    assert complete_steps(ckpt) == [10, 15, 16]
