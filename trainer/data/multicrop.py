"""Multi-crop augmentation of a batch of decoded images, on tensors.

Order of operations per crop, as in SwAV: random resized crop (bilinear,
antialiased) -> horizontal flip -> colour jitter (brightness, contrast,
saturation, hue) -> grayscale -> Gaussian blur -> solarize -> ImageNet
normalisation.  NOTE: torchvision shuffles the jitter order per image and
clamps after each adjustment; here the order is fixed and the four are fused
into one affine colour transform per crop (``tensor_ops.color_jitter``), so a
whole crop group is transformed in a few batched kernels.

Runs on whatever device the images are on (pass ``device`` to move the uint8
images there first): the crop geometry is drawn in numpy on the CPU, the
pixel work is plain torch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from . import tensor_ops as ops
from .crop_params import GroupParams, sample_group_params
from .multicrop_config import MultiCropConfig
from .resize import resized_crops

__all__ = ["SMALL_IMAGE_SIDE", "multicrop"]

#: Images up to this side are resized with batched matmuls, larger ones per crop.
SMALL_IMAGE_SIDE = 64


def _select(x: torch.Tensor, mask: np.ndarray) -> torch.Tensor | None:
    """Indices of ``x``'s rows where ``mask`` holds, on ``x``'s device (None if none)."""
    if not mask.any():
        return None
    return torch.from_numpy(np.flatnonzero(mask)).to(x.device)


def _photometric_(x: torch.Tensor, p: GroupParams, cfg: MultiCropConfig) -> torch.Tensor:
    """Apply the colour pipeline to ``x = [count*n, 3, s, s]`` (params flattened)."""

    def flat(a: np.ndarray) -> np.ndarray:
        return a.reshape(-1)

    rows = _select(x, flat(p.jitter))
    if rows is not None:
        pick = flat(p.jitter)
        sub = ops.color_jitter(
            x.index_select(0, rows),
            flat(p.brightness)[pick],
            flat(p.contrast)[pick],
            flat(p.saturation)[pick],
            flat(p.hue)[pick],
        )
        x.index_copy_(0, rows, sub)
    rows = _select(x, flat(p.grayscale))
    if rows is not None:
        x.index_copy_(0, rows, ops.grayscale(x.index_select(0, rows)).expand(-1, 3, -1, -1))
    rows = _select(x, flat(p.blur))
    if rows is not None:
        sigma = torch.from_numpy(flat(p.sigma)[flat(p.blur)]).float()
        x.index_copy_(0, rows, ops.gaussian_blur(x.index_select(0, rows), sigma, cfg.blur_sigma[1]))
    rows = _select(x, flat(p.solarize))
    if rows is not None:
        x.index_copy_(0, rows, ops.solarize(x.index_select(0, rows)))
    return ops.normalize_(x, cfg.mean, cfg.std)


def _crop_and_resize_(
    x: torch.Tensor, images: Sequence[torch.Tensor], p: GroupParams, size: int, small: np.ndarray
) -> None:
    """Fill ``x[c * n + i]`` with crop ``c`` of image ``i`` (values 0..255).

    Small images go through batched matrix resizing, grouped by image shape;
    large ones through one antialiased ``F.interpolate`` per crop, which only
    touches the crop's pixels.  The path depends on the image's own size only,
    so a sample's crops do not depend on the rest of its batch.
    """
    n = len(images)
    count = p.top.shape[0]
    rows = np.arange(count * n)
    image_of_row = rows % n
    top, left = p.top.reshape(-1), p.left.reshape(-1)
    height, width, flip = p.height.reshape(-1), p.width.reshape(-1), p.flip.reshape(-1)
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for i in np.flatnonzero(small).tolist():
        by_shape.setdefault(tuple(images[i].shape), []).append(i)
    for members in by_shape.values():
        stack = torch.stack([images[i] for i in members]).float()
        slot = np.full(n, -1)
        slot[members] = np.arange(len(members))
        sel = rows[slot[image_of_row] >= 0]
        src = stack.index_select(0, torch.from_numpy(slot[image_of_row[sel]]).to(stack.device))
        out = resized_crops(src, top[sel], left[sel], height[sel], width[sel], flip[sel], size)
        x.index_copy_(0, torch.from_numpy(sel).to(x.device), out)
    for row in rows[~small[image_of_row]].tolist():
        y0, x0, h, w = int(top[row]), int(left[row]), int(height[row]), int(width[row])
        patch = images[row % n][None, :, y0 : y0 + h, x0 : x0 + w].float()
        if flip[row]:
            patch = patch.flip(-1)
        x[row] = F.interpolate(patch, size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]


def multicrop(
    images: Sequence[torch.Tensor],
    indices: Sequence[int] | np.ndarray,
    cfg: MultiCropConfig,
    *,
    seed: int,
    epoch: int,
    device: torch.device | str | None = None,
) -> list[torch.Tensor]:
    """Crop a batch: ``images[i]`` is ``uint8 [3, H_i, W_i]`` (sizes may differ).

    ``indices[i]`` is the global sample index whose randomness image ``i`` uses.
    Returns one float32 tensor ``[n, 3, size, size]`` per crop, in crop order
    (all crops of group 0 first), normalised with ``cfg.mean``/``cfg.std``.
    Deterministic: a sample's crops depend on (seed, epoch, index, crop) and
    its pixels only, not on the other samples of the batch.
    """
    n = len(images)
    if n != len(indices):
        raise ValueError(f"{n} images but {len(indices)} indices")
    if n == 0:
        raise ValueError("multicrop needs at least one image")
    if device is not None:
        images = [im.to(device, non_blocking=True) for im in images]
    out_device = images[0].device
    idx = np.asarray(indices, dtype=np.int64)
    heights = np.array([im.shape[-2] for im in images], dtype=np.int64)
    widths = np.array([im.shape[-1] for im in images], dtype=np.int64)
    small = np.maximum(heights, widths) <= SMALL_IMAGE_SIDE
    crops: list[torch.Tensor] = []
    for g, (size, count) in enumerate(zip(cfg.sizes, cfg.counts, strict=False)):
        p = sample_group_params(cfg, g, seed=seed, epoch=epoch, indices=idx, heights=heights, widths=widths)
        x = torch.empty(count * n, 3, size, size, dtype=torch.float32, device=out_device)
        _crop_and_resize_(x, images, p, size, small)
        x.mul_(1.0 / 255.0)
        x = _photometric_(x, p, cfg)
        crops.extend(x.view(count, n, 3, size, size).unbind(0))
    return crops
