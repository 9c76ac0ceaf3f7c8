"""Save and resume on a local filesystem in one process (no process group)."""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from checkpoint_workers import config, full_state, make_state, tiny_model, train

from seer.trainer.checkpoint import Checkpointer, SaveResult, latest_complete


def test_async_save_captures_the_state_as_of_the_call(tmp_path: Path) -> None:
    model = tiny_model()
    state, optimizer = make_state(model, step=5)
    train(model, optimizer, 2)
    expected = full_state(model)
    checkpointer = Checkpointer(config(str(tmp_path)), {})
    assert checkpointer.save(state, loss=1.25) is None  # nothing was in flight before
    train(model, optimizer, 3)  # the loop goes on while the save is written
    result = checkpointer.wait()
    assert result is not None and result.ok and result.step == 5

    fresh = tiny_model(seed=99)
    fresh_state, _ = make_state(fresh)
    info = checkpointer.load_latest(fresh_state)
    assert info is not None and info.step == 5
    loaded = full_state(fresh)
    assert loaded.keys() == expected.keys()
    for name in expected:
        assert torch.equal(loaded[name], expected[name]), name
    assert fresh_state.progress.step == 5 and fresh_state.progress.position == 20


def test_optimizer_state_and_progress_are_restored_exactly(tmp_path: Path) -> None:
    model = tiny_model()
    state, optimizer = make_state(model, step=3)
    train(model, optimizer, 3)
    checkpointer = Checkpointer(config(str(tmp_path), async_save=False), {})
    assert (result := checkpointer.save(state)) is not None and result.ok

    fresh = tiny_model(seed=7)
    fresh_state, fresh_optimizer = make_state(fresh)
    checkpointer.load_latest(fresh_state)
    before, after = optimizer.state_dict()["state"], fresh_optimizer.state_dict()["state"]
    assert before.keys() == after.keys()
    for index in before:
        for key in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(before[index][key], after[index][key])
    # Training on from both gives the same parameters: the resume is exact.
    train(model, optimizer, 2, seed=5)
    train(fresh, fresh_optimizer, 2, seed=5)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), fresh.parameters(), strict=True))


def test_a_checkpoint_of_another_spec_loads_with_one_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state, _ = make_state(tiny_model(), step=2)
    Checkpointer(config(str(tmp_path), async_save=False), {}).save(state)
    changed, _ = make_state(tiny_model(seed=4))
    changed.spec_hash = "sha256:changed"
    with caplog.at_level(logging.WARNING, logger="seer.trainer"):
        assert Checkpointer(config(str(tmp_path)), {}).load_latest(changed) is not None
    assert changed.loaded_spec_hash == "sha256:test" and changed.progress.step == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "sha256:test" in warnings[0] and "sha256:changed" in warnings[0]


def test_rng_states_and_per_rank_queue_are_restored_on_the_same_world_size(tmp_path: Path) -> None:
    queue = torch.randn(6, 4)
    state, _ = make_state(tiny_model(), step=1, queue=queue)
    torch.manual_seed(123), np.random.seed(123), random.seed(123)
    checkpointer = Checkpointer(config(str(tmp_path), async_save=False), {})
    checkpointer.save(state)
    expected = (torch.rand(3), np.random.rand(3), [random.random() for _ in range(3)])

    torch.manual_seed(0), np.random.seed(0), random.seed(0)
    new_queue = torch.zeros(6, 4)
    fresh_state, _ = make_state(tiny_model(), queue=new_queue)
    checkpointer.load_latest(fresh_state)
    assert torch.equal(new_queue, queue)
    assert torch.equal(torch.rand(3), expected[0])
    assert np.array_equal(np.random.rand(3), expected[1])
    assert [random.random() for _ in range(3)] == expected[2]


def test_manifest_is_written_beside_dcp_metadata_and_says_what_was_saved(tmp_path: Path) -> None:
    state, _ = make_state(tiny_model(), step=42)
    Checkpointer(config(str(tmp_path)), {}).save(state, loss=0.5, blocking=True)
    step_dir = tmp_path / "step-00000042"
    assert (step_dir / ".metadata").is_file()
    manifest = json.loads((step_dir / "manifest.json").read_text())
    assert manifest["step"] == 42 and manifest["position"] == 168 and manifest["world_size"] == 1
    assert manifest["loss"] == 0.5 and manifest["spec_hash"] == "sha256:test"
    assert manifest["duration_s"] >= 0 and manifest["time"].endswith("+00:00")


def test_file_url_and_plain_path_name_the_same_checkpoints(tmp_path: Path) -> None:
    state, _ = make_state(tiny_model(), step=2)
    Checkpointer(config(f"file://{tmp_path}"), {}).save(state, blocking=True)
    info = latest_complete(str(tmp_path))
    assert info is not None and info.step == 2


def test_nothing_to_resume_from_leaves_the_state_untouched(tmp_path: Path) -> None:
    model = tiny_model()
    state, _ = make_state(model, step=0)
    before = full_state(model)
    assert Checkpointer(config(str(tmp_path / "empty")), {}).load_latest(state) is None
    assert all(torch.equal(before[k], v) for k, v in full_state(model).items())


def test_saving_an_already_committed_step_again_is_a_no_op(tmp_path: Path) -> None:
    state, _ = make_state(tiny_model(), step=4)
    reported: list[SaveResult] = []
    checkpointer = Checkpointer(config(str(tmp_path)), {}, on_result=reported.append)
    first = checkpointer.save(state, blocking=True)
    mtime = (tmp_path / "step-00000004" / "manifest.json").stat().st_mtime_ns
    second = checkpointer.save(state, blocking=True)
    assert first is not None and not first.skipped
    assert second is not None and second.ok and second.skipped
    assert (tmp_path / "step-00000004" / "manifest.json").stat().st_mtime_ns == mtime
    assert [r.skipped for r in reported] == [False, True]


def test_a_new_save_waits_for_the_previous_one_and_reports_it(tmp_path: Path) -> None:
    seen: list[SaveResult] = []
    state, _ = make_state(tiny_model(), step=1)
    checkpointer = Checkpointer(config(str(tmp_path)), {}, on_result=seen.append)
    checkpointer.save(state)
    state.progress.step = 2
    previous = checkpointer.save(state)
    assert previous is not None and previous.step == 1 and previous.ok
    assert checkpointer.close() is not None
    assert [r.step for r in seen] == [1, 2]
    assert all(r.ok and not r.skipped for r in seen)


def test_should_save_follows_the_interval_and_resets_after_a_save(tmp_path: Path) -> None:
    state, _ = make_state(tiny_model(), step=0)
    checkpointer = Checkpointer(config(str(tmp_path), every_steps=3), {})
    assert [checkpointer.should_save(s) for s in (1, 2, 3)] == [False, False, True]
    state.progress.step = 3
    checkpointer.save(state, blocking=True)
    assert not checkpointer.should_save(5) and checkpointer.should_save(6)


def test_repr_never_shows_credentials(tmp_path: Path) -> None:
    checkpointer = Checkpointer(config(str(tmp_path)), {"key": "AKIA-SECRET", "secret": "shh"})
    assert "AKIA-SECRET" not in repr(checkpointer) and "shh" not in repr(checkpointer)


def test_keep_last_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="keep_last"):
        Checkpointer(config(str(tmp_path), keep_last=0), {})
