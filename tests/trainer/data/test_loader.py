"""build_loader: what the training loop iterates, across workers, ranks and resumes."""

from __future__ import annotations

from itertools import islice

import pytest
import torch

from seer.trainer.data.loader import Batch, build_loader
from seer.trainer.data.sharding import epoch_order
from seer.trainer.data.sources import list_samples


@pytest.fixture(scope="module")
def digits_train(digits_root):
    """Two classes of the digits (~290 images): enough batches, fast epochs."""
    return list_samples([f"{digits_root}/train/0", f"{digits_root}/train/1"])


def batches(samples, cfg, **kw):
    return list(build_loader(samples, multicrop=cfg, **kw))


@pytest.mark.parametrize("workers", [1, 2])
def test_loader_workers_yield_exactly_what_the_main_process_builds(digits_train, small_crops, workers):
    kw = dict(per_rank_batch=8, seed=4, epoch=1, start_position=len(digits_train) - 5 * 16)
    reference = batches(digits_train, small_crops, rank=1, world_size=2, **kw)
    parallel = batches(
        digits_train, small_crops, rank=1, world_size=2, workers=workers, multiprocessing_context="fork", **kw
    )
    assert len(reference) == len(parallel) == 5
    for a, b in zip(reference, parallel, strict=False):
        assert torch.equal(a.indices, b.indices)
        assert a.position_after == b.position_after and a.step_in_epoch == b.step_in_epoch
        assert all(torch.equal(x, y) for x, y in zip(a.crops, b.crops, strict=False))


def test_resume_with_another_world_size_reproduces_the_same_samples_and_crops(digits_train, small_crops):
    n, b = len(digits_train), 8
    # Reference: one rank of 16 through the whole epoch.
    single = batches(digits_train, small_crops, per_rank_batch=2 * b, seed=1)
    by_index = {}
    for batch in single:
        for k, i in enumerate(batch.indices.tolist()):
            by_index[i] = [c[k] for c in batch.crops]
    # Two ranks of 8 for 5 steps, checkpoint, then one rank of 16 to the end.
    first = [
        list(
            islice(build_loader(digits_train, multicrop=small_crops, per_rank_batch=b, rank=r, world_size=2, seed=1), 5)
        )
        for r in range(2)
    ]
    position = first[0][-1].position_after
    assert position == first[1][-1].position_after == 5 * 2 * b
    rest = batches(digits_train, small_crops, per_rank_batch=2 * b, seed=1, start_position=position)
    seen = [i for rank in first for batch in rank for i in batch.indices.tolist()]
    seen += [i for batch in rest for i in batch.indices.tolist()]
    assert len(seen) == len(set(seen)) == (n // (2 * b)) * 2 * b
    assert set(seen) == set(epoch_order(n, 1, 0)[: len(seen)].tolist())
    for batch in first[1][:2]:  # crops after the world-size change are the same crops
        for k, i in enumerate(batch.indices.tolist()):
            assert all(torch.equal(c[k], ref) for c, ref in zip(batch.crops, by_index[i], strict=False))


def test_epochs_advance_and_a_resume_at_the_end_of_an_epoch_moves_on(digits_train, small_crops):
    per_epoch = len(digits_train) // 32
    loader = build_loader(digits_train, multicrop=small_crops, per_rank_batch=32, epochs=2)
    assert len(loader) == 2 * per_epoch
    got = list(loader)
    assert [b.epoch for b in got] == [0] * per_epoch + [1] * per_epoch
    assert got[per_epoch - 1].step_in_epoch == per_epoch - 1 and got[per_epoch].step_in_epoch == 0
    end = got[per_epoch - 1].position_after
    resumed = build_loader(digits_train, multicrop=small_crops, per_rank_batch=32, start_position=end, epochs=2)
    first = next(iter(resumed))
    assert first.epoch == 1 and torch.equal(first.indices, got[per_epoch].indices)


def test_an_endless_loader_has_no_length_but_keeps_going(digits_train, small_crops):
    loader = build_loader(digits_train, multicrop=small_crops, per_rank_batch=96, epochs=None)
    with pytest.raises(TypeError):
        len(loader)
    epochs = [b.epoch for b in islice(loader, 3 * loader.steps_per_epoch + 1)]
    assert epochs[-1] == 3


def test_webdataset_shards_on_object_storage_feed_the_loader(tmp_path, small_crops):
    import fsspec

    from seer.trainer.data.digits import materialize_digits_webdataset

    info = materialize_digits_webdataset(str(tmp_path), size=12, shard_size=400)
    fs = fsspec.filesystem("memory")
    for name in sorted(__import__("os").listdir(info["train"])):
        fs.pipe(f"/wds-bucket/train/{name}", open(f"{info['train']}/{name}", "rb").read())
    try:
        loader = build_loader(
            "memory://wds-bucket/train",
            multicrop=small_crops,
            per_rank_batch=32,
            workers=1,
            multiprocessing_context="fork",
            storage_options={"anon": True},
        )
        assert loader.num_samples == info["num_train"]
        assert len(loader.samples.sources) == -(-info["num_train"] // 400)
        batch = next(iter(loader))
        assert batch.corrupt == 0 and batch.crops[0].shape == (32, 3, 32, 32)
    finally:
        fs.rm("/wds-bucket", recursive=True)


def test_too_small_a_dataset_for_one_global_batch_is_an_error(digits_train, small_crops):
    with pytest.raises(ValueError, match="fewer than one global batch"):
        build_loader(digits_train, multicrop=small_crops, per_rank_batch=1000, world_size=2)


def test_batch_pins_and_moves_its_crops():
    batch = Batch(
        crops=[torch.zeros(2, 3, 4, 4)], indices=torch.arange(2), epoch=0, step_in_epoch=0, position_after=2, corrupt=0
    )
    moved = batch.to("cpu")
    assert moved.position_after == 2 and torch.equal(moved.crops[0], batch.crops[0])
    if torch.cuda.is_available():  # pinning needs an accelerator runtime
        assert batch.pin_memory().crops[0].is_pinned()
