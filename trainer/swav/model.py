"""Trunk + SwAV head with the multi-crop forward: one trunk pass per resolution group."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from seer.trainer.swav.head import SwAVHead


class SwAVOutput(NamedTuple):
    """Rows are ordered crop by crop: rows ``[v*B, (v+1)*B)`` belong to crop v."""

    embeddings: torch.Tensor  # [V*B, D], unit norm
    scores: torch.Tensor  # [V*B, K]


def resolution_groups(crops: Sequence[torch.Tensor]) -> list[tuple[int, int]]:
    """[start, end) runs of consecutive crops with the same spatial size."""
    groups: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(crops) + 1):
        if i == len(crops) or crops[i].shape[-2:] != crops[start].shape[-2:]:
            groups.append((start, i))
            start = i
    return groups


class SwAVModel(nn.Module):
    """``forward(crops)``: crops of one size are concatenated and go through the trunk
    in ONE pass (2 passes for 2x224 + 4x96), then all features go through the head once.

    ``input_memory_format`` is set by ``seer.trainer.parallel`` (channels_last) so the
    inputs match the weights' layout.
    """

    def __init__(self, trunk: nn.Module, head: SwAVHead) -> None:
        super().__init__()
        self.trunk = trunk
        self.head = head
        self.input_memory_format: torch.memory_format = torch.contiguous_format
        #: Set by ``seer.trainer.parallel`` for CPU mixed precision (autocast, not FSDP casts).
        self.autocast_dtype: torch.dtype | None = None

    def forward(
        self,
        crops: Sequence[torch.Tensor],
        *,
        queue: torch.Tensor | None = None,
        queue_scores_out: torch.Tensor | None = None,
    ) -> SwAVOutput:
        if not crops:
            raise ValueError("SwAVModel needs at least one crop")
        if self.autocast_dtype is not None:
            with torch.autocast(crops[0].device.type, dtype=self.autocast_dtype):
                return self._forward(crops, queue=queue, queue_scores_out=queue_scores_out)
        return self._forward(crops, queue=queue, queue_scores_out=queue_scores_out)

    def _forward(
        self,
        crops: Sequence[torch.Tensor],
        *,
        queue: torch.Tensor | None,
        queue_scores_out: torch.Tensor | None,
    ) -> SwAVOutput:
        feats = []
        for start, end in resolution_groups(crops):
            x = torch.cat(list(crops[start:end])) if end - start > 1 else crops[start]
            feats.append(self.trunk(x.contiguous(memory_format=self.input_memory_format)))
        f = torch.cat(feats) if len(feats) > 1 else feats[0]
        z, scores = self.head(f, queue=queue, queue_scores_out=queue_scores_out)
        return SwAVOutput(z, scores)
