"""Everything a run is made of, built once from the job spec: model, objective, optimizer,
checkpointing and data.

Each builder reads its own section of the spec, so the loop never copies fields one by
one. The order in which :func:`build_components` builds things is part of reproducibility:
the model's initial weights come from the global RNG seeded just before, on every rank.

Two seams are deliberately one call each, so that they can be swapped without touching
the loop: :func:`build_parallel_model` (model + ``apply_parallelism``, which builds the mesh) and
:func:`build_data` (``samples_from_spec`` + ``steps_per_epoch`` + ``build_loader``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch

from seer.platform.spec import SeerJob
from seer.trainer.checkpoint import (
    CheckpointConfig,
    Checkpointer,
    Quarantined,
    SaveResult,
    TrainingProgress,
    TrainingState,
)
from seer.trainer.data import Batch, MultiCropConfig, build_loader, samples_from_spec, steps_per_epoch
from seer.trainer.models import build_trunk, init_weights_
from seer.trainer.optim import LARS, param_groups
from seer.trainer.parallel import apply_parallelism
from seer.trainer.runtime import Runtime, checkpoint_url
from seer.trainer.schedule_plan import ScheduleRecord
from seer.trainer.storage import storage_options_from_env
from seer.trainer.swav import SwAVHead, SwAVModel, SwAVObjective
from seer.trainer.swav.queue import FeatureQueue

__all__ = [
    "Components",
    "TrainingData",
    "build_checkpointing",
    "build_components",
    "build_data",
    "build_model",
    "build_objective",
    "build_optimizer",
    "build_parallel_model",
    "multicrop_config",
    "resolve_device",
    "seed_everything",
]


def resolve_device(job: SeerJob, runtime: Runtime) -> torch.device:
    """This rank's device: ``resources.device``, CUDA under ``auto`` when one is visible."""
    wanted = job.spec.resources.device
    if wanted == "cuda" or (wanted == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError("spec.resources.device is cuda but no CUDA device is visible")
        torch.cuda.set_device(runtime.local_rank)
        return torch.device("cuda", runtime.local_rank)
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators (same seed on every rank)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# ------------------------------------------------------------------------ model


def build_model(job: SeerJob, device: torch.device) -> SwAVModel:
    """Trunk + head on ``device``, initialised identically on every rank (same seed)."""
    model_spec = job.spec.model
    trunk = build_trunk(model_spec.resolved_design(), device=device)
    head = SwAVHead(
        trunk.out_features,
        hidden_dim=model_spec.head.hidden_dim,
        out_dim=model_spec.head.output_dim,
        num_prototypes=job.spec.swav.num_prototypes,
    ).to(device)
    model = SwAVModel(trunk, head)
    init_weights_(model)
    return model


def build_parallel_model(job: SeerJob, device: torch.device, world_size: int) -> SwAVModel:
    """The model, wrapped in place for the data parallelism ``apply_parallelism`` chooses
    (``spec.training.parallelism``; it builds the device mesh itself). ``world_size`` is
    kept for the callers' signature; the process group is the source of truth."""
    model = build_model(job, device)
    apply_parallelism(model, job, device)
    return model


def build_objective(job: SeerJob, device: torch.device, world_size: int) -> SwAVObjective:
    """The SwAV loss; the feature queue's length is split over the ranks."""
    swav = job.spec.swav
    queue_per_rank = (
        FeatureQueue.per_rank_length(swav.queue.length, world_size, job.spec.data.batch_size)
        if swav.queue.length
        else 0
    )
    return SwAVObjective(
        num_crops=swav.crops.total,
        crops_for_assign=swav.assignment_crops,
        temperature=swav.temperature,
        epsilon=swav.epsilon,
        sinkhorn_iterations=swav.sinkhorn_iterations,
        queue_length=queue_per_rank,
        queue_starts_epoch=swav.queue.start_epoch,
        feature_dim=job.spec.model.head.output_dim,
    ).to(device)


def build_optimizer(job: SeerJob, model: SwAVModel) -> torch.optim.Optimizer:
    """LARS or SGD at LR 0 (the loop sets each step's LR); BatchNorm and biases get no weight decay."""
    optim = job.spec.optim
    groups = param_groups(model)
    if optim.name == "lars":
        return LARS(
            groups, lr=0.0, momentum=optim.momentum, weight_decay=optim.weight_decay, trust_coefficient=optim.lars_eta
        )
    for group in groups:
        group["weight_decay"] = 0.0 if group.get("lars_exclude") else optim.weight_decay
        group.pop("lars_exclude", None)
    return torch.optim.SGD(groups, lr=0.0, momentum=optim.momentum)


# --------------------------------------------------------------- checkpointing


def build_checkpointing(
    job: SeerJob,
    runtime: Runtime,
    *,
    model: SwAVModel,
    optimizer: torch.optim.Optimizer,
    objective: SwAVObjective,
    schedule: ScheduleRecord,
    on_result: Callable[[SaveResult], None],
    on_quarantine: Callable[[Quarantined], None] | None = None,
) -> tuple[TrainingState, Checkpointer]:
    """What a checkpoint holds (a fresh :class:`TrainingProgress` until resumed) and who writes it."""
    per_rank = {"swav_queue": objective.queue} if objective.queue is not None else {}
    state = TrainingState(
        model,
        optimizer,
        progress=TrainingProgress(),
        extra={"schedule": schedule},
        per_rank=per_rank,
        spec_hash=job.spec_hash(),
    )
    url = checkpoint_url(job, runtime)
    config = CheckpointConfig.from_spec(job.spec.checkpoint, url=url)
    return state, Checkpointer(config, storage_options_from_env(url), on_result=on_result, on_quarantine=on_quarantine)


# ------------------------------------------------------------------------- data


def multicrop_config(job: SeerJob) -> MultiCropConfig:
    """The crops (``swav.crops``) and their augmentations (``data.augment``)."""
    crops, augment = job.spec.swav.crops, job.spec.data.augment
    return MultiCropConfig(
        sizes=tuple(crops.sizes),
        counts=tuple(crops.counts),
        min_scale=tuple(crops.min_scale),
        max_scale=tuple(crops.max_scale),
        flip_prob=augment.flip_prob,
        jitter_strength=augment.jitter_strength,
        jitter_prob=augment.jitter_prob,
        grayscale_prob=augment.grayscale_prob,
        blur_prob=augment.blur_prob,
        solarize_prob=augment.solarize_prob,
    )


@dataclass(frozen=True)
class TrainingData:
    """This rank's batches from where training stands, and the sizes the schedule is planned from."""

    loader: Iterable[Batch]
    num_samples: int
    steps_per_epoch: int
    global_batch: int


def build_data(
    job: SeerJob, *, rank: int, world_size: int, progress: TrainingProgress, device: torch.device
) -> TrainingData:
    """Open the sample table and build this rank's loader, starting at ``progress`` (epoch, global position).

    The table comes from the dataset's prebuilt index when there is one (``seerctl data
    index``; only its manifest is read here, offsets are fetched lazily), else from listing
    the data in this process. Rank 0 alone checks the index against a listing of the data:
    a stale index fails it (exit 1) and with it the job, while the other ranks skip ~100
    LIST pages per 10^5 shards.
    """
    data = job.spec.data
    storage = storage_options_from_env(data.sources[0])
    samples = samples_from_spec(data, storage, validate=rank == 0)
    epoch_steps = steps_per_epoch(len(samples), world_size, data.batch_size)
    if epoch_steps == 0:
        raise ValueError(
            f"{len(samples)} images are fewer than one global batch ({world_size} x {data.batch_size}); "
            "add data or lower data.batchSize"
        )
    loader = build_loader(
        samples,
        multicrop=multicrop_config(job),
        per_rank_batch=data.batch_size,
        rank=rank,
        world_size=world_size,
        workers=data.loader_workers,
        prefetch_factor=data.prefetch_factor,
        seed=job.spec.training.seed,
        epoch=progress.epoch,
        start_position=progress.position,
        epochs=max(1, job.spec.optim.epochs - progress.epoch),
        pin_memory=device.type == "cuda",
    )
    return TrainingData(
        loader=loader,
        num_samples=len(samples),
        steps_per_epoch=epoch_steps,
        global_batch=world_size * data.batch_size,
    )


# ------------------------------------------------------------------- together


@dataclass(frozen=True)
class Components:
    """The parts of a run that live as long as it does."""

    device: torch.device
    model: SwAVModel
    objective: SwAVObjective
    optimizer: torch.optim.Optimizer
    schedule: ScheduleRecord
    state: TrainingState
    checkpointer: Checkpointer

    @property
    def progress(self) -> TrainingProgress:
        return self.state.progress


def build_components(
    job: SeerJob,
    runtime: Runtime,
    *,
    device: torch.device,
    world_size: int,
    on_checkpoint: Callable[[SaveResult], None],
    on_quarantine: Callable[[Quarantined], None] | None = None,
) -> Components:
    """Seed, then build model, objective, optimizer and checkpointing, in this order, on every rank."""
    seed_everything(job.spec.training.seed)
    model = build_parallel_model(job, device, world_size)
    objective = build_objective(job, device, world_size)
    optimizer = build_optimizer(job, model)
    schedule = ScheduleRecord()
    state, checkpointer = build_checkpointing(
        job,
        runtime,
        model=model,
        optimizer=optimizer,
        objective=objective,
        schedule=schedule,
        on_result=on_checkpoint,
        on_quarantine=on_quarantine,
    )
    return Components(device, model, objective, optimizer, schedule, state, checkpointer)
