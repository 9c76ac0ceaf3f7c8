"""One SwAV training objective evaluation: forward, codes (Sinkhorn), loss, queue update."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.distributed as dist
from torch import nn

from seer.trainer.swav.loss import swapped_prediction_loss
from seer.trainer.swav.model import SwAVModel, SwAVOutput
from seer.trainer.swav.queue import FeatureQueue
from seer.trainer.swav.sinkhorn import sinkhorn


class SwAVObjective(nn.Module):
    """Holds the SwAV hyper-parameters, the optional per-rank queue and a reusable Sinkhorn
    workspace. ``forward(model, crops, epoch=...)`` returns the scalar loss.

    crops: ``num_crops`` tensors ``[B, 3, H, W]`` (same B), crop-major, same-size crops
    adjacent. Sinkhorn sums over ``group`` (default: the world when initialised), the
    data-parallel group: every rank must call forward each step.

    The queue (``queue_length`` rows per rank, 0 = none) is filled from epoch
    ``queue_starts_epoch`` on and used once full. Its state is in ``state_dict()``.
    """

    def __init__(
        self,
        *,
        num_crops: int,
        crops_for_assign: Sequence[int],
        temperature: float,
        epsilon: float,
        sinkhorn_iterations: int,
        queue_length: int = 0,
        queue_starts_epoch: int = 0,
        feature_dim: int,
        group: dist.ProcessGroup | None = None,
    ) -> None:
        super().__init__()
        if not crops_for_assign or not all(0 <= c < num_crops for c in crops_for_assign):
            raise ValueError(f"crops_for_assign={list(crops_for_assign)} must index 0..{num_crops - 1}")
        if num_crops < 2:
            raise ValueError("SwAV needs at least 2 crops")
        self.num_crops = num_crops
        self.crops_for_assign = list(crops_for_assign)
        self.temperature = temperature
        self.epsilon = epsilon
        self.sinkhorn_iterations = sinkhorn_iterations
        self.queue_starts_epoch = queue_starts_epoch
        self.group = group
        self.queue = (
            FeatureQueue(num_assign_crops=len(self.crops_for_assign), length=queue_length, dim=feature_dim)
            if queue_length > 0
            else None
        )
        self._workspace: torch.Tensor | None = None

    def _workspace_for(self, rows: int, k: int, device: torch.device) -> torch.Tensor:
        """A float32 ``[A, rows, K]`` buffer kept across steps (a fresh 46 MB block per
        step costs ~20 ms of page faults on CPU)."""
        shape = (len(self.crops_for_assign), rows, k)
        ws = self._workspace
        if ws is None or ws.shape != shape or ws.device != device:
            ws = self._workspace = torch.empty(shape, dtype=torch.float32, device=device)
        return ws

    def forward(self, model: SwAVModel | nn.Module, crops: Sequence[torch.Tensor], *, epoch: int) -> torch.Tensor:
        if len(crops) != self.num_crops:
            raise ValueError(f"expected {self.num_crops} crops, got {len(crops)}")
        bs = crops[0].shape[0]
        queue = self.queue
        queue_active = queue is not None and epoch >= self.queue_starts_epoch
        use_queue = queue_active and queue is not None and queue.is_full
        qlen = queue.length if (use_queue and queue is not None) else 0
        k = _num_prototypes(model)
        device = crops[0].device
        if queue is not None and queue.features.device != device:
            queue.to(device)
        ws = self._workspace_for(qlen + bs, k, device)
        out: SwAVOutput = model(
            crops,
            queue=queue.features if use_queue and queue is not None else None,
            queue_scores_out=ws if use_queue else None,
        )
        codes = torch.empty(len(self.crops_for_assign), bs, k, dtype=torch.float32, device=device)
        with torch.no_grad():
            for i, c in enumerate(self.crops_for_assign):
                ws[i, qlen:].copy_(out.scores[c * bs : (c + 1) * bs])
                codes[i] = sinkhorn(
                    ws[i],
                    epsilon=self.epsilon,
                    iterations=self.sinkhorn_iterations,
                    last_rows=bs,
                    group=self.group,
                    inplace=True,
                )
            if queue_active and queue is not None:
                z = out.embeddings.detach().float().view(self.num_crops, bs, -1)
                queue.push(z[self.crops_for_assign])
        return swapped_prediction_loss(
            out.scores,
            codes,
            num_crops=self.num_crops,
            crops_for_assign=self.crops_for_assign,
            temperature=self.temperature,
        )


def _num_prototypes(model: nn.Module) -> int:
    head = getattr(model, "head", None)
    k = getattr(head, "num_prototypes", None)
    if k is None:
        raise TypeError(f"{type(model).__name__} has no head.num_prototypes; pass a SwAVModel")
    return int(k)
