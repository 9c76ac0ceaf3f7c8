"""Checkpoints in object storage: sharded, asynchronous, committed by a manifest, resumable on any world size.

Public API (what the training loop calls)::

    ckpt = Checkpointer(CheckpointConfig.from_spec(job.spec.checkpoint, url=url), on_result=report)
    state = TrainingState(model, optimizer, progress=TrainingProgress(), extra={"schedule": schedule},
                          per_rank={"swav_queue": queue}, spec_hash=job.spec_hash())
    ckpt.load_latest(state)                      # resume (collective); None on a fresh start;
                                                 # a checkpoint that fails to load is quarantined
    if ckpt.should_save(step): ckpt.save(state, loss=loss)   # async; failures reported, never raised
    ckpt.save_now(state, timeout_s=grace)        # SIGTERM path and the final save (a failed final
                                                 # save makes the loop raise CheckpointNotSaved)
    ckpt.close()

See README.md in this folder for the layout and the guarantees.
"""

from .checkpointer import CheckpointConfig, Checkpointer, CheckpointNotSaved, Quarantined, SaveResult
from .layout import MANIFEST_NAME, METADATA_NAME, StepEntry, plan_deletions, step_dir_name
from .manifest import Manifest
from .policy import should_save
from .retry import RetryPolicy
from .state import TensorSlot, TrainingProgress, TrainingState, current_rank, current_world_size
from .store import CheckpointInfo, CheckpointStore, latest_complete

__all__ = [
    "MANIFEST_NAME",
    "METADATA_NAME",
    "CheckpointConfig",
    "CheckpointInfo",
    "CheckpointNotSaved",
    "CheckpointStore",
    "Checkpointer",
    "Manifest",
    "Quarantined",
    "RetryPolicy",
    "SaveResult",
    "StepEntry",
    "TensorSlot",
    "TrainingProgress",
    "TrainingState",
    "current_rank",
    "current_world_size",
    "latest_complete",
    "plan_deletions",
    "should_save",
    "step_dir_name",
]
