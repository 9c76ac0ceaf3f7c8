"""Split a model's parameters for LARS: adapted (conv / linear weights) vs excluded
(BatchNorm parameters and every bias: no trust ratio, no weight decay), as SwAV/VISSL."""

from __future__ import annotations

from typing import Any

from torch import nn

_NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


def is_lars_excluded(module: nn.Module, param_name: str) -> bool:
    """True for parameters of normalisation layers and for biases."""
    return isinstance(module, _NORM_TYPES) or param_name == "bias"


def param_groups(model: nn.Module) -> list[dict[str, Any]]:
    """Two groups: ``{"params": [...], "lars_exclude": False}`` and ``{..., True}``.
    Each parameter appears once (shared parameters are counted at first sight)."""
    seen: set[int] = set()
    adapted, excluded = [], []
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if id(p) in seen or not p.requires_grad:
                continue
            seen.add(id(p))
            (excluded if is_lars_excluded(module, name) else adapted).append(p)
    return [{"params": adapted, "lars_exclude": False}, {"params": excluded, "lars_exclude": True}]
