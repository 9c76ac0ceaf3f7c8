"""The prebuilt sample index: built once, read lazily, refused when the data changed."""

from __future__ import annotations

import json
import logging
import pickle
import subprocess
import sys
import uuid
from types import SimpleNamespace

import fsspec
import numpy as np
import pytest

from seer.trainer.data import dataset_index
from seer.trainer.data.dataset_index import (
    INDEX_DIR,
    IndexedSamples,
    StaleIndexError,
    build_index,
    default_index_url,
    load_manifest,
    samples_from_spec,
)
from seer.trainer.data.sources import SampleIndex, list_samples


@pytest.fixture
def shards(tmp_path, make_shard, make_image):
    """5 shards of 3..7 images (PNG/JPEG), plus a non-image member, under tmp/data/."""
    root = tmp_path / "data"
    root.mkdir()
    for s in range(5):
        members = []
        for k in range(3 + s):
            members.append((f"s{s}/{k:03d}.cls", b"7"))
            members.append((f"s{s}/{k:03d}.jpg", make_image(6 + k, 5 + s, "JPEG", seed=10 * s + k)))
        make_shard(str(root / f"shard-{s:03d}.tar"), members)
    return root


def spec(sources, index=None, fmt="auto"):
    return SimpleNamespace(sources=list(sources), format=fmt, index=index)


def test_the_index_numbers_samples_exactly_as_listing_does(shards):
    url = str(shards / "shard-{000..004}.tar")
    where, manifest = build_index(url)
    assert where == f"{shards}/{INDEX_DIR}"
    listed = list_samples(url)
    indexed = samples_from_spec(spec([url]))
    assert isinstance(indexed, IndexedSamples)
    assert len(indexed) == len(listed) == manifest.num_samples == 3 + 4 + 5 + 6 + 7
    assert indexed.sources == listed.sources
    everything = np.arange(len(listed))
    assert indexed.read_many(everything) == listed.read_many(everything)
    assert [indexed.url(i) for i in (0, 8, 24)] == [listed.url(i) for i in (0, 8, 24)]


def test_workers_load_the_manifest_and_fetch_offsets_lazily_through_a_bounded_lru(shards, monkeypatch):
    build_index(str(shards))
    monkeypatch.setattr(dataset_index, "BLOCK_ROWS", 2)  # 2 samples per offsets block
    build_index(str(shards))
    samples = samples_from_spec(spec([str(shards)]))
    samples.max_blocks = 3
    assert samples.blocks_fetched == 0  # nothing but the manifest at start
    first = samples.read(0)
    assert samples.blocks_fetched == 1
    samples.read(1)  # same block: served from the LRU
    assert samples.blocks_fetched == 1
    samples.read_many(np.arange(len(samples)))
    assert samples.blocks_fetched == 13 and len(samples._blocks) == 3  # 25 samples in 13 blocks; 3 kept
    clone = pickle.loads(pickle.dumps(samples))  # what a loader worker receives: no cached blocks
    assert len(clone._blocks) == 0 and clone.read(0) == first


def test_a_changed_missing_or_new_shard_makes_the_index_stale_with_a_rebuild_hint(shards, make_shard, make_image):
    build_index(str(shards))
    samples_from_spec(spec([str(shards)]))  # fresh: accepted
    make_shard(str(shards / "shard-002.tar"), [("x.png", make_image(4, 4))])
    with pytest.raises(StaleIndexError, match=r"shard-002.tar changed.*python -m seer.trainer.data index"):
        samples_from_spec(spec([str(shards)]))
    build_index(str(shards))
    make_shard(str(shards / "shard-009.tar"), [("y.png", make_image(4, 4))])
    with pytest.raises(StaleIndexError, match="shard-009.tar is new"):
        samples_from_spec(spec([str(shards)]))
    build_index(str(shards))
    (shards / "shard-000.tar").unlink()
    with pytest.raises(StaleIndexError, match="shard-000.tar is gone"):
        samples_from_spec(spec([str(shards)]))
    # A rank that trusts another rank's validation does not list the data (the index as last built:
    # shard-002 rewritten with 1 sample, shard-009 added with 1).
    assert len(samples_from_spec(spec([str(shards)]), validate=False)) == 25 - 5 + 1 + 1


def test_an_index_built_for_other_urls_is_refused(shards):
    build_index(str(shards / "shard-{000..003}.tar"))
    with pytest.raises(StaleIndexError, match="was built for"):
        samples_from_spec(spec([str(shards / "shard-{000..004}.tar")]))


def test_without_an_index_the_data_is_listed_here_and_the_log_says_how_to_build_one(shards, caplog):
    with caplog.at_level(logging.INFO, logger="seer.trainer.data"):
        samples = samples_from_spec(spec([str(shards)]))
    assert isinstance(samples, SampleIndex) and len(samples) == 25
    assert "python -m seer.trainer.data index" in caplog.text


def test_an_explicit_index_url_must_exist(shards, tmp_path):
    with pytest.raises(FileNotFoundError, match="data.index"):
        samples_from_spec(spec([str(shards)], index=str(tmp_path / "elsewhere")))
    build_index(str(shards), index_url=str(tmp_path / "elsewhere"))
    assert isinstance(samples_from_spec(spec([str(shards)], index=str(tmp_path / "elsewhere"))), IndexedSamples)


def test_the_index_lives_next_to_the_data_by_default():
    assert default_index_url("s3://b/train/shard-{000000..099999}.tar") == "s3://b/train/.seer-index"
    assert default_index_url("s3://b/train/") == "s3://b/train/.seer-index"
    assert default_index_url(["s3://b/train/a", "s3://b/train/b/*.tar"]) == "s3://b/train/.seer-index"
    with pytest.raises(ValueError, match="data.index"):
        default_index_url(["s3://a/x", "gs://b/y"])


def test_image_folders_are_indexed_too_with_one_sample_per_file(image_dir):
    build_index(str(image_dir))
    samples = samples_from_spec(spec([str(image_dir)]))
    listed = list_samples(str(image_dir))
    assert samples.sources == listed.sources
    assert samples.read(5) == listed.read(5)


def test_the_index_on_object_storage_is_one_manifest_and_small_offset_files(shards):
    fs = fsspec.filesystem("memory")
    prefix = f"/idx-{uuid.uuid4().hex[:8]}"
    for path in sorted(shards.iterdir()):
        fs.pipe(f"{prefix}/train/{path.name}", path.read_bytes())
    url = f"memory://{prefix}/train"
    try:
        build_index(url)
        manifest = json.loads(fs.cat(f"{prefix}/train/{INDEX_DIR}/manifest.json"))
        assert [row[4] for row in manifest["sources"]] == [3, 7, 12, 18, 25]  # cumulative counts
        assert fs.size(f"{prefix}/train/{INDEX_DIR}/offsets/00000000.bin") == 25 * 16
        assert load_manifest(url + "/" + INDEX_DIR).num_samples == 25
        assert len(samples_from_spec(spec([url]))) == 25
        assert len(list_samples(url)) == 25  # the hidden index folder is not data
    finally:
        fs.rm(prefix, recursive=True)


def test_the_index_command_needs_no_torch(shards):
    code = (
        "import sys; from seer.trainer.data.__main__ import main; "
        f"main(['index', {str(shards)!r}]); assert 'torch' not in sys.modules, 'torch imported'"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["samples"] == 25


def test_a_loader_over_the_index_yields_what_it_yields_over_a_listing(tmp_path, small_crops):
    """Same numbering, same batches and crops, also through forked loader workers: a run can
    start without an index and resume with one."""
    import torch

    from seer.trainer.data.digits import materialize_digits_webdataset
    from seer.trainer.data.loader import build_loader

    info = materialize_digits_webdataset(str(tmp_path), size=12, shard_size=64)
    build_index(info["train"])
    indexed = samples_from_spec(spec([info["train"]]))
    listed = list_samples(info["train"])
    assert isinstance(indexed, IndexedSamples) and len(indexed.sources) > 3
    kw = dict(multicrop=small_crops, per_rank_batch=16, rank=1, world_size=2, seed=3, start_position=64)
    a = list(build_loader(listed, **kw))[:4]
    b = list(build_loader(indexed, workers=2, multiprocessing_context="fork", **kw))[:4]
    assert len(a) == len(b) == 4
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x.indices, y.indices) and x.corrupt == y.corrupt == 0
        assert all(torch.equal(p, q) for p, q in zip(x.crops, y.crops, strict=True))


def test_an_index_matches_the_same_urls_with_a_trailing_slash_and_a_compatible_format(shards):
    build_index(str(shards) + "/")
    assert isinstance(samples_from_spec(spec([str(shards)], fmt="webdataset")), IndexedSamples)
    build_index(str(shards), format="webdataset")
    with pytest.raises(StaleIndexError, match="format"):
        samples_from_spec(spec([str(shards)], fmt="images"))
