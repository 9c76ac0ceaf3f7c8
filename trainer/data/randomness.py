"""Counter-based random numbers: the same draw for the same (seed, epoch, sample, crop).

Augmentation must be reproducible on resume whatever batch, rank or worker a
sample lands in, so its randomness is a pure function of its coordinates, not
of a generator's history.  SplitMix64 is a small, well-mixed 64-bit hash; it
is evaluated vectorised in numpy for a whole batch at once.
"""

from __future__ import annotations

import numpy as np

__all__ = ["uniforms"]

_MASK = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _splitmix(x: np.ndarray) -> np.ndarray:
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def uniforms(seed: int, epoch: int, indices: np.ndarray, crops: np.ndarray, draws: int) -> np.ndarray:
    """Uniform floats in [0, 1), shape ``[len(indices), len(crops), draws]``.

    Element ``[i, c, d]`` depends only on ``(seed, epoch, indices[i], crops[c], d)``.
    """
    idx = np.asarray(indices, dtype=np.int64).astype(np.uint64).reshape(-1, 1, 1)
    crop = np.asarray(crops, dtype=np.int64).astype(np.uint64).reshape(1, -1, 1)
    draw = np.arange(draws, dtype=np.uint64).reshape(1, 1, -1)
    with np.errstate(over="ignore"):  # wrap-around is the point of the hash
        h = _splitmix(np.array([seed & _MASK], dtype=np.uint64))
        h = _splitmix(h ^ np.uint64(epoch & _MASK))
        h = _splitmix(h ^ idx)
        h = _splitmix(h ^ crop)
        h = _splitmix(h ^ draw)
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
