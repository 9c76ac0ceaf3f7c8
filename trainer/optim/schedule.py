"""Learning-rate schedule as pure functions: batch-scaled peak, linear warmup, cosine."""

from __future__ import annotations

import math


def scaled_lr(base_lr: float, *, global_batch: int, reference_batch: int = 256) -> float:
    """Linear scaling rule: ``base_lr * global_batch / reference_batch`` (SEER: 0.3 per 256)."""
    if global_batch <= 0 or reference_batch <= 0:
        raise ValueError(
            f"batch sizes must be positive: global_batch={global_batch}, reference_batch={reference_batch}"
        )
    return base_lr * global_batch / reference_batch


def lr_at(
    step: int,
    *,
    peak_lr: float,
    warmup_steps: int,
    total_steps: int,
    final_lr_ratio: float,
    warmup_start_lr: float = 0.0,
) -> float:
    """LR for optimizer step ``step`` (0-based).

    Steps [0, warmup_steps): linear from ``warmup_start_lr`` towards ``peak_lr`` (reaching
    it at step ``warmup_steps``). Then cosine from ``peak_lr`` down to
    ``final_lr_ratio * peak_lr`` at step ``total_steps``; constant after that.
    """
    if total_steps <= 0 or not 0 <= warmup_steps <= total_steps:
        raise ValueError(f"need 0 <= warmup_steps ({warmup_steps}) <= total_steps ({total_steps}), total_steps > 0")
    if step < warmup_steps:
        return warmup_start_lr + (peak_lr - warmup_start_lr) * step / warmup_steps
    final = final_lr_ratio * peak_lr
    decay_steps = total_steps - warmup_steps
    if decay_steps == 0:
        return final
    t = min(step - warmup_steps, decay_steps) / decay_steps
    return final + 0.5 * (peak_lr - final) * (1.0 + math.cos(math.pi * t))


def set_lr_(optimizer: object, lr: float) -> None:
    """Write ``lr`` into every param group (the loop calls this before each step)."""
    for group in optimizer.param_groups:  # type: ignore[attr-defined]
        group["lr"] = lr
