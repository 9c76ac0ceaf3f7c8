"""Batched colour ops: each matches its definition, one parameter per image."""

from __future__ import annotations

import numpy as np
import torch

from seer.trainer.data import tensor_ops as ops


def rand(n=4, h=9, w=11, seed=0):
    return torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(seed))


def jitter(x, b=1.0, c=1.0, s=1.0, h=0.0):
    n = x.shape[0]
    full = lambda v: np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)).copy()  # noqa: E731
    return ops.color_jitter(x, full(b), full(c), full(s), full(h))


def test_neutral_jitter_is_the_identity():
    x = rand()
    torch.testing.assert_close(jitter(x), x, atol=1e-6, rtol=0)


def test_brightness_scales_each_image_by_its_own_factor():
    x = rand(n=2) * 0.5
    out = jitter(x, b=[1.0, 0.5])
    torch.testing.assert_close(out[0], x[0], atol=1e-6, rtol=0)
    torch.testing.assert_close(out[1], x[1] * 0.5, atol=1e-6, rtol=0)


def test_contrast_zero_gives_the_mean_luma_and_saturation_zero_gives_luma():
    x = rand(n=2)
    flat = jitter(x, c=0.0)
    expected = ops.grayscale(x).mean(dim=(1, 2, 3)).view(2, 1, 1, 1).expand_as(x)
    torch.testing.assert_close(flat, expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(jitter(x, s=0.0), ops.grayscale(x).expand_as(x), atol=1e-6, rtol=0)


def test_hue_rotation_keeps_luma_and_gray_and_undoes_itself():
    x = rand() * 0.5 + 0.25  # away from the clamp
    turned = jitter(x, h=0.1)
    assert not torch.allclose(turned, x, atol=1e-2)
    torch.testing.assert_close(ops.grayscale(turned), ops.grayscale(x), atol=1e-5, rtol=0)
    torch.testing.assert_close(jitter(turned, h=-0.1), x, atol=1e-5, rtol=0)
    gray = torch.full((1, 3, 2, 2), 0.4)
    torch.testing.assert_close(jitter(gray, h=0.3), gray, atol=1e-6, rtol=0)


def test_jitter_output_is_clamped_to_the_unit_range():
    out = jitter(rand(), b=1.8, c=1.8, s=1.8, h=0.2)
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_blur_keeps_a_constant_image_and_smooths_noise_more_with_larger_sigma():
    const = torch.full((1, 3, 12, 12), 0.3)
    torch.testing.assert_close(ops.gaussian_blur(const, torch.tensor([1.5]), 2.0), const)
    noise = rand(n=2, h=32, w=32).clone()
    noise[1] = noise[0]
    out = ops.gaussian_blur(noise, torch.tensor([0.3, 2.0]), 2.0)
    assert out[1].std() < out[0].std() < noise[0].std()


def test_blur_fits_images_smaller_than_the_kernel():
    out = ops.gaussian_blur(rand(n=1, h=3, w=3), torch.tensor([2.0]), 2.0)
    assert out.shape == (1, 3, 3, 3) and torch.isfinite(out).all()


def test_solarize_inverts_only_bright_pixels():
    x = torch.tensor([0.1, 0.49, 0.5, 0.9]).view(1, 1, 1, 4)
    torch.testing.assert_close(ops.solarize(x), torch.tensor([0.1, 0.49, 0.5, 0.1]).view(1, 1, 1, 4))
