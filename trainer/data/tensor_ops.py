"""Batched photometric ops on float images ``[n, 3, H, W]`` in ``[0, 1]``.

Plain torch (no torchvision), any device.  Every op takes one parameter per
image, so a whole crop group is transformed in a few kernel launches.  The
grayscale weights and blur follow torchvision's tensor ops; colour jitter is
one fused affine transform (see ``color_jitter``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "color_jitter",
    "gaussian_blur",
    "grayscale",
    "normalize_",
    "solarize",
]

_GRAY_WEIGHTS = (0.299, 0.587, 0.114)


def grayscale(x: torch.Tensor) -> torch.Tensor:
    """Luma ``[n, 1, H, W]`` with ITU-R 601 weights (as PIL's ``convert('L')``)."""
    r, g, b = x.unbind(dim=-3)
    return (_GRAY_WEIGHTS[0] * r + _GRAY_WEIGHTS[1] * g + _GRAY_WEIGHTS[2] * b).unsqueeze(-3)


# NTSC RGB -> YIQ; its first row is the luma used by ``grayscale``.
_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_YIQ_INV = np.linalg.inv(_YIQ)


def jitter_matrices(
    brightness: np.ndarray, contrast: np.ndarray, saturation: np.ndarray, hue: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per image, the colour transform of jitter as ``M @ rgb + k * mean_luma``.

    Composition (in this order): brightness ``b`` (scale), contrast ``c``
    (blend with the image's mean luma), saturation ``s`` (blend with the
    pixel's luma), hue ``h`` (rotate the chroma plane of YIQ by ``2*pi*h``).
    Returns ``M [n, 3, 3]`` and ``k [n, 3]`` (the mean-luma coefficient).
    """
    n = brightness.shape[0]
    luma = np.broadcast_to(_YIQ[0], (3, 3))
    sat = saturation[:, None, None] * np.eye(3) + (1.0 - saturation)[:, None, None] * luma
    angle = 2.0 * np.pi * hue
    rot = np.zeros((n, 3, 3))
    rot[:, 0, 0] = 1.0
    rot[:, 1, 1] = rot[:, 2, 2] = np.cos(angle)
    rot[:, 1, 2], rot[:, 2, 1] = -np.sin(angle), np.sin(angle)
    colour = _YIQ_INV @ rot @ _YIQ @ sat  # [n, 3, 3]: hue after saturation
    matrix = colour * (contrast * brightness)[:, None, None]
    offset = colour.sum(axis=2) * ((1.0 - contrast) * brightness)[:, None]
    return matrix, offset


def color_jitter(
    x: torch.Tensor,
    brightness: np.ndarray,
    contrast: np.ndarray,
    saturation: np.ndarray,
    hue: np.ndarray,
) -> torch.Tensor:
    """Brightness, contrast, saturation and hue in one affine colour transform.

    NOTE: torchvision applies the four ops one after another, clamping to
    [0, 1] after each and shifting hue in HSV.  Here they are composed into one
    3x3 matrix per image and clamped once, with the hue rotated in YIQ space
    (as NVIDIA DALI's ColorTwist does): one pass over the pixels instead of
    about thirty, the same parameter ranges, slightly different saturation at
    the extremes.
    """
    matrix, offset = jitter_matrices(brightness, contrast, saturation, hue)
    mean_luma = grayscale(x).mean(dim=(-3, -2, -1))  # [n], before brightness
    m = torch.from_numpy(matrix.astype(np.float32)).to(x.device)
    k = torch.from_numpy(offset.astype(np.float32)).to(x.device) * mean_luma[:, None]
    n, c, h, w = x.shape
    out = torch.bmm(m, x.reshape(n, c, h * w)).view(n, c, h, w)
    return out.add_(k.view(n, c, 1, 1)).clamp_(0.0, 1.0)


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor, max_sigma: float) -> torch.Tensor:
    """Separable Gaussian blur with one ``sigma[i]`` (pixels) per image.

    The kernel covers +-3 ``max_sigma`` (capped so reflect padding fits the
    image); one grouped convolution per axis handles all images at once.
    """
    n, c, height, width = x.shape
    radius = min(math.ceil(3.0 * max_sigma), height - 1, width - 1)
    if radius < 1:
        return x
    taps = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    sig = sigma.to(device=x.device, dtype=x.dtype).view(-1, 1)
    kernel = torch.exp(-0.5 * (taps / sig) ** 2)
    kernel = (kernel / kernel.sum(dim=1, keepdim=True)).repeat_interleave(c, dim=0)  # [n*c, k]
    y = x.reshape(1, n * c, height, width)
    y = F.pad(y, (radius, radius, radius, radius), mode="reflect")
    y = F.conv2d(y, kernel.view(n * c, 1, -1, 1), groups=n * c)
    y = F.conv2d(y, kernel.view(n * c, 1, 1, -1), groups=n * c)
    return y.reshape(n, c, height, width)


def solarize(x: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Invert pixels at or above ``threshold`` (PIL's solarize at 128/255 ~ 0.5)."""
    return torch.where(x >= threshold, 1.0 - x, x)


def normalize_(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """In place ``(x - mean) / std`` per channel."""
    m = torch.tensor(mean, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
    s = torch.tensor(std, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
    return x.sub_(m).div_(s)
