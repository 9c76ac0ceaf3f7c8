"""Commit marker, retention, torn checkpoints and failures on a local filesystem."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import checkpoint_workers
import pytest
import torch
from checkpoint_workers import config, full_state, make_state, tiny_model

from seer.trainer.checkpoint import Checkpointer, SaveResult, latest_complete


def step_dirs(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith("step-"))


def test_retention_keeps_exactly_the_last_k_complete_checkpoints(tmp_path: Path) -> None:
    state, _ = make_state(tiny_model())
    checkpointer = Checkpointer(config(str(tmp_path), keep_last=2), {})
    for step in range(1, 6):
        state.progress.step = step
        checkpointer.save(state)
    checkpointer.close()
    assert step_dirs(tmp_path) == ["step-00000004", "step-00000005"]


def test_a_directory_without_manifest_is_never_loaded_and_is_collected_after_the_next_commit(tmp_path: Path) -> None:
    model = tiny_model()
    state, _ = make_state(model, step=1)
    checkpointer = Checkpointer(config(str(tmp_path)), {})
    checkpointer.save(state, blocking=True)
    expected = full_state(model)
    state.progress.step = 2
    checkpointer.save(state, blocking=True)
    (tmp_path / "step-00000002" / "manifest.json").unlink()  # as if killed between .metadata and the manifest

    info = latest_complete(str(tmp_path))
    assert info is not None and info.step == 1
    fresh_state, _ = make_state(tiny_model(seed=5))
    assert Checkpointer(config(str(tmp_path)), {}).load_latest(fresh_state).step == 1  # type: ignore[union-attr]
    assert all(torch.equal(expected[k], v) for k, v in full_state(fresh_state.model).items())

    state.progress.step = 3
    checkpointer.save(state, blocking=True)
    assert step_dirs(tmp_path) == ["step-00000001", "step-00000003"]


def test_a_torn_directory_of_the_same_step_is_cleared_before_it_is_rewritten(tmp_path: Path) -> None:
    torn = tmp_path / "step-00000007"
    torn.mkdir()
    (torn / "__1_0.distcp").write_bytes(b"left over by a 2-rank run that was killed")
    state, _ = make_state(tiny_model(), step=7)
    result = Checkpointer(config(str(tmp_path)), {}).save(state, blocking=True)
    assert result is not None and result.ok and not result.skipped
    assert not (torn / "__1_0.distcp").exists() and (torn / "manifest.json").exists()


def test_an_unwritable_store_fails_cleanly_keeps_what_was_committed_and_the_next_save_succeeds(tmp_path: Path) -> None:
    root = tmp_path / "ckpt"
    model = tiny_model()
    state, _ = make_state(model, step=1)
    reported: list[SaveResult] = []
    checkpointer = Checkpointer(config(str(root), keep_last=1), {}, on_result=reported.append)
    checkpointer.save(state, blocking=True)
    committed = full_state(model)

    shutil.move(root, tmp_path / "away")
    root.write_text("not a directory: every write below it fails")
    state.progress.step = 2
    assert checkpointer.save(state) is None  # async: the failure shows up later, not as an exception
    failed = checkpointer.wait()
    assert failed is not None and not failed.ok and failed.attempts == 2 and failed.error
    assert [(r.step, r.ok) for r in reported] == [(1, True), (2, False)]  # each outcome reported once

    root.unlink()
    shutil.move(tmp_path / "away", root)
    state.progress.step = 3
    succeeded = checkpointer.save(state, blocking=True)
    assert succeeded is not None and succeeded.ok
    assert step_dirs(root) == ["step-00000003"]
    assert [(r.step, r.ok) for r in reported] == [(1, True), (2, False), (3, True)]
    fresh_state, _ = make_state(tiny_model(seed=3))
    Checkpointer(config(str(root)), {}).load_latest(fresh_state)
    assert all(torch.equal(committed[k], v) for k, v in full_state(fresh_state.model).items())


def test_save_now_writes_synchronously_within_its_budget(tmp_path: Path) -> None:
    state, _ = make_state(tiny_model(), step=9)
    checkpointer = Checkpointer(config(str(tmp_path)), {})
    result = checkpointer.save_now(state, loss=0.1, timeout_s=60)
    assert result.ok and result.step == 9
    assert latest_complete(str(tmp_path)).step == 9  # type: ignore[union-attr]


def test_save_now_after_an_async_save_of_the_same_step_does_not_write_twice(tmp_path: Path) -> None:
    state, _ = make_state(tiny_model(), step=4)
    reported: list[SaveResult] = []
    checkpointer = Checkpointer(config(str(tmp_path)), {}, on_result=reported.append)
    checkpointer.save(state)
    result = checkpointer.save_now(state, timeout_s=60)
    assert result.ok and result.step == 4
    assert [(r.step, r.skipped) for r in reported] == [(4, False)]  # one write, reported once


def test_save_now_that_runs_out_of_time_reports_a_failure_and_never_commits(tmp_path: Path) -> None:
    state, _ = make_state(tiny_model(), step=8)
    checkpointer = Checkpointer(config(str(tmp_path)), {})
    result = checkpointer.save_now(state, timeout_s=0.0)
    assert not result.ok and "TimeoutError" in (result.error or "")
    late = checkpointer.wait()  # the abandoned write finishes in the background
    assert late is not None and not late.ok
    assert latest_complete(str(tmp_path)) is None


@pytest.mark.slow
def test_a_writer_killed_mid_save_leaves_a_torn_checkpoint_that_is_skipped_and_collected(tmp_path: Path) -> None:
    root, ready = tmp_path / "ckpt", tmp_path / "ready"
    child = subprocess.Popen(
        [sys.executable, checkpoint_workers.__file__, str(root), str(ready)],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    try:
        deadline = time.monotonic() + 120
        while not (ready.exists() and (root / "step-00000002").exists()):
            assert child.poll() is None, f"writer exited early ({child.returncode})"
            assert time.monotonic() < deadline, "writer never started step 2"
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()

    assert step_dirs(root) == ["step-00000001", "step-00000002"]
    info = latest_complete(str(root))
    assert info is not None and info.step == 1
    state, _ = make_state(tiny_model(), step=3)
    result = Checkpointer(config(str(root)), {}).save(state, blocking=True)
    assert result is not None and result.ok
    assert step_dirs(root) == ["step-00000001", "step-00000003"]
