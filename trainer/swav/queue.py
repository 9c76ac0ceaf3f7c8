"""Per-rank feature queue (SwAV): embeddings of past batches, used as extra Sinkhorn rows.

A ring buffer of registered buffers, so ``state_dict()`` checkpoints it. The queue is
PER RANK (each rank holds different rows): save it per rank; after a world-size change
start a new one (SwAV refills it within a few hundred steps). Row order is irrelevant
to Sinkhorn, hence a ring buffer instead of SwAV's shift-by-copy.
"""

from __future__ import annotations

import torch
from torch import nn


class FeatureQueue(nn.Module):
    """``features[a]`` holds the last ``length`` embeddings of assignment crop a."""

    features: torch.Tensor
    ptr: torch.Tensor
    filled: torch.Tensor

    def __init__(
        self, *, num_assign_crops: int, length: int, dim: int, device: torch.device | str | None = None
    ) -> None:
        super().__init__()
        if length <= 0:
            raise ValueError(f"queue length must be positive, got {length}")
        self.register_buffer("features", torch.zeros(num_assign_crops, length, dim, device=device))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long, device=device))
        self.register_buffer("filled", torch.zeros((), dtype=torch.long, device=device))

    @staticmethod
    def per_rank_length(global_length: int, world_size: int, batch_size: int) -> int:
        """SwAV: ``queue_length -= queue_length % (batch_size * world_size)``, split over ranks."""
        usable = global_length - global_length % (batch_size * world_size)
        if usable <= 0:
            raise ValueError(f"queue length {global_length} < batch {batch_size} x world {world_size}")
        return usable // world_size

    @property
    def length(self) -> int:
        return self.features.shape[1]

    @property
    def is_full(self) -> bool:
        """SwAV uses the queue only once it is full (no zero rows in Sinkhorn)."""
        return int(self.filled) >= self.length

    @torch.no_grad()
    def push(self, embeddings: torch.Tensor) -> None:
        """Append ``[A, B, D]`` embeddings, overwriting the oldest rows."""
        a, b, d = embeddings.shape
        if (a, d) != (self.features.shape[0], self.features.shape[2]) or b > self.length:
            raise ValueError(f"cannot push {tuple(embeddings.shape)} into queue {tuple(self.features.shape)}")
        p = int(self.ptr)
        first = min(b, self.length - p)
        self.features[:, p : p + first].copy_(embeddings[:, :first])
        if first < b:
            self.features[:, : b - first].copy_(embeddings[:, first:])
        self.ptr.fill_((p + b) % self.length)
        self.filled.fill_(min(int(self.filled) + b, self.length))
