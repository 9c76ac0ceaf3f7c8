"""The training loop: spec in, SwAV-trained RegNet (and checkpoints) out.

Builds every piece from the spec (model, FSDP2, objective, optimizer, data,
checkpointer, metrics), resumes from the latest complete checkpoint with no flag,
trains until the planned step, and handles preemption. It owns the *order* of things;
each piece lives in its own module and knows nothing of the spec.

Invariants:
- Every rank executes the same collectives at the same steps: the stop flag is agreed
  each step (MAX all-reduce), saves are decided from the step number (and, for
  time-based intervals, by the checkpointer's own agreement).
- The data position saved with a checkpoint is the global sample position *after* the
  last completed step, so a resumed run (any world size) continues exactly there.
- A stop request (SIGTERM) ends the loop at a step boundary, then a synchronous final
  checkpoint is written within the preemption budget, and the process exits 75.
"""

from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from seer.platform.spec import SeerJob
from seer.trainer.checkpoint import CheckpointConfig, Checkpointer, Progress, SaveResult, TrainingState
from seer.trainer.data import MultiCropConfig, build_loader, list_samples, steps_per_epoch
from seer.trainer.metrics import TrainerMetrics, peak_flops
from seer.trainer.models import build_trunk, init_weights_, trunk_flops
from seer.trainer.optim import LARS, lr_at, param_groups, scaled_lr, set_lr_
from seer.trainer.parallel import parallelize
from seer.trainer.preemption import PreemptionWatch
from seer.trainer.reporting import EventLog
from seer.trainer.runtime import Runtime, checkpoint_url
from seer.trainer.storage import storage_options_from_env
from seer.trainer.swav import SwAVHead, SwAVModel, SwAVObjective, drop_frozen_prototype_grads_
from seer.trainer.swav.queue import FeatureQueue

log = logging.getLogger("seer.trainer")


class NonFiniteLoss(RuntimeError):
    """The loss became NaN/inf: restarting would reproduce it, so the job fails."""


@dataclass
class TrainResult:
    step: int
    preempted: bool
    resumed_from: int | None
    losses: dict[int, float] = field(default_factory=dict)  # step -> loss (every step; for tests)
    evaluation: dict[str, Any] | None = None


def resolve_device(job: SeerJob, runtime: Runtime) -> torch.device:
    wanted = job.spec.resources.device
    if wanted == "cuda" or (wanted == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError("spec.resources.device is cuda but no CUDA device is visible")
        torch.cuda.set_device(runtime.local_rank)
        return torch.device("cuda", runtime.local_rank)
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def build_model(job: SeerJob, device: torch.device) -> SwAVModel:
    """Trunk + head on ``device``, initialised identically on every rank (same seed)."""
    s = job.spec
    trunk = build_trunk(s.model.resolved_design(), device=device)
    head = SwAVHead(
        trunk.out_features,
        hidden_dim=s.model.head.hidden_dim,
        out_dim=s.model.head.output_dim,
        num_prototypes=s.swav.num_prototypes,
    ).to(device)
    model = SwAVModel(trunk, head)
    init_weights_(model)
    return model


def multicrop_config(job: SeerJob) -> MultiCropConfig:
    c, a = job.spec.swav.crops, job.spec.data.augment
    return MultiCropConfig(
        sizes=tuple(c.sizes),
        counts=tuple(c.counts),
        min_scale=tuple(c.min_scale),
        max_scale=tuple(c.max_scale),
        flip_prob=a.flip_prob,
        jitter_strength=a.jitter_strength,
        jitter_prob=a.jitter_prob,
        grayscale_prob=a.grayscale_prob,
        blur_prob=a.blur_prob,
        solarize_prob=a.solarize_prob,
    )


def step_flops(job: SeerJob) -> float:
    """Model FLOPs of one training step per image (forward + backward = 3x forward),
    trunk only (the head is negligible): used for MFU."""
    design = job.spec.model.resolved_design()
    c = job.spec.swav.crops
    fwd = sum(count * trunk_flops(design, size) for size, count in zip(c.sizes, c.counts, strict=False))
    return 2 * 3 * fwd  # multiply-adds -> FLOPs, x3 for backward


class _ScheduleState:
    """The LR schedule's own state for the checkpoint (the schedule is a pure function of
    the step; recording the plan makes a resumed run's LR curve auditable)."""

    def __init__(self) -> None:
        self.peak_lr = 0.0
        self.total_steps = 0

    def state_dict(self) -> dict[str, Any]:
        return {"peak_lr": self.peak_lr, "total_steps": self.total_steps}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        self.peak_lr, self.total_steps = float(sd["peak_lr"]), int(sd["total_steps"])


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
    s = job.spec
    preemption = preemption or PreemptionWatch()
    metrics = metrics or TrainerMetrics.create(job.name, runtime.rank)
    events = EventLog(runtime)
    device = resolve_device(job, runtime)
    world = dist.get_world_size() if dist.is_initialized() else 1
    rank = dist.get_rank() if dist.is_initialized() else 0
    seed_everything(s.training.seed)

    # ----------------------------------------------------------------- model
    model = build_model(job, device)
    mesh = None
    if dist.is_initialized():
        from torch.distributed.device_mesh import init_device_mesh

        mesh = init_device_mesh(device.type, (world,))
    parallelize(
        model,
        mesh=mesh,
        precision=s.training.precision,
        activation_checkpointing=s.training.activation_checkpointing,
        compile=s.training.compile,
        device=device,
        channels_last=s.training.channels_last,
    )
    per_rank_queue = (
        FeatureQueue.per_rank_length(s.swav.queue.length, world, s.data.batch_size) if s.swav.queue.length else 0
    )
    objective = SwAVObjective(
        num_crops=s.swav.crops.total,
        crops_for_assign=s.swav.assignment_crops,
        temperature=s.swav.temperature,
        epsilon=s.swav.epsilon,
        sinkhorn_iterations=s.swav.sinkhorn_iterations,
        queue_length=per_rank_queue,
        queue_starts_epoch=s.swav.queue.start_epoch,
        feature_dim=s.model.head.output_dim,
    ).to(device)
    if s.optim.name == "lars":
        optimizer: torch.optim.Optimizer = LARS(
            param_groups(model),
            lr=0.0,
            momentum=s.optim.momentum,
            weight_decay=s.optim.weight_decay,
            trust_coefficient=s.optim.lars_eta,
        )
    else:
        groups = param_groups(model)
        for g in groups:
            g["weight_decay"] = 0.0 if g.get("lars_exclude") else s.optim.weight_decay
            g.pop("lars_exclude", None)
        optimizer = torch.optim.SGD(groups, lr=0.0, momentum=s.optim.momentum)

    # ------------------------------------------------------------ checkpoint
    progress = Progress()
    schedule = _ScheduleState()
    per_rank: dict[str, Any] = {}
    if objective.queue is not None:
        per_rank["swav_queue"] = objective.queue
    url = checkpoint_url(job, runtime)
    ck = s.checkpoint

    def on_result(result: SaveResult) -> None:
        if result.skipped:
            return
        if result.ok:
            metrics.checkpoint_duration.observe(result.duration_s)
            metrics.checkpoint_last_success.set(time.time())
            metrics.checkpoint_last_step.set(result.step)
            events.emit(
                "checkpoint", step=result.step, url=result.url, duration_s=result.duration_s, blocked_s=result.blocked_s
            )
            log.info(
                "checkpoint step %d committed in %.2fs (loop blocked %.3fs)",
                result.step,
                result.duration_s,
                result.blocked_s,
            )
        else:
            metrics.checkpoint_failures.inc()
            events.emit("checkpoint_failed", step=result.step, error=result.error)
            log.error(
                "checkpoint step %d failed after %d attempts: %s (training goes on)",
                result.step,
                result.attempts,
                result.error,
            )
        metrics.checkpoint_blocked.observe(result.blocked_s)

    checkpointer = Checkpointer(
        CheckpointConfig(
            url=url,
            keep_last=ck.keep_last,
            every_steps=ck.interval_steps,
            every_seconds=ck.interval_seconds,
            async_save=ck.async_save,
        ),
        storage_options_from_env(url),
        on_result=on_result,
    )
    state = TrainingState(
        model, optimizer, progress=progress, extra={"schedule": schedule}, per_rank=per_rank, spec_hash=job.spec_hash()
    )
    info = checkpointer.load_latest(state)
    resumed_from = progress.step if info is not None else None
    if info is not None:
        log.info(
            "resumed from %s: step %d, epoch %d, position %d (written by %d ranks)",
            info.url,
            progress.step,
            progress.epoch,
            progress.position,
            info.manifest.world_size,
        )
        if state.loaded_spec_hash and state.loaded_spec_hash != job.spec_hash():
            log.warning(
                "the job spec changed since this checkpoint was written (hash %s -> %s)",
                state.loaded_spec_hash,
                job.spec_hash(),
            )

    # ------------------------------------------------------------------ data
    storage = storage_options_from_env(s.data.sources[0])
    samples = list_samples(s.data.sources, storage_options=storage, format=s.data.format)
    spe = steps_per_epoch(len(samples), world, s.data.batch_size)
    if spe == 0:
        raise ValueError(
            f"{len(samples)} images are fewer than one global batch ({world} x {s.data.batch_size}); add data or lower data.batchSize"
        )
    global_batch = world * s.data.batch_size
    remaining_in_epoch = (len(samples) - progress.position) // global_batch
    planned = progress.step + remaining_in_epoch + (s.optim.epochs - progress.epoch - 1) * spe
    total_steps = min(planned, s.optim.max_steps) if s.optim.max_steps else planned
    warmup_steps = min(total_steps, int(round(s.optim.warmup_epochs * spe)))
    schedule.peak_lr = scaled_lr(s.optim.base_lr, global_batch=global_batch, reference_batch=s.optim.reference_batch)
    schedule.total_steps = total_steps
    loader = build_loader(
        samples,
        multicrop=multicrop_config(job),
        per_rank_batch=s.data.batch_size,
        rank=rank,
        world_size=world,
        workers=s.data.loader_workers,
        prefetch_factor=s.data.prefetch_factor,
        seed=s.training.seed,
        epoch=progress.epoch,
        start_position=progress.position,
        epochs=max(1, s.optim.epochs - progress.epoch),
        pin_memory=device.type == "cuda",
    )
    flops_per_image = step_flops(job)
    peak = peak_flops(torch.cuda.get_device_name(device), s.training.precision) if device.type == "cuda" else None
    metrics.restarts.set(runtime.restart_count)
    events.emit(
        "start",
        total_steps=total_steps,
        steps_per_epoch=spe,
        world_size=world,
        num_samples=len(samples),
        global_batch=global_batch,
        peak_lr=schedule.peak_lr,
        resumed_from=resumed_from,
        restart_count=runtime.restart_count,
    )
    log.info(
        "training %s: %d images, world %d, global batch %d, %d steps/epoch, steps %d -> %d, peak LR %.4g, device %s, %s",
        job.name,
        len(samples),
        world,
        global_batch,
        spe,
        progress.step,
        total_steps,
        schedule.peak_lr,
        device,
        s.training.precision,
    )

    # ------------------------------------------------------------------ loop
    result = TrainResult(step=progress.step, preempted=False, resumed_from=resumed_from)
    stop_flag = torch.zeros(1, device=device)
    data_iter = iter(loader)
    window_t, window_images, window_wait, window_steps = time.perf_counter(), 0, 0.0, 0
    last_loss: float | None = None
    model.train()
    while progress.step < total_steps:
        if stop_after_step is not None and progress.step >= stop_after_step:
            preemption.trigger()
        if _agree_to_stop(preemption.requested, stop_flag):
            result.preempted = True
            break
        t0 = time.perf_counter()
        try:
            batch = next(data_iter)
        except StopIteration:
            break
        except Exception:
            if preemption.requested:  # loader workers were signalled with us
                result.preempted = True
                break
            raise
        waited = time.perf_counter() - t0
        crops = [c.to(device, non_blocking=True) for c in batch.crops]
        step = progress.step
        lr = lr_at(
            step,
            peak_lr=schedule.peak_lr,
            warmup_steps=warmup_steps,
            total_steps=total_steps,
            final_lr_ratio=s.optim.final_lr_ratio,
        )
        set_lr_(optimizer, lr)
        model.head.normalize_prototypes_()
        loss = objective(model, crops, epoch=batch.epoch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        drop_frozen_prototype_grads_(model.head, iteration=step, freeze_iterations=s.swav.freeze_prototypes_steps)
        optimizer.step()

        loss_value = float(loss.detach())
        if not math.isfinite(loss_value):
            raise NonFiniteLoss(f"loss is {loss_value} at step {step}: lower optim.baseLr or check the data")
        progress.step, progress.epoch, progress.position = step + 1, batch.epoch, batch.position_after
        result.losses[step + 1] = loss_value
        last_loss = loss_value
        step_time = time.perf_counter() - t0
        images = len(batch.indices)
        metrics.step_duration.observe(step_time)
        metrics.images.inc(images)
        metrics.steps.inc()
        metrics.step.set(progress.step)
        metrics.epoch.set(batch.epoch)
        metrics.loss.set(loss_value)
        metrics.learning_rate.set(lr)
        metrics.data_wait.inc(waited)
        if batch.corrupt:
            metrics.corrupt_images.inc(batch.corrupt)
        window_images += images
        window_wait += waited
        window_steps += 1
        if peak:
            metrics.mfu.set(flops_per_image * images / step_time / peak)

        if progress.step % s.training.log_every_steps == 0 or progress.step == total_steps:
            elapsed = time.perf_counter() - window_t
            ips = window_images * world / elapsed if elapsed > 0 else 0.0
            wait_share = window_wait / elapsed if elapsed > 0 else 0.0
            mean_loss = _mean_across_ranks(loss_value, device)
            log.info(
                "step %d/%d epoch %d loss %.4f lr %.4g %.1f img/s data-wait %.1f%%",
                progress.step,
                total_steps,
                batch.epoch,
                mean_loss,
                lr,
                ips,
                100 * wait_share,
            )
            events.emit(
                "step",
                step=progress.step,
                epoch=batch.epoch,
                loss=mean_loss,
                lr=lr,
                images_per_s=ips,
                data_wait_share=wait_share,
                step_time_s=elapsed / max(1, window_steps),
            )
            window_t, window_images, window_wait, window_steps = time.perf_counter(), 0, 0.0, 0

        if checkpointer.should_save(progress.step) and progress.step < total_steps:
            checkpointer.save(state, loss=loss_value)

    # ------------------------------------------------------------- the end
    result.step = progress.step
    if result.preempted:
        budget = preemption.seconds_left(ck.preemption_budget_seconds)
        log.warning("stopping at step %d: final checkpoint (budget %.1fs)", progress.step, budget)
        checkpointer.wait(timeout_s=budget / 2)
        final = checkpointer.save_now(
            state, loss=last_loss, timeout_s=max(1.0, preemption.seconds_left(ck.preemption_budget_seconds))
        )
        events.emit("preempted", step=progress.step, checkpoint_ok=final.ok)
        checkpointer.close()
        return result
    final = checkpointer.save_now(state, loss=last_loss, timeout_s=max(60.0, 10 * ck.preemption_budget_seconds))
    checkpointer.close()
    if not final.ok:
        log.error("the final checkpoint failed: %s", final.error)
    if s.eval.enabled:
        result.evaluation = run_evaluation(job, model, device, rank)
        if result.evaluation is not None:
            events.emit("eval", results=result.evaluation)
    events.emit("end", step=progress.step, loss=last_loss)
    return result


def _agree_to_stop(local: bool, flag: torch.Tensor) -> bool:
    """True on every rank when any rank wants to stop (one tiny all-reduce per step)."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return local
    flag.fill_(1.0 if local else 0.0)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item() > 0)


def _mean_across_ranks(value: float, device: torch.device) -> float:
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return value
    t = torch.tensor([value], device=device, dtype=torch.float64)
    dist.all_reduce(t)
    return float(t.item()) / dist.get_world_size()


def run_evaluation(job: SeerJob, model: SwAVModel, device: torch.device, rank: int) -> dict[str, Any] | None:
    """kNN + linear probe of the trained trunk vs the same trunk at random init (rank 0).

    Collective: every rank takes part in gathering the full (unsharded) trunk weights.
    """
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    from seer.trainer.data import load_image_folder
    from seer.trainer.evaluation.protocol import compare_with_random_init

    e = job.spec.eval
    full = get_model_state_dict(model.trunk, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if rank != 0:
        return None
    t0 = time.perf_counter()
    design = job.spec.model.resolved_design()
    trained = build_trunk(design)
    trained.load_state_dict(full)
    seed_everything(job.spec.training.seed)
    random_init = build_trunk(design) if e.compare_random_init else None
    if random_init is not None:
        init_weights_(random_init)
    train_set = load_image_folder(e.train_url, size=e.image_size, storage_options=storage_options_from_env(e.train_url))  # type: ignore[arg-type]
    test_set = load_image_folder(
        e.test_url, size=e.image_size, storage_options=storage_options_from_env(e.test_url), classes=train_set.classes
    )  # type: ignore[arg-type]
    scores = compare_with_random_init(
        trained,
        random_init,
        train_set,
        test_set,
        knn_k=e.knn_k,
        linear_epochs=e.linear_epochs,
        seed=job.spec.training.seed,
    )
    log.info(
        "evaluation (%.1fs) on %d/%d held-out images: %s",
        time.perf_counter() - t0,
        len(train_set.labels),
        len(test_set.labels),
        scores,
    )
    return {k: dict(v) for k, v in scores.items()}
