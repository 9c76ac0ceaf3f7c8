"""Prometheus metrics of a training worker.

Every worker process serves its own exposition on ``metrics.port + local_rank`` (a
Prometheus target per process, as with any multi-process exporter). Every series
carries ``seer_job`` (the SeerJob name) and ``rank`` (the global rank) so that
dashboards and alerts select a job without scrape-time relabelling.

Names follow Prometheus conventions: base units, ``_seconds``, ``_total`` for
counters, ``_ratio`` for shares. The chart's dashboard and alert rules query these
names; ``tests/charts`` fails when a query names a series that is not defined here.
"""

from __future__ import annotations

import errno
import logging
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

log = logging.getLogger(__name__)

LABELS = ("seer_job", "rank")

#: Step durations from ~10 ms (tiny CPU models) to minutes (10B on few GPUs).
STEP_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 60.0, 120.0)
CHECKPOINT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0)


#: (attribute, kind, series name, help, histogram buckets): every series of the trainer.
#: Counters are exposed with a ``_total`` suffix (``seer_train_images_total``).
SERIES: tuple[tuple[str, type[Counter | Gauge | Histogram], str, str, tuple[float, ...] | None], ...] = (
    ("step_duration", Histogram, "seer_train_step_duration_seconds",
     "Wall time of one optimizer step, data wait included.", STEP_BUCKETS),
    ("images", Counter, "seer_train_images",
     "Images processed by this worker (each image counted once, whatever its number of crops).", None),
    ("steps", Counter, "seer_train_steps", "Optimizer steps completed by this worker process since it started.", None),
    ("step", Gauge, "seer_train_step", "Current optimizer step of the job (continues across restarts).", None),
    ("epoch", Gauge, "seer_train_epoch", "Current epoch (0-based).", None),
    ("loss", Gauge, "seer_train_loss", "SwAV loss of the last step.", None),
    ("learning_rate", Gauge, "seer_train_learning_rate", "Learning rate of the last step.", None),
    ("data_wait", Counter, "seer_train_data_wait_seconds", "Time the step loop waited for the next batch.", None),
    ("mfu", Gauge, "seer_train_model_flops_utilization_ratio",
     "Achieved model FLOP/s over the device's peak (only where the peak is known).", None),
    ("corrupt_images", Counter, "seer_train_corrupt_images",
     "Images skipped because they could not be read or decoded.", None),
    ("checkpoint_duration", Histogram, "seer_checkpoint_save_duration_seconds",
     "Time to write a checkpoint completely (background time included).", CHECKPOINT_BUCKETS),
    ("checkpoint_blocked", Histogram, "seer_checkpoint_blocked_seconds",
     "Time the training loop was blocked by a checkpoint save.", CHECKPOINT_BUCKETS),
    ("checkpoint_last_success", Gauge, "seer_checkpoint_last_success_timestamp_seconds",
     "Unix time of the last committed checkpoint.", None),
    ("checkpoint_last_step", Gauge, "seer_checkpoint_last_step", "Step of the last committed checkpoint.", None),
    ("checkpoint_failures", Counter, "seer_checkpoint_save_failures",
     "Checkpoint saves that failed (training went on).", None),
    ("restarts", Gauge, "seer_train_restarts",
     "Times this job's workers were restarted (as told by the supervisor).", None),
)  # fmt: skip


@dataclass
class TrainerMetrics:
    """The trainer's series, bound to one job and rank.

    Build with :meth:`create`; a fresh registry per instance keeps tests independent
    and keeps the default process registry (and its Python GC series) out of the way.
    """

    registry: CollectorRegistry
    job: str
    rank: int
    step_duration: Histogram = field(init=False)
    images: Counter = field(init=False)
    steps: Counter = field(init=False)
    step: Gauge = field(init=False)
    epoch: Gauge = field(init=False)
    loss: Gauge = field(init=False)
    learning_rate: Gauge = field(init=False)
    data_wait: Counter = field(init=False)
    mfu: Gauge = field(init=False)
    corrupt_images: Counter = field(init=False)
    checkpoint_duration: Histogram = field(init=False)
    checkpoint_blocked: Histogram = field(init=False)
    checkpoint_last_success: Gauge = field(init=False)
    checkpoint_last_step: Gauge = field(init=False)
    checkpoint_failures: Counter = field(init=False)
    restarts: Gauge = field(init=False)

    @classmethod
    def create(cls, job: str, rank: int, registry: CollectorRegistry | None = None) -> "TrainerMetrics":
        return cls(registry=registry or CollectorRegistry(), job=job, rank=rank)

    def __post_init__(self) -> None:
        for attribute, kind, name, help_text, buckets in SERIES:
            options = {"buckets": buckets} if buckets else {}
            metric = kind(name, help_text, LABELS, registry=self.registry, **options)
            # One child per (job, rank): bound once, updated cheaply.
            setattr(self, attribute, metric.labels(seer_job=self.job, rank=str(self.rank)))

    def serve(self, port: int, addr: str = "0.0.0.0") -> int:
        """Start the HTTP exporter; returns the bound port (``port=0`` picks a free one).

        A port already in use is not the training's failure: the exporter moves to a free
        port, logs which, and the caller records the returned port (``pids/rank-<r>.json``
        in a local run). Training never fails, nor restarts, for a metrics port.
        """
        try:
            server, _thread = start_http_server(port, addr=addr, registry=self.registry)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or port == 0:
                raise
            server, _thread = start_http_server(0, addr=addr, registry=self.registry)
            log.warning(
                "metrics port %d is in use; serving on port %d instead (metrics.port in the job file sets it)",
                port,
                int(server.server_address[1]),
            )
        bound = int(server.server_address[1])
        log.info("metrics on http://%s:%d/metrics", addr, bound)
        return bound


#: Peak dense FLOP/s per device, for MFU. Unknown devices report no MFU rather than a guess.
PEAK_FLOPS: dict[str, dict[str, float]] = {
    "NVIDIA H100": {"bf16": 989e12, "fp16": 989e12, "fp32": 67e12},
    "NVIDIA H200": {"bf16": 989e12, "fp16": 989e12, "fp32": 67e12},
    "NVIDIA A100": {"bf16": 312e12, "fp16": 312e12, "fp32": 19.5e12},
}


def peak_flops(device_name: str, precision: str) -> float | None:
    """The peak for a CUDA device name (prefix match), or None when unknown (e.g. CPUs)."""
    for prefix, peaks in PEAK_FLOPS.items():
        if device_name.startswith(prefix):
            return peaks.get(precision)
    return None
