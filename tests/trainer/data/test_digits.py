"""The quickstart dataset: complete, split correctly, written once, never half-written."""

from __future__ import annotations

import os

import pytest

from seer.trainer.data import digits as digits_module
from seer.trainer.data.digits import materialize_digits, materialize_digits_webdataset
from seer.trainer.data.sources import list_samples


def files_under(path):
    return sorted(os.path.relpath(os.path.join(d, f), path) for d, _, fs in os.walk(path) for f in fs)


def test_layout_counts_and_split(digits_root):
    info = materialize_digits(digits_root, size=16)
    assert info["created"] is False  # the session fixture wrote it already
    train, test = files_under(info["train"]), files_under(info["eval_test"])
    assert len(train) == info["num_train"] and len(test) == info["num_eval_test"]
    assert info["num_train"] + info["num_eval_test"] == 1797
    assert 0.18 < info["num_eval_test"] / 1797 < 0.22
    assert files_under(info["eval_train"]) == train  # probe train set = SSL train set
    names = lambda paths: {os.path.basename(p) for p in paths}  # noqa: E731
    assert not names(train) & names(test), "held-out digits leaked into training"
    assert {p.split(os.sep)[0] for p in test} == {str(d) for d in range(10)}  # stratified


def test_images_are_rgb_pngs_of_the_requested_size(digits_root):
    from PIL import Image

    with Image.open(
        os.path.join(digits_root, "eval-test", "3", sorted(os.listdir(os.path.join(digits_root, "eval-test", "3")))[0])
    ) as img:
        assert img.format == "PNG" and img.mode == "RGB" and img.size == (16, 16)


def test_second_call_skips_and_leaves_files_untouched(tmp_path):
    first = materialize_digits(str(tmp_path), size=8)
    stamp = os.stat(os.path.join(first["train"], "0", "0000.png")).st_mtime_ns
    second = materialize_digits(str(tmp_path), size=8)
    assert first["created"] and not second["created"]
    assert os.stat(os.path.join(first["train"], "0", "0000.png")).st_mtime_ns == stamp


def test_an_interrupted_run_leaves_no_dataset_and_the_next_run_completes(tmp_path, monkeypatch):
    real_write = digits_module._write_folder
    calls = {"n": 0}

    def crash_on_second_split(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed mid-write")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(digits_module, "_write_folder", crash_on_second_split)
    with pytest.raises(KeyboardInterrupt):
        materialize_digits(str(tmp_path), size=8)
    assert not any(os.path.exists(tmp_path / split) for split in digits_module.SPLITS)
    monkeypatch.setattr(digits_module, "_write_folder", real_write)
    info = materialize_digits(str(tmp_path), size=8)
    assert info["created"] and len(files_under(info["train"])) == info["num_train"]
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".partial-")]


def test_a_different_size_in_the_same_root_is_refused(tmp_path):
    materialize_digits(str(tmp_path), size=8)
    with pytest.raises(ValueError, match="size 8"):
        materialize_digits(str(tmp_path), size=12)


def test_webdataset_variant_holds_the_same_training_images(tmp_path, digits_root):
    info = materialize_digits_webdataset(str(tmp_path), size=16, shard_size=500)
    shards = list_samples(info["train"])
    folder = list_samples(f"{digits_root}/train")
    assert len(shards.sources) == 3 and len(shards) == len(folder) == info["num_train"]
    assert sorted(shards.keys) == sorted(os.path.basename(s)[:-4] for s in folder.sources)
    assert shards.read(0) == folder.read(
        folder.sources.index(next(s for s in folder.sources if s.endswith(f"/{shards.keys[0]}.png")))
    )


def test_the_two_variants_refuse_to_share_a_root(tmp_path):
    materialize_digits(str(tmp_path), size=8)
    with pytest.raises(ValueError, match="separate root"):
        materialize_digits_webdataset(str(tmp_path), size=8)


def test_the_command_line_writes_the_quickstart_data(tmp_path):
    import json
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "seer.trainer.data", "digits", str(tmp_path / "d"), "--size", "8"],
        capture_output=True,
        text=True,
        check=True,
    )
    info = json.loads(out.stdout)
    assert info["num_train"] + info["num_eval_test"] == 1797
    assert "RuntimeWarning" not in out.stderr
