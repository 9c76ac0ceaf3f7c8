"""Labelled image folders for kNN / linear-probe evaluation."""

from __future__ import annotations

import pytest
import torch

from seer.trainer.data.image_folder import load_image_folder, resize_center_crop


def test_digits_eval_split_loads_with_labels_from_folder_names(digits_root):
    data = load_image_folder(f"{digits_root}/eval-test", size=16)
    assert data.classes == tuple(str(d) for d in range(10))
    assert data.images.shape == (len(data.labels), 3, 16, 16)
    for url, label in zip(data.urls[::37], data.labels[::37].tolist(), strict=False):
        assert f"/eval-test/{label}/" in url
    assert data.images.mean().abs() < 3  # normalised, not raw 0..255


def test_class_numbering_can_be_fixed_by_the_train_split(tmp_path, make_image):
    for cls in ("cat", "dog"):
        (tmp_path / "test" / cls).mkdir(parents=True)
        (tmp_path / "test" / cls / "a.png").write_bytes(make_image(10, 10))
    data = load_image_folder(str(tmp_path / "test"), size=8, classes=["dog", "cat", "eel"])
    labels = {url.split("/")[-2]: label for url, label in zip(data.urls, data.labels.tolist(), strict=False)}
    assert labels == {"dog": 0, "cat": 1}
    with pytest.raises(ValueError, match="cat"):
        load_image_folder(str(tmp_path / "test"), size=8, classes=["dog"])


def test_resize_center_crop_keeps_the_centre_of_a_wide_image():
    image = torch.zeros(3, 10, 30, dtype=torch.uint8)
    image[:, :, 10:20] = 255
    out = resize_center_crop(image, 10)
    assert out.shape == (3, 10, 10) and torch.allclose(out, torch.ones_like(out))
