"""Crop + resize as two small matrix products, batched over many crops.

For small images (the quickstart's 32 px digits) a separate
``F.interpolate`` call per crop is dominated by per-call overhead.  Bilinear
resizing with antialias is separable: ``out = Ry @ crop @ Rx^T`` where each row
of ``Ry`` / ``Rx`` holds the triangle-filter weights of one output pixel.  The
crop offset and a horizontal flip are folded into the matrices, so all crops
of same-sized images become one batched matmul.

The weights follow PyTorch's antialiased bilinear kernel (``antialias=True``):
filter support ``max(scale, 1)`` input pixels, weights normalised per output
pixel.  Results match ``F.interpolate`` to float32 rounding.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["resize_weights", "resized_crops"]


def resize_weights(start: np.ndarray, length: np.ndarray, out_size: int, in_size: int) -> np.ndarray:
    """Weights ``[n, out_size, in_size]`` that resample the window
    ``[start, start + length)`` of an axis of ``in_size`` pixels to ``out_size``."""
    start = start.astype(np.float64)[:, None, None]
    length = length.astype(np.float64)[:, None, None]
    scale = length / out_size
    support = np.maximum(scale, 1.0)
    o = np.arange(out_size, dtype=np.float64)[None, :, None]
    x = np.arange(in_size, dtype=np.float64)[None, None, :]
    center = scale * (o + 0.5)
    rel = x - start
    w = np.clip(1.0 - np.abs(rel + 0.5 - center) / support, 0.0, None)
    w *= (rel >= 0) & (rel < length)
    return w / w.sum(axis=-1, keepdims=True)


def resized_crops(
    image: torch.Tensor,
    top: np.ndarray,
    left: np.ndarray,
    height: np.ndarray,
    width: np.ndarray,
    flip: np.ndarray,
    size: int,
) -> torch.Tensor:
    """All crops of one image stack ``image = [k, 3, H, W]`` (float): crop ``r``
    is taken from ``image[r]``.  Returns ``[k, 3, size, size]``."""
    _, _, in_h, in_w = image.shape
    ry = resize_weights(top, height, size, in_h)
    rx = resize_weights(left, width, size, in_w)
    rx = np.where(flip[:, None, None], rx[:, ::-1, :], rx)  # mirrored output columns
    ry_t = torch.from_numpy(ry.astype(np.float32)).to(image.device)
    rx_t = torch.from_numpy(np.ascontiguousarray(rx.astype(np.float32).transpose(0, 2, 1))).to(image.device)
    return torch.matmul(torch.matmul(ry_t[:, None], image), rx_t[:, None])
