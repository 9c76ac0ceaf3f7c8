"""Multi-crop augmentation on tensors: shapes, ranges, and reproducible randomness."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from seer.trainer.data.crop_params import sample_group_params
from seer.trainer.data.multicrop import multicrop
from seer.trainer.data.multicrop_config import IMAGENET_MEAN, IMAGENET_STD, MultiCropConfig
from seer.trainer.data.randomness import uniforms

MEAN = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
STD = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
PLAIN = dict(flip_prob=0.0, jitter_prob=0.0, grayscale_prob=0.0, blur_prob=0.0, solarize_prob=0.0)


def images(n: int, seed: int = 0, sizes=((32, 32),)) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 256, (3, *sizes[i % len(sizes)]), generator=g, dtype=torch.uint8) for i in range(n)]


def unnormalize(x: torch.Tensor) -> torch.Tensor:
    return x * STD + MEAN


def test_crops_come_in_crop_order_with_the_configured_sizes(small_crops):
    out = multicrop(images(5, sizes=((32, 32), (40, 28))), np.arange(5), small_crops, seed=0, epoch=0)
    assert [tuple(c.shape) for c in out] == [(5, 3, 32, 32)] * 2 + [(5, 3, 16, 16)] * 4
    assert all(c.dtype == torch.float32 for c in out)


def test_the_same_coordinates_give_bitwise_identical_crops(small_crops):
    imgs = images(6)
    a = multicrop(imgs, np.arange(10, 16), small_crops, seed=3, epoch=2)
    b = multicrop(imgs, np.arange(10, 16), small_crops, seed=3, epoch=2)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=False))


def test_a_samples_crops_do_not_depend_on_the_rest_of_its_batch(small_crops):
    """What makes resume with another world size reproduce the same crops."""
    imgs, idx = images(8, sizes=((32, 32), (80, 70), (32, 32), (20, 30))), np.arange(100, 108)
    full = multicrop(imgs, idx, small_crops, seed=1, epoch=0)
    order = [5, 2, 7]
    part = multicrop([imgs[i] for i in order], idx[order], small_crops, seed=1, epoch=0)
    for crop_full, crop_part in zip(full, part, strict=False):
        assert torch.equal(crop_full[order], crop_part)


def test_crops_change_with_epoch_seed_and_sample_index(small_crops):
    imgs = images(4)
    base = multicrop(imgs, np.arange(4), small_crops, seed=0, epoch=0)[0]
    assert not torch.equal(base, multicrop(imgs, np.arange(4), small_crops, seed=0, epoch=1)[0])
    assert not torch.equal(base, multicrop(imgs, np.arange(4), small_crops, seed=1, epoch=0)[0])
    assert not torch.equal(base, multicrop(imgs, np.arange(4, 8), small_crops, seed=0, epoch=0)[0])


def test_the_crops_of_one_image_differ_from_each_other(small_crops):
    out = multicrop(images(1), [0], small_crops, seed=0, epoch=0)
    assert not torch.equal(out[0], out[1])
    assert not torch.equal(out[2], out[3])


def test_values_stay_in_the_normalised_range_of_0_to_1_pixels(small_crops):
    strong = dataclasses.replace(small_crops, jitter_prob=1.0, blur_prob=1.0, solarize_prob=0.5, jitter_strength=1.5)
    for crop in multicrop(images(16), np.arange(16), strong, seed=0, epoch=0):
        pixels = unnormalize(crop)
        assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5


def test_a_full_crop_without_photometric_ops_is_the_normalised_image():
    cfg = MultiCropConfig(
        sizes=(16,), counts=(1,), min_scale=(1.0,), max_scale=(1.0,), aspect_ratio=(1.0, 1.0), **PLAIN
    )
    img = images(1, sizes=((16, 16),))
    (out,) = multicrop(img, [0], cfg, seed=0, epoch=0)
    torch.testing.assert_close(unnormalize(out)[0], img[0].float() / 255, atol=1e-5, rtol=0)


def test_flip_mirrors_the_same_crop():
    plain = MultiCropConfig(sizes=(12,), counts=(3,), min_scale=(0.3,), max_scale=(0.9,), **PLAIN)
    flipped = dataclasses.replace(plain, flip_prob=1.0)
    imgs = images(3)
    for a, b in zip(
        multicrop(imgs, np.arange(3), plain, seed=0, epoch=0),
        multicrop(imgs, np.arange(3), flipped, seed=0, epoch=0),
        strict=False,
    ):
        torch.testing.assert_close(a.flip(-1), b)


def test_grayscale_makes_the_channels_equal():
    cfg = MultiCropConfig(
        sizes=(8,), counts=(2,), min_scale=(0.5,), max_scale=(1.0,), **{**PLAIN, "grayscale_prob": 1.0}
    )
    for crop in multicrop(images(4), np.arange(4), cfg, seed=0, epoch=0):
        pixels = unnormalize(crop)
        torch.testing.assert_close(pixels[:, 0], pixels[:, 1], atol=1e-5, rtol=0)
        torch.testing.assert_close(pixels[:, 1], pixels[:, 2], atol=1e-5, rtol=0)


def test_solarize_leaves_no_pixel_above_half():
    cfg = MultiCropConfig(
        sizes=(8,), counts=(1,), min_scale=(0.5,), max_scale=(1.0,), **{**PLAIN, "solarize_prob": 1.0}
    )
    (crop,) = multicrop(images(4), np.arange(4), cfg, seed=0, epoch=0)
    assert unnormalize(crop).max() <= 0.5 + 1e-5


@pytest.mark.parametrize("height, width", [(32, 32), (50, 20), (7, 90), (500, 375)])
def test_crop_boxes_lie_inside_the_image_and_respect_scale_and_aspect(height, width):
    cfg = MultiCropConfig(sizes=(8,), counts=(64,), min_scale=(0.2,), max_scale=(0.6,))
    p = sample_group_params(
        cfg, 0, seed=0, epoch=0, indices=np.arange(4), heights=np.full(4, height), widths=np.full(4, width)
    )
    assert (p.top >= 0).all() and (p.left >= 0).all()
    assert (p.top + p.height <= height).all() and (p.left + p.width <= width).all()
    assert (p.height >= 1).all() and (p.width >= 1).all()
    if min(height, width) >= 20:  # rounding noise is small against the box
        area = p.height * p.width / (height * width)
        assert area.min() > 0.2 * 0.8 and area.max() < 0.6 * 1.25
        aspect = p.width / p.height
        assert aspect.min() > 0.75 * 0.85 and aspect.max() < (4 / 3) * 1.15


def test_probabilities_are_honoured_over_many_draws(small_crops):
    p = sample_group_params(
        small_crops, 1, seed=0, epoch=0, indices=np.arange(2000), heights=np.full(2000, 32), widths=np.full(2000, 32)
    )
    assert abs(p.jitter.mean() - 0.8) < 0.03
    assert abs(p.grayscale.mean() - 0.2) < 0.03
    assert abs(p.blur.mean() - 0.5) < 0.03
    assert abs(p.flip.mean() - 0.5) < 0.03
    assert not p.solarize.any()
    assert p.sigma.min() >= 0.1 and p.sigma.max() <= 2.0
    assert p.brightness.min() >= 0.2 and p.brightness.max() <= 1.8
    assert np.abs(p.hue).max() <= 0.2


def test_uniforms_of_a_sample_do_not_depend_on_its_neighbours():
    a = uniforms(5, 1, np.array([3, 9, 4]), np.arange(2), 8)
    b = uniforms(5, 1, np.array([9]), np.arange(2), 8)
    assert np.array_equal(a[1], b[0])
    assert a.min() >= 0 and a.max() < 1


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(counts=(2,)), "counts"),
        (dict(min_scale=(0.5, 0.05), max_scale=(0.4, 0.14)), "min_scale"),
        (dict(blur_prob=1.5), "blur_prob"),
        (dict(jitter_strength=3.0), "jitter_strength"),
    ],
)
def test_invalid_configs_are_rejected_with_the_field_name(small_crops, change, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(small_crops, **change)
