"""Listing samples behind URLs: deterministic, recursive, local or object storage."""

from __future__ import annotations

import pickle
import uuid

import fsspec
import pytest

from seer.trainer.data.sources import expand_braces, list_samples


@pytest.fixture
def memory_prefix():
    """A fresh prefix on fsspec's in-memory filesystem (stands in for s3://)."""
    fs = fsspec.filesystem("memory")
    prefix = f"/bucket-{uuid.uuid4().hex[:8]}"
    yield fs, prefix
    fs.rm(prefix, recursive=True)


def test_a_prefix_is_listed_recursively_and_sorted_by_url(image_dir):
    index = list_samples(str(image_dir))
    urls = [index.url(i) for i in range(len(index))]
    assert len(urls) == 12  # notes.txt is not an image
    assert urls == sorted(urls)
    assert all(u.startswith("file://") for u in urls)


def test_local_path_and_file_url_give_the_same_samples(image_dir):
    a = list_samples(str(image_dir))
    b = list_samples(f"file://{image_dir}")
    assert a.sources == b.sources


def test_order_of_the_given_urls_does_not_change_the_sample_order(image_dir):
    parts = [str(image_dir / "part2"), str(image_dir / "part0"), str(image_dir / "part1")]
    assert list_samples(parts).sources == list_samples(sorted(parts)).sources == list_samples(str(image_dir)).sources


def test_hidden_files_and_folders_are_skipped(image_dir, make_image):
    (image_dir / ".partial-x").mkdir()
    (image_dir / ".partial-x" / "half.png").write_bytes(make_image(4, 4))
    assert len(list_samples(str(image_dir))) == 12


def test_object_storage_prefix_is_read_through_fsspec_with_storage_options(memory_prefix, make_image):
    fs, prefix = memory_prefix
    payloads = {f"{prefix}/train/{n}.png": make_image(5, 5, seed=n) for n in range(3)}
    for path, data in payloads.items():
        fs.pipe(path, data)
    index = list_samples(f"memory://{prefix}/train", storage_options={"secret_token": "hunter2"})
    assert len(index) == 3
    assert [index.read(i) for i in range(3)] == [payloads[f"{prefix}/train/{n}.png"] for n in range(3)]
    assert "hunter2" not in repr(index)
    clone = pickle.loads(pickle.dumps(index))  # what a spawned loader worker receives
    assert clone.read(2) == index.read(2)


def test_webdataset_shards_are_found_by_prefix_glob_and_brace_range(tmp_path, make_shard, make_image):
    for s in range(3):
        make_shard(str(tmp_path / f"shard-{s:03d}.tar"), [(f"{s}-{k}.png", make_image(4, 4, seed=k)) for k in range(2)])
    by_prefix = list_samples(str(tmp_path))
    by_glob = list_samples(str(tmp_path / "shard-*.tar"))
    by_braces = list_samples(str(tmp_path / "shard-{000..002}.tar"), format="webdataset")
    assert len(by_prefix) == 6
    assert by_prefix.sources == by_glob.sources == by_braces.sources
    assert by_prefix.url(1).endswith("shard-000.tar#0-1")


def test_a_prefix_holding_images_and_shards_needs_an_explicit_format(tmp_path, make_shard, make_image):
    (tmp_path / "a.png").write_bytes(make_image(4, 4))
    make_shard(str(tmp_path / "s.tar"), [("k.png", make_image(4, 4))])
    with pytest.raises(ValueError, match="format"):
        list_samples(str(tmp_path))
    assert len(list_samples(str(tmp_path), format="images")) == 1
    assert list_samples(str(tmp_path), format="webdataset").keys == ("k",)


def test_missing_or_empty_sources_are_errors_naming_the_url(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        list_samples(str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty"):
        list_samples(str(tmp_path / "empty"))


def test_brace_ranges_keep_zero_padding_and_expand_as_a_product():
    assert expand_braces("s-{08..10}.tar") == ["s-08.tar", "s-09.tar", "s-10.tar"]
    assert expand_braces("{0..1}/{0..1}") == ["0/0", "0/1", "1/0", "1/1"]
    assert expand_braces("plain.tar") == ["plain.tar"]
