"""One SwAV optimizer step: forward over all crops, swapped-prediction loss, backward, update.

Collective under data parallelism (FSDP2 gradient reduction, Sinkhorn's sums across
ranks): every rank runs it for the same step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from seer.trainer.optim import set_lr_
from seer.trainer.swav import SwAVModel, SwAVObjective, drop_frozen_prototype_grads_

__all__ = ["NonFiniteLoss", "train_step"]


class NonFiniteLoss(RuntimeError):
    """The loss became NaN/inf: restarting would reproduce it, so the job fails."""


def train_step(
    model: SwAVModel,
    objective: SwAVObjective,
    optimizer: torch.optim.Optimizer,
    crops: Sequence[torch.Tensor],
    *,
    step: int,
    epoch: int,
    lr: float,
    freeze_prototypes_steps: int,
) -> float:
    """Train on one batch's ``crops`` as optimizer step ``step`` (0-based) at ``lr``; returns the loss.

    The prototypes are re-normalised before the forward pass and receive no update while
    ``step < freeze_prototypes_steps``. Raises :class:`NonFiniteLoss` (after the update:
    the weights are then unusable anyway, and the run fails).
    """
    set_lr_(optimizer, lr)
    model.head.normalize_prototypes_()
    loss = objective(model, crops, epoch=epoch)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    drop_frozen_prototype_grads_(model.head, iteration=step, freeze_iterations=freeze_prototypes_steps)
    optimizer.step()
    loss_value = float(loss.detach())
    if not math.isfinite(loss_value):
        raise NonFiniteLoss(f"loss is {loss_value} at step {step}: lower optim.baseLr or check the data")
    return loss_value
