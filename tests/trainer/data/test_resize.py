"""Batched matrix resizing matches torch's antialiased bilinear interpolation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seer.trainer.data.resize import resize_weights, resized_crops


@pytest.mark.parametrize(
    "top, left, height, width, size",
    [(3, 4, 20, 30, 16), (0, 0, 32, 40, 32), (5, 2, 7, 9, 16), (1, 1, 30, 11, 24), (0, 0, 32, 40, 8)],
)
@pytest.mark.parametrize("flip", [False, True])
def test_matches_f_interpolate_with_antialias(top, left, height, width, size, flip):
    image = torch.rand(1, 3, 32, 40, generator=torch.Generator().manual_seed(0)) * 255
    ref = F.interpolate(
        image[:, :, top : top + height, left : left + width],
        size=(size, size),
        mode="bilinear",
        antialias=True,
        align_corners=False,
    )
    if flip:
        ref = ref.flip(-1)
    out = resized_crops(image, *(np.array([v]) for v in (top, left, height, width, flip)), size)
    torch.testing.assert_close(out, ref, atol=2e-4, rtol=0)


def test_weights_are_a_partition_of_unity_inside_the_window():
    w = resize_weights(np.array([2, 0]), np.array([5, 9]), 4, 10)
    np.testing.assert_allclose(w.sum(axis=-1), 1.0)
    assert (w[0, :, :2] == 0).all() and (w[0, :, 7:] == 0).all()
