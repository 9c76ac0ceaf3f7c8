"""WebDataset shards: samples grouped by key and read back by byte range."""

from __future__ import annotations

import io
import json
import os
import tarfile

import fsspec
import pytest

from seer.trainer.data import tar_index
from seer.trainer.data.tar_index import index_tar_shard, split_key


def test_key_is_the_name_up_to_the_first_dot_of_the_base_name():
    assert split_key("a/b/0001.jpg") == ("a/b/0001", "jpg")
    assert split_key("x.seg.PNG") == ("x", "seg.png")
    assert split_key("noext") == ("noext", "")


def test_index_groups_members_by_key_and_points_at_the_image_bytes(tmp_path, make_shard, make_image):
    img_a, img_b = make_image(8, 8, "PNG", seed=1), make_image(9, 7, "JPEG", seed=2)
    shard = tmp_path / "s.tar"
    make_shard(
        str(shard),
        [
            ("a.cls", b"3"),
            ("a.png", img_a),
            ("dir/b.jpg", img_b),
            ("dir/b.json", b"{}"),
            ("c.txt", b"no image: not a sample"),
        ],
    )
    fs = fsspec.filesystem("file")
    samples = index_tar_shard(fs, str(shard), f"file://{shard}")
    assert [s.key for s in samples] == ["a", "dir/b"]
    raw = shard.read_bytes()
    for sample, expected in zip(samples, (img_a, img_b), strict=False):
        assert raw[sample.offset : sample.offset + sample.size] == expected


def test_a_sample_with_two_images_uses_the_preferred_extension(tmp_path, make_shard):
    shard = tmp_path / "s.tar"
    make_shard(str(shard), [("k.webp", b"W"), ("k.jpg", b"J"), ("k.png", b"P")])
    (sample,) = index_tar_shard(fsspec.filesystem("file"), str(shard), str(shard))
    assert shard.read_bytes()[sample.offset : sample.offset + sample.size] == b"J"


def test_long_member_names_are_indexed(tmp_path, make_shard):
    long_key = "d" * 150 + "/sample"
    shard = tmp_path / "long.tar"
    make_shard(str(shard), [(long_key + ".png", b"PNGDATA")])
    (sample,) = index_tar_shard(fsspec.filesystem("file"), str(shard), str(shard))
    assert sample.key == long_key
    assert shard.read_bytes()[sample.offset : sample.offset + sample.size] == b"PNGDATA"


def test_index_is_cached_on_disk_and_reused_without_scanning(tmp_path, make_shard, monkeypatch):
    shard, cache = tmp_path / "s.tar", tmp_path / "cache"
    make_shard(str(shard), [("a.png", b"1"), ("b.png", b"22")])
    fs = fsspec.filesystem("file")
    tar_index.clear_memory_cache()
    first = index_tar_shard(fs, str(shard), str(shard), cache_dir=str(cache))
    (cached_file,) = os.listdir(cache)
    assert json.loads((cache / cached_file).read_text())["samples"][1][0] == "b"
    tar_index.clear_memory_cache()

    def no_scan(_):
        raise AssertionError("shard scanned again despite the disk cache")

    monkeypatch.setattr(tar_index, "_scan", no_scan)
    assert index_tar_shard(fs, str(shard), str(shard), cache_dir=str(cache)) == first


def test_a_file_that_is_not_a_tar_is_an_error_naming_the_shard(tmp_path):
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"\x01" * 2000)
    tar_index.clear_memory_cache()
    with pytest.raises(ValueError, match="bad.tar"):
        index_tar_shard(fsspec.filesystem("file"), str(bad), str(bad))


def test_tar_written_by_the_standard_library_in_pax_format_is_indexed(tmp_path):
    shard = tmp_path / "pax.tar"
    with tarfile.open(shard, "w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("ünïcode.png")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    (sample,) = index_tar_shard(fsspec.filesystem("file"), str(shard), str(shard))
    assert sample.key == "ünïcode"
    assert shard.read_bytes()[sample.offset : sample.offset + 3] == b"abc"
