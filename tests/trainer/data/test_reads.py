"""A batch's reads: issued together, retried with backoff, failures counted like corrupt images."""

from __future__ import annotations

import logging

import fsspec
import numpy as np
import pytest
from fsspec.implementations.memory import MemoryFileSystem

from seer.trainer.data import decode
from seer.trainer.data.loader import load_batch
from seer.trainer.data.reads import WHOLE, read_ranges
from seer.trainer.data.sharding import RankBatch
from seer.trainer.data.sources import list_samples


class FlakyFS(MemoryFileSystem):
    """Fails the first ``failures`` reads of each path with a transient error; records calls."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures, self.seen, self.calls = failures, {}, []

    def cat_file(self, path, start=None, end=None, **kwargs):
        self.seen[path] = self.seen.get(path, 0) + 1
        if self.seen[path] <= self.failures and self.exists(path):
            raise ConnectionError(f"reset while reading {path}")
        return super().cat_file(path, start=start, end=end, **kwargs)

    def cat_ranges(self, paths, starts, ends, max_gap=None, on_error="return", **kwargs):
        self.calls.append(len(paths))
        return super().cat_ranges(paths, starts, ends, max_gap=max_gap, on_error=on_error, **kwargs)


@pytest.fixture
def flaky():
    def make(failures):
        fs = FlakyFS(failures)
        fs.pipe_file("/r/a", b"0123456789")
        fs.pipe_file("/r/b", b"abcdef")
        return fs

    yield make
    MemoryFileSystem.store.clear()
    MemoryFileSystem.pseudo_dirs.clear()
    MemoryFileSystem.pseudo_dirs.append("")


def test_a_batch_is_one_call_and_transient_failures_are_retried(flaky):
    fs = flaky(failures=2)
    got = read_ranges(fs, ["/r/a", "/r/b", "/r/a"], [2, WHOLE, 0], [5, WHOLE, 1], attempts=3, backoff_s=0)
    assert got == [b"234", b"abcdef", b"0"]
    assert fs.calls[0] == 3  # the whole batch handed over at once


def test_a_read_that_keeps_failing_comes_back_as_its_error(flaky):
    fs = flaky(failures=10)
    got = read_ranges(fs, ["/r/a", "/r/missing"], [0, WHOLE], [4, WHOLE], attempts=3, backoff_s=0)
    assert isinstance(got[0], ConnectionError)
    assert isinstance(got[1], FileNotFoundError)
    assert fs.seen["/r/a"] == 3  # three tries in all
    assert fs.seen.get("/r/missing", 0) <= 1  # a missing object is not retried


def test_an_unreadable_sample_is_counted_and_replaced_like_a_corrupt_image(tmp_path, make_image, small_crops, caplog):
    for i in range(4):
        (tmp_path / f"img{i}.png").write_bytes(make_image(10, 10, seed=i))
    samples = list_samples(str(tmp_path))
    (tmp_path / "img2.png").unlink()  # listed, then gone: the read fails
    decode._reported.clear()
    with caplog.at_level(logging.WARNING, logger="seer.trainer.data"):
        batch = load_batch(samples, RankBatch(0, np.arange(4), 4), small_crops, seed=0, epoch=0)
    assert batch.corrupt == 1
    assert [c.shape[0] for c in batch.crops] == [4] * small_crops.num_crops
    assert "img2.png" in caplog.text and "read failed" in caplog.text


def test_reads_go_through_cat_ranges_of_the_sample_table(tmp_path, make_shard, make_image, monkeypatch):
    make_shard(str(tmp_path / "s.tar"), [(f"{k}.png", make_image(4, 4, seed=k)) for k in range(5)])
    samples = list_samples(str(tmp_path))
    fs = fsspec.filesystem("file")
    calls = []
    original = type(fs).cat_ranges

    def spy(self, paths, *args, **kwargs):
        calls.append(len(paths))
        return original(self, paths, *args, **kwargs)

    monkeypatch.setattr(type(fs), "cat_ranges", spy)
    got = samples.read_many(np.arange(5))
    assert calls == [5]
    assert got == [samples.read(k) for k in range(5)]


def test_the_next_batch_is_read_while_the_current_one_decodes(tmp_path, make_image, small_crops, monkeypatch):
    from seer.trainer.data.loader import build_loader

    for i in range(12):
        (tmp_path / f"img{i:02d}.png").write_bytes(make_image(8, 8, seed=i))
    samples = list_samples(str(tmp_path))
    reads = []
    original = type(samples).read_many

    def spy(self, indices):
        reads.append(sorted(int(i) for i in indices))
        return original(self, indices)

    monkeypatch.setattr(type(samples), "read_many", spy)
    dataset = build_loader(samples, multicrop=small_crops, per_rank_batch=4).epoch_loader(0, 0).dataset
    first = dataset[0]
    assert 1 in dataset.read_ahead._pending  # batch 1's reads already started
    second = dataset[1]
    dataset.read_ahead._pending[2].result()  # batch 2's reads run in the background: wait for them
    plan = [sorted(dataset.batch_plan(j).indices.tolist()) for j in range(3)]
    assert reads[:3] == plan  # each batch read once, in order: 0 now, 1 and 2 ahead
    assert first.indices.tolist() == dataset.batch_plan(0).indices.tolist() and second.corrupt == 0
