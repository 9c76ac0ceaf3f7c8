"""Unreadable images are counted, logged once with their URL, and skipped."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from seer.trainer.data import decode
from seer.trainer.data.decode import DecodeError, decode_rgb
from seer.trainer.data.loader import build_loader, load_batch
from seer.trainer.data.sharding import RankBatch
from seer.trainer.data.sources import list_samples


@pytest.fixture
def dataset_with_corrupt_files(tmp_path, make_image):
    root = tmp_path / "data"
    root.mkdir()
    for i in range(6):
        (root / f"good{i}.png").write_bytes(make_image(12, 10, seed=i))
    (root / "random-bytes.png").write_bytes(np.random.default_rng(0).bytes(300))
    (root / "truncated.jpg").write_bytes(make_image(64, 64, "JPEG", seed=9)[:400])
    decode._reported.clear()
    return root


def test_decode_rejects_random_bytes_and_truncated_jpeg(make_image):
    with pytest.raises(DecodeError):
        decode_rgb(b"\x89PNG but not really")
    with pytest.raises(DecodeError, match="(?i)truncated"):
        decode_rgb(make_image(64, 64, "JPEG")[:400])


def test_decode_converts_grayscale_and_alpha_to_rgb_uint8():
    import io

    from PIL import Image

    for mode in ("L", "RGBA", "P"):
        buf = io.BytesIO()
        Image.new(mode, (5, 3)).save(buf, format="PNG")
        image = decode_rgb(buf.getvalue())
        assert image.shape == (3, 3, 5) and image.dtype == torch.uint8


def test_corrupt_samples_are_counted_replaced_and_logged_once(dataset_with_corrupt_files, small_crops, caplog):
    samples = list_samples(str(dataset_with_corrupt_files))
    everything = RankBatch(step=0, indices=np.arange(len(samples)), position_after=len(samples))
    with caplog.at_level(logging.WARNING, logger="seer.trainer.data"):
        batch = load_batch(samples, everything, small_crops, seed=0, epoch=0)
        again = load_batch(samples, everything, small_crops, seed=0, epoch=0)
    assert batch.corrupt == again.corrupt == 2
    assert [c.shape[0] for c in batch.crops] == [len(samples)] * small_crops.num_crops
    assert all(torch.isfinite(c).all() for c in batch.crops)
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 2, "each corrupt sample is logged once, not once per read"
    assert any("random-bytes.png" in m for m in logged)
    assert any("truncated.jpg" in m for m in logged)


def test_a_batch_without_any_readable_image_keeps_its_shape(tmp_path, small_crops):
    for i in range(3):
        (tmp_path / f"bad{i}.png").write_bytes(b"nope")
    samples = list_samples(str(tmp_path))
    batch = load_batch(samples, RankBatch(0, np.arange(3), 3), small_crops, seed=0, epoch=0)
    assert batch.corrupt == 3
    assert [tuple(c.shape) for c in batch.crops] == [(3, 3, s, s) for s in small_crops.crop_sizes()]


def test_the_loader_reports_the_corrupt_count_per_batch(dataset_with_corrupt_files, small_crops):
    loader = build_loader(str(dataset_with_corrupt_files), multicrop=small_crops, per_rank_batch=2)
    counts = [b.corrupt for b in loader]
    assert len(counts) == 4 and sum(counts) == 2
