"""Frozen features of a trunk, in eval mode (BatchNorm running statistics), batched."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def extract_features(trunk: nn.Module, images: torch.Tensor, *, batch_size: int = 256) -> torch.Tensor:
    """``images [N, 3, H, W]`` -> pooled features ``[N, C]`` (float32, on the images' device).

    The trunk's train/eval mode is restored afterwards.
    """
    was_training = trunk.training
    trunk.eval()
    try:
        out = [trunk(images[i : i + batch_size]).float() for i in range(0, len(images), batch_size)]
    finally:
        trunk.train(was_training)
    return torch.cat(out)
