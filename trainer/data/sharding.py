"""Which samples each rank sees: the global sample position (pure functions).

The contract that lets a run continue after a change of world size:

* Every epoch has one deterministic order of all samples,
  ``EpochOrder(num_samples, seed, epoch)``: a keyed bijection on
  ``[0, num_samples)`` evaluated on demand (``permutation.py``), so no process
  ever holds the whole order.
* The run's data state is ``(epoch, position)``: how many samples of that
  order have been consumed *globally*.  It does not depend on the world size.
* A global batch of ``B = world_size * per_rank_batch`` samples covers
  ``order[position : position + B]``; rank ``r`` takes
  ``order[position + r*b : position + (r+1)*b]`` with ``b = per_rank_batch``.
* After a resume with another world size (or another per-rank batch), the run
  continues from the saved ``position``: the remaining samples
  ``order[position:]`` are covered exactly once, none is repeated or skipped.
* The last, partial global batch of an epoch (``(num_samples - position) % B``
  samples) is DROPPED; the epoch then ends and the next epoch starts at 0.
  Which samples are dropped depends on where the resume happened, but every
  sample is still seen at most once per epoch.

DataLoader workers of one rank take whole batches round-robin
(``worker_batch_numbers``) and the loader yields them back in batch order, so
the number of workers never changes what a rank sees.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .permutation import EpochOrder

__all__ = [
    "EpochOrder",
    "RankBatch",
    "epoch_order",
    "global_batch_size",
    "rank_batch",
    "rank_batches",
    "steps_per_epoch",
    "steps_remaining",
    "worker_batch_numbers",
    "validate_split",
]


@dataclass(frozen=True, slots=True)
class RankBatch:
    """One rank's share of one global batch.

    ``indices`` are sample indices into the dataset (not positions);
    ``position_after`` is the global position once the whole global batch
    (all ranks) is consumed: the value to checkpoint after this step.
    """

    step: int  # 0-based number of this batch among those after the start position
    indices: np.ndarray  # int64 [per_rank_batch]
    position_after: int


def validate_split(num_samples: int, position: int, world_size: int, per_rank_batch: int, rank: int = 0) -> None:
    """Raise ``ValueError`` with the offending values when a split is impossible."""
    if num_samples < 0:
        raise ValueError(f"num_samples must be >= 0, got {num_samples}")
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1, got {world_size}")
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
    if per_rank_batch < 1:
        raise ValueError(f"per_rank_batch must be >= 1, got {per_rank_batch}")
    if not 0 <= position <= num_samples:
        raise ValueError(
            f"position {position} is outside the epoch of {num_samples} samples; "
            "was the checkpoint written for another dataset?"
        )


def global_batch_size(world_size: int, per_rank_batch: int) -> int:
    """Samples consumed per step by all ranks together."""
    return world_size * per_rank_batch


def steps_per_epoch(num_samples: int, world_size: int, per_rank_batch: int) -> int:
    """Full global batches in an epoch started at position 0 (partial one dropped)."""
    return num_samples // global_batch_size(world_size, per_rank_batch)


def steps_remaining(num_samples: int, position: int, world_size: int, per_rank_batch: int) -> int:
    """Full global batches left in the epoch after ``position``."""
    validate_split(num_samples, position, world_size, per_rank_batch)
    return (num_samples - position) // global_batch_size(world_size, per_rank_batch)


def epoch_order(num_samples: int, seed: int, epoch: int) -> np.ndarray:
    """The whole epoch order materialised (int64 ``[num_samples]``): for tests and small tools.

    The loader never calls this: it asks ``EpochOrder`` for the positions it needs.
    """
    return EpochOrder(num_samples, seed, epoch).at(np.arange(num_samples, dtype=np.int64))


def rank_batch(
    order: EpochOrder, position: int, world_size: int, per_rank_batch: int, rank: int, step: int
) -> RankBatch:
    """Rank ``rank``'s ``step``-th batch after ``position`` (O(batch) time and memory)."""
    big_b = global_batch_size(world_size, per_rank_batch)
    start = position + step * big_b + rank * per_rank_batch
    return RankBatch(
        step=step,
        indices=order[start : start + per_rank_batch],
        position_after=position + (step + 1) * big_b,
    )


def rank_batches(
    num_samples: int,
    seed: int,
    epoch: int,
    position: int,
    world_size: int,
    per_rank_batch: int,
    rank: int,
    *,
    order: EpochOrder | np.ndarray | None = None,
) -> Iterator[RankBatch]:
    """Yield the batches rank ``rank`` sees from ``position`` to the end of the epoch.

    ``order`` may be passed to avoid rebuilding it (an ``EpochOrder`` or the
    materialised ``epoch_order``; it must be that epoch's order).  The final
    partial global batch is not yielded (dropped).  Lazy: nothing is computed
    for batches that are not drawn.
    """
    validate_split(num_samples, position, world_size, per_rank_batch, rank)
    lazy = EpochOrder(num_samples, seed, epoch) if order is None else order
    for step in range(steps_remaining(num_samples, position, world_size, per_rank_batch)):
        if isinstance(lazy, EpochOrder):
            yield rank_batch(lazy, position, world_size, per_rank_batch, rank, step)
        else:
            big_b = global_batch_size(world_size, per_rank_batch)
            start = position + step * big_b + rank * per_rank_batch
            yield RankBatch(step, np.asarray(lazy[start : start + per_rank_batch]), position + (step + 1) * big_b)


def worker_batch_numbers(num_batches: int, worker_id: int, num_workers: int) -> range:
    """Batch numbers that loader worker ``worker_id`` of ``num_workers`` builds.

    Round-robin, which is how ``torch.utils.data.DataLoader`` hands indices of
    a map-style dataset to its workers; it yields the results back in index
    order.  ``num_workers == 0`` means the main process builds every batch.
    """
    if num_workers == 0:
        if worker_id != 0:
            raise ValueError(f"worker_id must be 0 without workers, got {worker_id}")
        return range(num_batches)
    if not 0 <= worker_id < num_workers:
        raise ValueError(f"worker_id must be in [0, {num_workers}), got {worker_id}")
    return range(worker_id, num_batches, num_workers)
