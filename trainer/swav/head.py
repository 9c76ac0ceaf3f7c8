"""SwAV projection head and prototypes (Caron et al., 2020).

The head maps trunk features to L2-normalised embeddings z and scores z . c_k against
``num_prototypes`` prototype vectors c_k (rows of ``prototypes.weight``), which are kept
on the unit sphere by ``normalize_prototypes_()`` once per step (before the forward).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SwAVHead(nn.Module):
    """Linear -> BN1d -> ReLU -> Linear (-> L2 normalise) -> prototypes (Linear, no bias).

    hidden_dim=0 gives a single linear projection (SwAV's ``hidden_mlp=0``).
    """

    def __init__(self, in_features: int, *, hidden_dim: int, out_dim: int, num_prototypes: int) -> None:
        super().__init__()
        if hidden_dim > 0:
            self.projection: nn.Module = nn.Sequential(
                nn.Linear(in_features, hidden_dim),
                nn.BatchNorm1d(hidden_dim),
                nn.ReLU(inplace=True),
                nn.Linear(hidden_dim, out_dim),
            )
        else:
            self.projection = nn.Linear(in_features, out_dim)
        self.prototypes = nn.Linear(out_dim, num_prototypes, bias=False)
        self.out_dim = out_dim
        self.num_prototypes = num_prototypes

    def forward(
        self,
        features: torch.Tensor,
        *,
        queue: torch.Tensor | None = None,
        queue_scores_out: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """features ``[N, C]`` -> (embeddings ``[N, D]`` unit norm, scores ``[N, K]``).

        queue ``[A, L, D]`` (optional, no grad): its scores against the current prototypes
        are written into ``queue_scores_out[a, :L]`` (a float32 ``[A, >=L, K]`` buffer the
        caller reuses: see ``SwAVObjective``). Done here, inside the forward, so it also
        works when FSDP has the prototypes gathered only during the forward.
        """
        z = F.normalize(self.projection(features), dim=1, p=2)
        scores = self.prototypes(z)
        if queue is not None:
            if queue_scores_out is None:
                raise ValueError("queue given without queue_scores_out")
            with torch.no_grad():
                w = self.prototypes.weight
                length = queue.shape[1]
                for a in range(queue.shape[0]):
                    target = queue_scores_out[a, :length]
                    if w.dtype == torch.float32 and queue.dtype == torch.float32:
                        torch.mm(queue[a], w.t(), out=target)
                    else:
                        target.copy_(queue[a].to(w.dtype) @ w.t())
        return z, scores

    @torch.no_grad()
    def normalize_prototypes_(self) -> None:
        """Project every prototype back onto the unit sphere (SwAV does it each iteration).

        Works for plain tensors and for FSDP2 DTensors sharded on dim 0 (rows are whole on
        each rank, so the row norm is local).
        """
        w = self.prototypes.weight
        local = w.to_local() if hasattr(w, "to_local") else w
        if hasattr(w, "placements") and any(getattr(p, "dim", 0) == 1 for p in w.placements if p.is_shard()):
            raise NotImplementedError("prototypes sharded along the feature dim: row norms would need a collective")
        local.div_(local.norm(dim=1, keepdim=True).clamp_min_(1e-12))


def drop_frozen_prototype_grads_(head: SwAVHead, *, iteration: int, freeze_iterations: int) -> bool:
    """Before ``optimizer.step()``: for the first ``freeze_iterations`` iterations the
    prototypes get no update at all (grad set to None: no momentum, no weight decay),
    as SwAV's ``freeze_prototypes_niters``. Returns True when the grad was dropped."""
    if iteration < freeze_iterations:
        for p in head.prototypes.parameters():
            p.grad = None
        return True
    return False
