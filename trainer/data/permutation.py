"""The epoch order as a keyed bijection evaluated on demand: O(1) memory for any N.

``EpochOrder(n, seed, epoch)[i]`` is the sample index at global position ``i``.
Nothing of size ``n`` is ever built: a batch of positions is mapped with a few
vectorised numpy passes, so every rank and loader worker computes exactly the
same order from ``(n, seed, epoch)`` alone, at 1 or 10^9 samples alike.

Building block: ``FeistelPermutation``, a balanced Feistel network (6 rounds,
splitmix64 round function, round keys from ``numpy.random.SeedSequence``) on
``[0, 2^(2h))`` — a bijection whatever the round function — restricted to
``[0, n)`` by cycle-walking (re-apply until the value falls below ``n``; the
domain is < 4n, so fewer than 4 passes are expected).

The order is two keyed bijections composed, chosen so that a process touches a
bounded set of shards at a time (which is what lets workers fetch a shard's
byte offsets lazily through a small LRU instead of holding the whole index):

1. positions are cut into *windows* of ``WINDOW_CHUNKS * CHUNK`` samples; within
   window ``w`` positions are shuffled by a Feistel permutation keyed by
   ``(seed, epoch, w)`` — every window is fully shuffled;
2. the slot ``q`` a position lands on is mapped to a sample through a keyed
   permutation of the ``n // CHUNK`` whole *chunks* of ``CHUNK`` consecutive
   sample indices (a chunk is a slice of one or two shards); the last
   ``n % CHUNK`` samples stay in place (they sit in the last window, whose
   positions are shuffled by step 1).

So a window draws uniformly, without replacement, from ``WINDOW_CHUNKS`` chunks
picked at random from the whole dataset: consecutive positions come from
different shards (probability ``1 / WINDOW_CHUNKS`` of the same chunk), and any
dataset smaller than one window (``n <= 524,288``) is simply fully shuffled.
This is the block shuffle Mosaic Streaming (``py1b``) and WebDataset (shard
shuffle + buffer) use, made a pure function of the position.  The constants are
part of the order: changing them changes every epoch's order (resume with the
same code).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

__all__ = ["CHUNK", "WINDOW_CHUNKS", "EpochOrder", "FeistelPermutation"]

#: Consecutive sample indices moved together by the chunk permutation.
CHUNK = 8192
#: Chunks shuffled together in one window of positions.
WINDOW_CHUNKS = 64
#: Samples in one window of positions.
WINDOW = CHUNK * WINDOW_CHUNKS

_ROUNDS = 6
_TAG = 0x5EE5
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on a uint64 array (wrapping arithmetic, full avalanche)."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


class FeistelPermutation:
    """A keyed pseudo-random bijection on ``[0, n)``, applied to arrays of values.

    Invariants: ``sorted(p(arange(n))) == arange(n)`` for every ``n >= 0`` and
    key; the same ``(n, key)`` gives the same permutation on every machine
    (integer arithmetic only; round keys from ``SeedSequence``).
    """

    def __init__(self, n: int, key: tuple[int, ...]) -> None:
        if n < 0:
            raise ValueError(f"a permutation needs n >= 0, got {n}")
        self.n = n
        bits = max(2, (n - 1).bit_length())
        self.half = (bits + 1) // 2  # balanced halves: domain 2^(2*half) < 4n (or 4 when n <= 4)
        self._mask = np.uint64((1 << self.half) - 1)
        self._shift = np.uint64(self.half)
        self._keys = np.random.SeedSequence([int(k) for k in key]).generate_state(_ROUNDS, np.uint64)

    def _rounds(self, x: np.ndarray) -> np.ndarray:
        left, right = x >> self._shift, x & self._mask
        for k in self._keys:
            left, right = right, left ^ (_mix(right * _GOLDEN + k) & self._mask)
        return (left << self._shift) | right

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """Permuted values (int64, same shape); every value must be in ``[0, n)``."""
        x = np.asarray(values, dtype=np.int64)
        if x.size and (x.min() < 0 or x.max() >= self.n):
            raise IndexError(f"values must be in [0, {self.n})")
        out = self._rounds(x.astype(np.uint64))
        outside = out >= np.uint64(self.n)
        while outside.any():  # cycle-walking: stays a bijection on [0, n)
            out[outside] = self._rounds(out[outside])
            outside = out >= np.uint64(self.n)
        return out.astype(np.int64)


class EpochOrder:
    """The order of one epoch, ``order[position] -> sample index``, computed on demand.

    Supports ``len``, ``order[i]``, ``order[a:b]`` (step 1) and ``order.at(array)``;
    ``np.asarray(order)`` materialises it (small ``n`` only).
    """

    def __init__(self, num_samples: int, seed: int, epoch: int) -> None:
        if num_samples < 0:
            raise ValueError(f"num_samples must be >= 0, got {num_samples}")
        if seed < 0 or epoch < 0:
            raise ValueError(f"seed and epoch must be >= 0, got seed={seed}, epoch={epoch}")
        self.num_samples, self.seed, self.epoch = num_samples, seed, epoch
        self._chunks = FeistelPermutation(num_samples // CHUNK, (seed, epoch, _TAG, 1))
        self._windows: OrderedDict[int, FeistelPermutation] = OrderedDict()

    def __len__(self) -> int:
        return self.num_samples

    def _window(self, w: int) -> FeistelPermutation:
        perm = self._windows.get(w)
        if perm is None:
            length = min(WINDOW, self.num_samples - w * WINDOW)
            perm = self._windows[w] = FeistelPermutation(length, (self.seed, self.epoch, _TAG, 2, w))
            if len(self._windows) > 8:  # a batch spans at most two windows
                self._windows.popitem(last=False)
        return perm

    def at(self, positions: np.ndarray) -> np.ndarray:
        """Sample indices at ``positions`` (int64 array of the same shape)."""
        p = np.asarray(positions, dtype=np.int64)
        if p.size and (p.min() < 0 or p.max() >= self.num_samples):
            raise IndexError(f"positions must be in [0, {self.num_samples})")
        window = p // WINDOW
        slot = p.copy()
        for w in np.unique(window).tolist():
            mine = window == w
            slot[mine] = w * WINDOW + self._window(w)(p[mine] - w * WINDOW)
        chunk = slot // CHUNK
        whole = chunk < self._chunks.n
        out = slot.copy()
        out[whole] = self._chunks(chunk[whole]) * CHUNK + slot[whole] % CHUNK
        return out

    def __getitem__(self, key: int | slice) -> np.ndarray | int:
        if isinstance(key, slice):
            start, stop, step = key.indices(self.num_samples)
            if step != 1:
                raise ValueError("EpochOrder slices must have step 1")
            return self.at(np.arange(start, max(start, stop), dtype=np.int64))
        i = int(key)
        if i < 0:
            i += self.num_samples
        return int(self.at(np.array([i]))[0])

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        out = self.at(np.arange(self.num_samples, dtype=np.int64))
        return out if dtype is None else out.astype(dtype)
