"""Checkpoints in object storage: sharded, asynchronous, committed by a manifest, resumable on any world size.

Public API (what the training loop calls)::

    ckpt = Checkpointer(CheckpointConfig(url=..., keep_last=..., every_steps=..., every_seconds=..., async_save=...))
    state = TrainingState(model, optimizer, progress=Progress(), extra={"lr": scheduler},
                          per_rank={"swav_queue": TensorSlot(queue)}, spec_hash=spec_hash(spec))
    ckpt.load_latest(state)                      # resume (collective); None on a fresh start
    if ckpt.should_save(step): ckpt.save(state, loss=loss)   # async; failures reported, never raised
    ckpt.save_now(state, timeout_s=grace)        # SIGTERM path
    ckpt.close()

See README.md in this folder for the layout and the guarantees.
"""

from .checkpointer import CheckpointConfig, Checkpointer, CheckpointStats, SaveResult
from .layout import MANIFEST_NAME, METADATA_NAME, StepEntry, plan_deletions, step_dir_name
from .manifest import Manifest
from .policy import should_save
from .retry import RetryPolicy
from .spec_hash import spec_hash
from .state import Progress, TensorSlot, TrainingState
from .store import CheckpointInfo, CheckpointStore, latest_complete

__all__ = [
    "MANIFEST_NAME",
    "METADATA_NAME",
    "CheckpointConfig",
    "CheckpointInfo",
    "CheckpointStats",
    "CheckpointStore",
    "Checkpointer",
    "Manifest",
    "Progress",
    "RetryPolicy",
    "SaveResult",
    "StepEntry",
    "TensorSlot",
    "TrainingState",
    "latest_complete",
    "plan_deletions",
    "should_save",
    "spec_hash",
    "step_dir_name",
]
