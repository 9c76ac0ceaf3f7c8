"""The training loop: spec in, SwAV-trained RegNet (and checkpoints) out.

It owns the *order* of things and nothing else: build the components
(``components``), resume from the latest complete checkpoint with no flag, build the
data from where training stands, plan the schedule (``schedule_plan``), run steps
(``train_step``) until the planned step, and end with a final checkpoint (and the
evaluation) or, when preempted, a final checkpoint within the budget. Everything it
has to say goes through the reporter (``training_reporter``).

Invariants:
- Every rank executes the same collectives at the same steps: the stop flag is agreed
  each step (MAX all-reduce), saves are decided from the step number (and, for
  time-based intervals, by the checkpointer's own agreement).
- The data position saved with a checkpoint is the global sample position *after* the
  last completed step, so a resumed run (any world size) continues exactly there.
- A stop request (SIGTERM) ends the loop at a step boundary, then a synchronous final
  checkpoint is written within the preemption budget, and the process exits 75.
- A run never ends as finished without its final checkpoint: when that save fails (after
  its retries) ``train`` raises :class:`CheckpointNotSaved` (the worker exits 75, so a
  restart resumes from the newest complete checkpoint and tries again).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist

from seer.platform.spec import SeerJob
from seer.trainer.checkpoint import CheckpointNotSaved, current_rank, current_world_size
from seer.trainer.components import Components, TrainingData, build_components, build_data, resolve_device
from seer.trainer.final_evaluation import evaluate_trained_trunk
from seer.trainer.metrics import TrainerMetrics
from seer.trainer.preemption import PreemptionWatch
from seer.trainer.runtime import Runtime
from seer.trainer.schedule_plan import SchedulePlan, plan_schedule
from seer.trainer.train_step import NonFiniteLoss, train_step
from seer.trainer.training_reporter import TrainingReporter

__all__ = ["CheckpointNotSaved", "NonFiniteLoss", "TrainResult", "train"]


@dataclass
class TrainResult:
    step: int
    preempted: bool
    resumed_from: int | None
    losses: dict[int, float] = field(default_factory=dict)  # step -> loss (every step of this process; for tests)
    evaluation: dict[str, Any] | None = None


def train(
    job: SeerJob,
    runtime: Runtime,
    *,
    preemption: PreemptionWatch | None = None,
    metrics: TrainerMetrics | None = None,
    stop_after_step: int | None = None,
) -> TrainResult:
    """Run (or resume) the job on this rank. Collective: every rank calls it.

    ``stop_after_step`` (tests): behave as if preempted once that step is done.
    """
    preemption = preemption or PreemptionWatch()
    device, world_size = resolve_device(job, runtime), current_world_size()
    metrics = metrics or TrainerMetrics.create(job.name, runtime.rank)
    reporter = TrainingReporter(job, runtime, metrics, device=device, world_size=world_size)
    parts = build_components(
        job,
        runtime,
        device=device,
        world_size=world_size,
        on_checkpoint=reporter.checkpoint_finished,
        on_quarantine=reporter.checkpoint_quarantined,
    )
    resumed = parts.checkpointer.load_latest(parts.state)
    progress = parts.progress
    reporter.resumed(resumed, progress)
    data = build_data(job, rank=current_rank(), world_size=world_size, progress=progress, device=device)
    plan = plan_schedule(
        job.spec.optim,
        num_samples=data.num_samples,
        steps_per_epoch=data.steps_per_epoch,
        global_batch=data.global_batch,
        start=progress,
    )
    parts.schedule.record(plan)
    result = TrainResult(step=progress.step, preempted=False, resumed_from=progress.step if resumed else None)
    reporter.started(
        plan,
        num_samples=data.num_samples,
        start_step=progress.step,
        resumed_from=result.resumed_from,
        parallelism=getattr(parts.model, "parallel_choice", None),
    )

    result.preempted = _run_steps(job, parts, data, plan, reporter, preemption, result.losses, stop_after_step)
    result.step = progress.step
    last_loss = result.losses.get(progress.step)  # None when this process trained no step
    budget_s = job.spec.checkpoint.preemption_budget_seconds
    if result.preempted:
        seconds_left = preemption.seconds_left(budget_s)
        reporter.stopping(progress.step, seconds_left)
        parts.checkpointer.wait(timeout_s=seconds_left / 2)  # let a save in flight finish, if it can
        timeout_s = max(1.0, preemption.seconds_left(budget_s))
        final = parts.checkpointer.save_now(parts.state, loss=last_loss, timeout_s=timeout_s)
        reporter.preempted(progress.step, checkpoint_ok=final.ok)
        parts.checkpointer.close()
        return result
    final = parts.checkpointer.save_now(parts.state, loss=last_loss, timeout_s=max(60.0, 10 * budget_s))
    parts.checkpointer.close()
    if not final.ok:  # reported already (log, metric, event); the run must not end as finished
        raise CheckpointNotSaved(final)
    if job.spec.eval.enabled:
        result.evaluation = evaluate_trained_trunk(job, parts.model, current_rank())
        reporter.evaluated(result.evaluation)
    reporter.finished(progress.step, loss=last_loss)
    return result


def _run_steps(
    job: SeerJob,
    parts: Components,
    data: TrainingData,
    plan: SchedulePlan,
    reporter: TrainingReporter,
    preemption: PreemptionWatch,
    losses: dict[int, float],
    stop_after_step: int | None,
) -> bool:
    """Train until the planned last step or the end of the data; True when stopped by a stop request.

    Records each completed step's loss in ``losses`` (keyed by the step count after it).
    """
    progress, checkpointer = parts.progress, parts.checkpointer
    stop_flag = torch.zeros(1, device=parts.device)
    batches = iter(data.loader)
    parts.model.train()
    while progress.step < plan.total_steps:
        if stop_after_step is not None and progress.step >= stop_after_step:
            preemption.trigger()
        if _agree_to_stop(preemption.requested, stop_flag):
            return True
        started = time.perf_counter()
        try:
            batch = next(batches)
        except StopIteration:
            return False
        except Exception:
            if preemption.requested:  # the loader's workers were signalled with us
                return True
            raise
        data_wait_s = time.perf_counter() - started
        step, lr = progress.step, plan.lr_at(progress.step)
        loss = train_step(
            parts.model,
            parts.objective,
            parts.optimizer,
            [crop.to(parts.device, non_blocking=True) for crop in batch.crops],
            step=step,
            epoch=batch.epoch,
            lr=lr,
            freeze_prototypes_steps=job.spec.swav.freeze_prototypes_steps,
        )
        progress.advance(epoch=batch.epoch, position=batch.position_after)
        losses[progress.step] = loss
        step_time_s = time.perf_counter() - started
        reporter.step_finished(progress, batch, loss=loss, lr=lr, data_wait_s=data_wait_s, step_time_s=step_time_s)
        if checkpointer.should_save(progress.step) and progress.step < plan.total_steps:
            checkpointer.save(parts.state, loss=loss)
    return False


def _agree_to_stop(local: bool, flag: torch.Tensor) -> bool:
    """True on every rank when any rank wants to stop (one tiny all-reduce per step)."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return local
    flag.fill_(1.0 if local else 0.0)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item() > 0)
