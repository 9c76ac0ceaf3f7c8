"""Random parameters of every crop of a batch (pure numpy, no pixels touched).

The parameters of crop ``c`` of sample ``i`` are a function of
``(seed, epoch, i, c)`` only (see ``randomness.uniforms``), so a resumed run
draws exactly the same crops whatever batch, rank or worker builds them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .multicrop_config import MultiCropConfig
from .randomness import uniforms

__all__ = ["GroupParams", "sample_group_params"]

_ATTEMPTS = 10  # as torchvision's RandomResizedCrop
# Fixed layout of the draws of one crop: adding a feature must not move the
# others (that would change every crop of an existing run).
_SCALE = slice(0, _ATTEMPTS)
_RATIO = slice(_ATTEMPTS, 2 * _ATTEMPTS)
_TOP, _LEFT, _FLIP, _JITTER, _B, _C, _S, _H, _GRAY, _BLUR, _SIGMA, _SOLARIZE = range(20, 32)
_DRAWS = 32


@dataclass(frozen=True)
class GroupParams:
    """Parameters of one crop group; every array has shape ``[count, n]``
    (crop-major, matching the output list order)."""

    top: np.ndarray
    left: np.ndarray
    height: np.ndarray
    width: np.ndarray
    flip: np.ndarray
    jitter: np.ndarray
    brightness: np.ndarray
    contrast: np.ndarray
    saturation: np.ndarray
    hue: np.ndarray
    grayscale: np.ndarray
    blur: np.ndarray
    sigma: np.ndarray
    solarize: np.ndarray


def _resized_crop_boxes(
    u: np.ndarray,
    heights: np.ndarray,
    widths: np.ndarray,
    scale: tuple[float, float],
    ratio: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """torchvision's RandomResizedCrop box search, vectorised.

    Up to 10 attempts of (area fraction, log aspect ratio); the first box that
    fits wins; otherwise a centre crop with the aspect ratio clamped to range.
    ``u`` is ``[n, count, draws]``; image sizes are ``[n]``.
    """
    H = heights[:, None, None].astype(np.float64)
    W = widths[:, None, None].astype(np.float64)
    area = H * W
    target = area * (scale[0] + (scale[1] - scale[0]) * u[..., _SCALE])
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    aspect = np.exp(log_lo + (log_hi - log_lo) * u[..., _RATIO])
    w = np.rint(np.sqrt(target * aspect))
    h = np.rint(np.sqrt(target / aspect))
    ok = (w > 0) & (h > 0) & (w <= W) & (h <= H)
    first = np.argmax(ok, axis=-1)[..., None]
    found = np.take_along_axis(ok, first, -1)[..., 0]
    w_try = np.take_along_axis(w, first, -1)[..., 0]
    h_try = np.take_along_axis(h, first, -1)[..., 0]
    # Fallback: centre crop, whole image with the aspect ratio clamped.
    Hn, Wn = H[..., 0], W[..., 0]
    in_ratio = Wn / Hn
    w_fb = np.where(in_ratio < ratio[0], Wn, np.where(in_ratio > ratio[1], np.rint(Hn * ratio[1]), Wn))
    h_fb = np.where(in_ratio < ratio[0], np.rint(Wn / ratio[0]), Hn)
    w_fb, h_fb = np.minimum(np.maximum(w_fb, 1), Wn), np.minimum(np.maximum(h_fb, 1), Hn)
    w_out = np.where(found, w_try, w_fb)
    h_out = np.where(found, h_try, h_fb)
    top_rand = np.floor(u[..., _TOP] * (Hn - h_out + 1))
    left_rand = np.floor(u[..., _LEFT] * (Wn - w_out + 1))
    top = np.where(found, top_rand, (Hn - h_out) // 2)
    left = np.where(found, left_rand, (Wn - w_out) // 2)
    return top.astype(np.int64), left.astype(np.int64), h_out.astype(np.int64), w_out.astype(np.int64)


def sample_group_params(
    cfg: MultiCropConfig,
    group: int,
    *,
    seed: int,
    epoch: int,
    indices: np.ndarray,
    heights: np.ndarray,
    widths: np.ndarray,
) -> GroupParams:
    """Draw the parameters of all crops of group ``group`` for samples ``indices``."""
    first_crop = sum(cfg.counts[:group])
    crops = np.arange(first_crop, first_crop + cfg.counts[group])
    u = uniforms(seed, epoch, np.asarray(indices), crops, _DRAWS)  # [n, count, D]
    top, left, h, w = _resized_crop_boxes(
        u,
        np.asarray(heights),
        np.asarray(widths),
        (cfg.min_scale[group], cfg.max_scale[group]),
        cfg.aspect_ratio,
    )
    s = cfg.jitter_strength

    def factor(col: int, spread: float) -> np.ndarray:
        lo = max(0.0, 1.0 - spread)
        return lo + (1.0 + spread - lo) * u[..., col]

    sig_lo, sig_hi = cfg.blur_sigma
    params = dict(
        top=top,
        left=left,
        height=h,
        width=w,
        flip=u[..., _FLIP] < cfg.flip_prob,
        jitter=u[..., _JITTER] < cfg.jitter_prob,
        brightness=factor(_B, 0.8 * s),
        contrast=factor(_C, 0.8 * s),
        saturation=factor(_S, 0.8 * s),
        hue=(2.0 * u[..., _H] - 1.0) * 0.2 * s,
        grayscale=u[..., _GRAY] < cfg.grayscale_prob,
        blur=u[..., _BLUR] < cfg.blur_prob,
        sigma=sig_lo + (sig_hi - sig_lo) * u[..., _SIGMA],
        solarize=u[..., _SOLARIZE] < cfg.solarize_prob,
    )
    # [n, count] -> [count, n]: the output is one tensor per crop.
    return GroupParams(**{k: np.ascontiguousarray(v.T) for k, v in params.items()})
