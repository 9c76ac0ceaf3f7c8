"""How many steps a run takes and which learning rate each one gets: a pure plan.

The plan is made once per process start, *after* resuming, from the optimizer section
of the spec, the size of the data and where training stands. A resumed run therefore
plans the same total as the run it continues when nothing changed, and a run resumed
on another world size finishes the current epoch with its own global batch.

Invariants:
- ``total_steps`` counts steps from the very start of the job (not of this process):
  the steps already done, the full global batches left in the current epoch, and full
  epochs after it; ``optim.maxSteps`` (when set and non-zero) caps it.
- ``warmup_steps <= total_steps``; the learning rate of step ``s`` (0-based) is
  :func:`seer.trainer.optim.lr_at` with this plan, so it is a pure function of the step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from seer.platform.spec import OptimSpec
from seer.trainer.checkpoint import TrainingProgress
from seer.trainer.optim import lr_at, scaled_lr

__all__ = ["ScheduleRecord", "SchedulePlan", "plan_schedule"]


@dataclass(frozen=True, kw_only=True)
class SchedulePlan:
    """Steps and learning rates of a run (see the module's invariants)."""

    steps_per_epoch: int
    global_batch: int
    total_steps: int
    warmup_steps: int
    peak_lr: float
    final_lr_ratio: float

    def lr_at(self, step: int) -> float:
        """The learning rate of optimizer step ``step`` (0-based): warmup, then cosine."""
        return lr_at(
            step,
            peak_lr=self.peak_lr,
            warmup_steps=self.warmup_steps,
            total_steps=self.total_steps,
            final_lr_ratio=self.final_lr_ratio,
        )


def plan_schedule(
    optim: OptimSpec, *, num_samples: int, steps_per_epoch: int, global_batch: int, start: TrainingProgress
) -> SchedulePlan:
    """Plan a run over ``num_samples`` images that stands at ``start`` (fresh or resumed).

    ``steps_per_epoch`` is what the data pipeline yields in a full epoch (the partial last
    global batch is dropped); ``global_batch`` is images per step over all ranks.
    """
    left_in_epoch = (num_samples - start.position) // global_batch
    planned = start.step + left_in_epoch + (optim.epochs - start.epoch - 1) * steps_per_epoch
    total_steps = min(planned, optim.max_steps) if optim.max_steps else planned
    return SchedulePlan(
        steps_per_epoch=steps_per_epoch,
        global_batch=global_batch,
        total_steps=total_steps,
        warmup_steps=min(total_steps, int(round(optim.warmup_epochs * steps_per_epoch))),
        peak_lr=scaled_lr(optim.base_lr, global_batch=global_batch, reference_batch=optim.reference_batch),
        final_lr_ratio=optim.final_lr_ratio,
    )


class ScheduleRecord:
    """The plan's peak LR and total steps, stored in every checkpoint (``extra.schedule``).

    The schedule itself is a pure function of the step; recording the plan makes a
    resumed run's LR curve auditable. A resumed run re-plans and overwrites what it loaded.
    """

    def __init__(self) -> None:
        self.peak_lr = 0.0
        self.total_steps = 0

    def record(self, plan: SchedulePlan) -> None:
        self.peak_lr, self.total_steps = plan.peak_lr, plan.total_steps

    def state_dict(self) -> dict[str, Any]:
        return {"peak_lr": self.peak_lr, "total_steps": self.total_steps}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.peak_lr, self.total_steps = float(state_dict["peak_lr"]), int(state_dict["total_steps"])
