"""What a training run tells the world, in one place: Prometheus metrics, progress events
(``events.jsonl``) and log lines.

The loop says what happened (started, a step finished, a checkpoint finished, stopped,
evaluated, ended); :class:`TrainingReporter` decides what to update, emit and log. The
sinks themselves live elsewhere: ``metrics.TrainerMetrics`` (the series) and
``reporting.EventLog`` (the event file).

Invariants:
- Checkpoint outcomes are *logged* by the checkpointer (one line per save); the reporter
  only turns them into metrics and events, so nothing is reported twice.
- :meth:`TrainingReporter.step_finished` is collective on log steps (it averages the loss
  over ranks there); which steps are log steps depends only on the step number, so all
  ranks take part at the same steps.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist

from seer.platform.spec import SeerJob
from seer.trainer.checkpoint import CheckpointInfo, Quarantined, SaveResult, TrainingProgress
from seer.trainer.data import Batch
from seer.trainer.metrics import TrainerMetrics, peak_flops
from seer.trainer.models import trunk_flops
from seer.trainer.parallel import ParallelChoice, export_choice
from seer.trainer.reporting import EventLog
from seer.trainer.runtime import Runtime
from seer.trainer.schedule_plan import SchedulePlan

__all__ = ["TrainingReporter", "flops_per_image"]

log = logging.getLogger("seer.trainer")


def flops_per_image(job: SeerJob) -> float:
    """Model FLOPs of one training step per image (forward + backward = 3x forward),
    trunk only (the head is negligible): used for MFU."""
    design = job.spec.model.resolved_design()
    crops = job.spec.swav.crops
    forward = sum(count * trunk_flops(design, size) for size, count in zip(crops.sizes, crops.counts, strict=False))
    return 2 * 3 * forward  # multiply-adds -> FLOPs, x3 for backward


def mean_across_ranks(value: float, device: torch.device) -> float:
    """The mean of ``value`` over all ranks (collective; ``value`` itself when alone)."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return value
    total = torch.tensor([value], device=device, dtype=torch.float64)
    dist.all_reduce(total)
    return float(total.item()) / dist.get_world_size()


@dataclass
class _LogWindow:
    """Throughput and data wait since the last log line."""

    started: float = field(default_factory=time.perf_counter)
    images: int = 0
    data_wait_s: float = 0.0
    steps: int = 0


class TrainingReporter:
    """Metrics, events and log lines of one run on one rank (events on rank 0 only)."""

    def __init__(
        self,
        job: SeerJob,
        runtime: Runtime,
        metrics: TrainerMetrics,
        *,
        device: torch.device,
        world_size: int,
    ) -> None:
        self.job_name = job.name
        self.precision = job.spec.training.precision
        self.log_every_steps = job.spec.training.log_every_steps
        self.metrics = metrics
        self.events = EventLog(runtime)
        self.restart_count = runtime.restart_count
        self.device = device
        self.world_size = world_size
        self.flops_per_image = flops_per_image(job)
        #: Peak FLOP/s of this device, for MFU; None where unknown (CPUs): no MFU then.
        self.peak_flops = (
            peak_flops(torch.cuda.get_device_name(device), self.precision) if device.type == "cuda" else None
        )
        self.total_steps = 0
        self._window = _LogWindow()

    # ------------------------------------------------------------ run start
    def resumed(self, info: CheckpointInfo | None, progress: TrainingProgress) -> None:
        if info is None:
            return
        log.info(
            "resumed from %s: step %d, epoch %d, position %d (written by %d ranks)",
            info.url,
            progress.step,
            progress.epoch,
            progress.position,
            info.manifest.world_size,
        )

    def started(
        self,
        plan: SchedulePlan,
        *,
        num_samples: int,
        start_step: int,
        resumed_from: int | None,
        parallelism: ParallelChoice | None = None,
    ) -> None:
        """The run is planned: metrics, the ``start`` event (with the parallelism chosen
        and why, when known) and one log line."""
        self.total_steps = plan.total_steps
        self.metrics.restarts.set(self.restart_count)
        chosen = parallelism.as_fields() if parallelism is not None else {}
        if parallelism is not None:
            self._export_parallelism(parallelism)
        self.events.emit(
            "start",
            **chosen,
            total_steps=plan.total_steps,
            steps_per_epoch=plan.steps_per_epoch,
            world_size=self.world_size,
            num_samples=num_samples,
            global_batch=plan.global_batch,
            peak_lr=plan.peak_lr,
            resumed_from=resumed_from,
            restart_count=self.restart_count,
        )
        log.info(
            "training %s: %d images, world %d, global batch %d, %d steps/epoch, steps %d -> %d, peak LR %.4g, "
            "device %s, %s",
            self.job_name,
            num_samples,
            self.world_size,
            plan.global_batch,
            plan.steps_per_epoch,
            start_step,
            plan.total_steps,
            plan.peak_lr,
            self.device,
            self.precision,
        )
        self._window = _LogWindow()

    def _export_parallelism(self, choice: ParallelChoice) -> None:
        """``seer_train_parallelism_info`` once per registry (a test may train twice with one)."""
        try:
            export_choice(choice, self.metrics.registry, {"seer_job": self.job_name, "rank": str(self.metrics.rank)})
        except ValueError:  # already registered on this registry by an earlier run in this process
            log.debug("parallelism info already exported on this registry")

    # ----------------------------------------------------------------- steps
    def step_finished(
        self,
        progress: TrainingProgress,
        batch: Batch,
        *,
        loss: float,
        lr: float,
        data_wait_s: float,
        step_time_s: float,
    ) -> None:
        """Update the step metrics; on log steps also log a line and emit a ``step`` event (collective)."""
        images = len(batch.indices)
        metrics = self.metrics
        metrics.step_duration.observe(step_time_s)
        metrics.images.inc(images)
        metrics.steps.inc()
        metrics.step.set(progress.step)
        metrics.epoch.set(batch.epoch)
        metrics.loss.set(loss)
        metrics.learning_rate.set(lr)
        metrics.data_wait.inc(data_wait_s)
        if batch.corrupt:
            metrics.corrupt_images.inc(batch.corrupt)
        if self.peak_flops:
            metrics.mfu.set(self.flops_per_image * images / step_time_s / self.peak_flops)
        window = self._window
        window.images += images
        window.data_wait_s += data_wait_s
        window.steps += 1
        if progress.step % self.log_every_steps == 0 or progress.step == self.total_steps:
            self._log_window(progress, batch.epoch, loss=loss, lr=lr)

    def _log_window(self, progress: TrainingProgress, epoch: int, *, loss: float, lr: float) -> None:
        window = self._window
        elapsed = time.perf_counter() - window.started
        images_per_s = window.images * self.world_size / elapsed if elapsed > 0 else 0.0
        wait_share = window.data_wait_s / elapsed if elapsed > 0 else 0.0
        mean_loss = mean_across_ranks(loss, self.device)
        log.info(
            "step %d/%d epoch %d loss %.4f lr %.4g %.1f img/s data-wait %.1f%%",
            progress.step,
            self.total_steps,
            epoch,
            mean_loss,
            lr,
            images_per_s,
            100 * wait_share,
        )
        self.events.emit(
            "step",
            step=progress.step,
            epoch=epoch,
            loss=mean_loss,
            lr=lr,
            images_per_s=images_per_s,
            data_wait_share=wait_share,
            step_time_s=elapsed / max(1, window.steps),
        )
        self._window = _LogWindow()

    # ----------------------------------------------------------- checkpoints
    def checkpoint_finished(self, result: SaveResult) -> None:
        """The checkpointer's ``on_result``: metrics and an event (the checkpointer has logged it)."""
        if result.skipped:
            return
        metrics = self.metrics
        if result.ok:
            metrics.checkpoint_duration.observe(result.duration_s)
            metrics.checkpoint_last_success.set(time.time())
            metrics.checkpoint_last_step.set(result.step)
            self.events.emit(
                "checkpoint", step=result.step, url=result.url, duration_s=result.duration_s, blocked_s=result.blocked_s
            )
        else:
            metrics.checkpoint_failures.inc()
            self.events.emit("checkpoint_failed", step=result.step, error=result.error, attempts=result.attempts)
        metrics.checkpoint_blocked.observe(result.blocked_s)

    def checkpoint_quarantined(self, quarantined: Quarantined) -> None:
        """The checkpointer's ``on_quarantine``: an event (the checkpointer has logged it, with tracebacks)."""
        self.events.emit(
            "checkpoint_quarantined",
            step=quarantined.step,
            url=quarantined.url,
            moved_to=quarantined.moved_to,
            error=quarantined.error,
        )

    # --------------------------------------------------------------- the end
    def stopping(self, step: int, budget_s: float) -> None:
        log.warning("stopping at step %d: final checkpoint (budget %.1fs)", step, budget_s)

    def preempted(self, step: int, *, checkpoint_ok: bool) -> None:
        self.events.emit("preempted", step=step, checkpoint_ok=checkpoint_ok)

    def evaluated(self, results: dict[str, Any] | None) -> None:
        if results is not None:
            self.events.emit("eval", results=results)

    def finished(self, step: int, *, loss: float | None) -> None:
        self.events.emit("end", step=step, loss=loss)
