"""Bytes -> RGB uint8 tensor with Pillow; corrupt input becomes ``DecodeError``."""

from __future__ import annotations

import io
import logging
import warnings

import numpy as np
import torch
from PIL import Image

__all__ = ["DecodeError", "decode_rgb", "report_corrupt"]

log = logging.getLogger("seer.trainer.data")

# URLs already reported by this process: a corrupt sample is logged once,
# not once per epoch (a DataLoader worker lives for one epoch; the set is
# per process, so a fresh worker may report it again in a later epoch).
_reported: set[str] = set()


class DecodeError(ValueError):
    """The bytes are not a readable image (truncated, wrong format, too large)."""


def decode_rgb(data: bytes) -> torch.Tensor:
    """Decode an encoded image to a ``uint8`` tensor ``[3, H, W]`` (RGB).

    Palette, grayscale, CMYK and alpha images are converted to RGB (alpha is
    dropped).  Any decoder failure, including truncated files and Pillow's
    decompression-bomb guard, raises ``DecodeError``.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                img.load()  # decode now: truncation shows up here, not later
                rgb = img.convert("RGB")
    except Exception as err:  # Pillow raises many unrelated types for bad input
        raise DecodeError(f"{type(err).__name__}: {err}") from err
    array = np.asarray(rgb)
    if array.ndim != 3 or array.shape[2] != 3 or array.shape[0] == 0 or array.shape[1] == 0:
        raise DecodeError(f"decoded to unexpected shape {array.shape}")
    return torch.from_numpy(array.copy()).permute(2, 0, 1)


def report_corrupt(url: str, reason: str) -> None:
    """Log a corrupt sample once per process (the URL, never storage options)."""
    if url in _reported:
        return
    _reported.add(url)
    log.warning("skipping unreadable image %s: %s", url, reason)
