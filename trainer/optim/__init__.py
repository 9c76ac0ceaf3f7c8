"""Optimizer (LARS/LARC, FSDP2-aware) and the pure learning-rate schedule."""

from seer.trainer.optim.lars import LARS
from seer.trainer.optim.param_groups import is_lars_excluded, param_groups
from seer.trainer.optim.schedule import lr_at, scaled_lr, set_lr_

__all__ = ["LARS", "is_lars_excluded", "lr_at", "param_groups", "scaled_lr", "set_lr_"]
