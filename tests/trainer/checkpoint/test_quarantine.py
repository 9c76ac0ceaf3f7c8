"""A checkpoint that fails to load is quarantined and the next older one resumed (issue 12, item 2).

One process here; ``tests/integration/test_corrupt_checkpoint_quarantine.py`` runs the same
through the trainer on one and two ranks.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from checkpoint_workers import config, full_state, make_state, tiny_model, train

from seer.trainer.checkpoint import Checkpointer, Quarantined, latest_complete, step_dir_name


def _two_checkpoints(root: Path) -> dict[int, dict[str, torch.Tensor]]:
    """Commit steps 1 and 2 under ``root``; returns the model state of each."""
    model = tiny_model()
    state, optimizer = make_state(model)
    checkpointer = Checkpointer(config(str(root), async_save=False), {})
    saved = {}
    for step in (1, 2):
        train(model, optimizer, 1, seed=step)
        state.progress.step = step
        assert (result := checkpointer.save(state)) is not None and result.ok
        saved[step] = full_state(model)
    return saved


def _truncate_a_shard(step_dir: Path) -> tuple[str, bytes]:
    shard = sorted(step_dir.glob("*.distcp"))[0]
    data = shard.read_bytes()[: shard.stat().st_size // 2]
    shard.write_bytes(data)
    return shard.name, data


def test_a_truncated_newest_checkpoint_is_moved_aside_reported_and_the_older_one_loads(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    saved = _two_checkpoints(tmp_path)
    shard, truncated = _truncate_a_shard(tmp_path / step_dir_name(2))
    heard: list[Quarantined] = []
    fresh = tiny_model(seed=9)
    state, _ = make_state(fresh)

    with caplog.at_level(logging.ERROR, logger="seer.trainer"):
        info = Checkpointer(config(str(tmp_path)), {}, on_quarantine=heard.append).load_latest(state)

    assert info is not None and info.step == 1 and state.progress.step == 1
    for name, tensor in saved[1].items():
        assert torch.equal(full_state(fresh)[name], tensor), name
    assert len(heard) == 1 and heard[0].step == 2 and heard[0].error
    moved = Path(heard[0].moved_to or "")
    assert moved.parent == tmp_path / "quarantine" and moved.name.startswith(step_dir_name(2) + ".")
    assert (moved / shard).read_bytes() == truncated  # kept as it was, not deleted
    assert not (tmp_path / step_dir_name(2)).exists()
    assert latest_complete(str(tmp_path)).step == 1  # type: ignore[union-attr]
    # The traceback of the failed load is in the log (the retry policy of ``config``: 2 attempts).
    tracebacks = [r for r in caplog.records if "failed to load (attempt" in r.getMessage()]
    assert len(tracebacks) == 2 and all("Traceback" in r.getMessage() for r in tracebacks)
    assert any("quarantined to" in r.getMessage() for r in caplog.records)


def test_when_no_checkpoint_loads_the_resume_fails_instead_of_starting_fresh(tmp_path: Path) -> None:
    _two_checkpoints(tmp_path)
    for step in (1, 2):
        _truncate_a_shard(tmp_path / step_dir_name(step))
    state, _ = make_state(tiny_model(seed=9))
    with pytest.raises(RuntimeError, match=r"no checkpoint under .* could be loaded \(steps \[2, 1\] quarantined\)"):
        Checkpointer(config(str(tmp_path)), {}).load_latest(state)
    assert sorted(p.name.split(".")[0] for p in (tmp_path / "quarantine").iterdir()) == [
        step_dir_name(1),
        step_dir_name(2),
    ]


def test_an_unreachable_store_quarantines_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _two_checkpoints(tmp_path)
    _truncate_a_shard(tmp_path / step_dir_name(2))
    checkpointer = Checkpointer(config(str(tmp_path)), {})

    def unreachable(step: int) -> None:
        raise ConnectionError("the store went away")

    state, _ = make_state(tiny_model(seed=9))
    real_latest = checkpointer.store.latest_complete

    def latest_then_outage(exclude: object = ()) -> object:
        info = real_latest()
        monkeypatch.setattr(checkpointer.store, "read_manifest", unreachable)
        return info

    monkeypatch.setattr(checkpointer.store, "latest_complete", latest_then_outage)
    with pytest.raises(RuntimeError, match="the store went away"):
        checkpointer.load_latest(state)
    assert (tmp_path / step_dir_name(2)).exists() and not (tmp_path / "quarantine").exists()


def test_a_checkpoint_that_does_not_fit_the_model_is_left_in_place_and_the_resume_fails(tmp_path: Path) -> None:
    """A changed spec (another model shape) is no reason to set a good checkpoint aside."""
    _two_checkpoints(tmp_path)
    other = torch.nn.Sequential(torch.nn.Linear(5, 2))  # not the model the checkpoints were written from
    state, _ = make_state(other)
    with pytest.raises(RuntimeError, match="does not fit this job .* left in place"):
        Checkpointer(config(str(tmp_path)), {}).load_latest(state)
    assert latest_complete(str(tmp_path)).step == 2  # type: ignore[union-attr]
    assert not (tmp_path / "quarantine").exists()


@pytest.mark.services
def test_on_s3_the_quarantined_checkpoint_is_moved_object_by_object_and_the_older_one_loads(s3_bucket: str) -> None:
    import s3fs

    from seer.trainer.storage import storage_options_from_env

    url = f"{s3_bucket}/run-q"
    fs = s3fs.S3FileSystem(**storage_options_from_env(url), skip_instance_cache=True)
    model = tiny_model()
    state, optimizer = make_state(model)
    writer = Checkpointer(config(url, async_save=False))
    for step in (1, 2):
        train(model, optimizer, 1, seed=step)
        state.progress.step = step
        assert (result := writer.save(state)) is not None and result.ok
    step2 = f"{url}/{step_dir_name(2)}".removeprefix("s3://")
    shard = max(fs.find(step2, detail=True).items(), key=lambda kv: kv[1]["size"] if kv[0].endswith(".distcp") else -1)
    data = fs.cat_file(shard[0])
    fs.pipe_file(shard[0], data[: len(data) // 2])
    objects = sorted(p.rsplit("/", 1)[-1] for p in fs.find(step2))

    heard: list[Quarantined] = []
    fresh, _ = make_state(tiny_model(seed=9))
    info = Checkpointer(config(url), on_quarantine=heard.append).load_latest(fresh)

    assert info is not None and info.step == 1 and len(heard) == 1
    moved = (heard[0].moved_to or "").removeprefix("s3://")
    assert moved.startswith(f"{url}/quarantine/{step_dir_name(2)}.".removeprefix("s3://"))
    fs.invalidate_cache()
    assert sorted(p.rsplit("/", 1)[-1] for p in fs.find(moved)) == objects
    assert not fs.find(step2)
    assert latest_complete(url, storage_options_from_env(url)).step == 1  # type: ignore[union-attr]
