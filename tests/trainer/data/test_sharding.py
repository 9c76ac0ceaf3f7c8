"""The global sample position: no sample twice, none lost, whatever the split."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seer.trainer.data.sharding import (
    epoch_order,
    rank_batches,
    steps_per_epoch,
    steps_remaining,
    worker_batch_numbers,
)

SEED, EPOCH = 7, 3


def seen_by_rank(num_samples, position, world_size, per_rank_batch, rank, workers, *, steps=None):
    """What one rank receives when its batches are built by ``workers`` loader
    workers round-robin and handed back in batch order (as the DataLoader does)."""
    plan = list(rank_batches(num_samples, SEED, EPOCH, position, world_size, per_rank_batch, rank))
    if steps is not None:
        plan = plan[:steps]
    built: dict[int, np.ndarray] = {}
    for w in range(max(workers, 1)):
        for j in worker_batch_numbers(len(plan), w, workers):
            if j in built:
                raise AssertionError(f"batch {j} built by two workers")
            built[j] = plan[j].indices
    assert sorted(built) == list(range(len(plan)))
    return [built[j] for j in range(len(plan))], plan


def run_segment(num_samples, position, world_size, per_rank_batch, workers, steps=None):
    """All ranks for ``steps`` steps: returns (samples seen in global-batch
    order, i.e. step by step and rank by rank, and the new position)."""
    per_rank = []
    position_after = position
    for rank in range(world_size):
        batches, plan = seen_by_rank(num_samples, position, world_size, per_rank_batch, rank, workers, steps=steps)
        per_rank.append(batches)
        if plan:
            position_after = plan[-1].position_after
    seen = [per_rank[r][step] for step in range(len(per_rank[0])) for r in range(world_size)]
    return (np.concatenate(seen) if seen else np.zeros(0, np.int64)), position_after


@pytest.mark.parametrize("world_size", [1, 2])
@pytest.mark.parametrize("workers", [0, 1, 2])
def test_one_epoch_covers_every_sample_once_except_the_dropped_tail(world_size, workers):
    num_samples, b = 103, 4
    seen, end = run_segment(num_samples, 0, world_size, b, workers)
    assert len(seen) == len(set(seen.tolist())), "a sample was seen twice"
    big_b = world_size * b
    assert end == (num_samples // big_b) * big_b
    order = epoch_order(num_samples, SEED, EPOCH)
    assert set(seen.tolist()) == set(order[:end].tolist())
    assert num_samples - end < big_b  # only the partial global batch is dropped


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_worker_count_does_not_change_what_a_rank_sees(workers):
    reference, _ = seen_by_rank(50, 6, 2, 3, 1, 0)
    batches, _ = seen_by_rank(50, 6, 2, 3, 1, workers)
    assert [b.tolist() for b in batches] == [b.tolist() for b in reference]


@pytest.mark.parametrize("workers", [0, 2])
def test_world_size_change_2_to_1_to_2_mid_epoch_loses_and_repeats_nothing(workers):
    num_samples, b = 97, 3
    first, pos = run_segment(num_samples, 0, 2, b, workers, steps=5)  # 2 ranks x 5 steps
    assert pos == 30
    second, pos = run_segment(num_samples, pos, 1, b, workers, steps=7)  # 1 rank x 7 steps
    assert pos == 51
    third, end = run_segment(num_samples, pos, 2, b, workers)  # 2 ranks to the end
    seen = np.concatenate([first, second, third])
    assert len(seen) == len(set(seen.tolist()))
    order = epoch_order(num_samples, SEED, EPOCH)
    assert seen.tolist() == order[:end].tolist()  # contiguous prefix of the epoch order
    assert num_samples - end < 2 * b


@settings(max_examples=60, deadline=None)
@given(
    num_samples=st.integers(1, 200),
    sizes=st.lists(st.tuples(st.integers(1, 4), st.integers(1, 5), st.integers(0, 6)), min_size=1, max_size=4),
)
def test_any_sequence_of_world_sizes_covers_a_prefix_of_the_order_exactly_once(num_samples, sizes):
    position, seen = 0, []
    for world_size, per_rank_batch, steps in sizes:
        chunk, position = run_segment(num_samples, position, world_size, per_rank_batch, 0, steps=steps)
        seen.append(chunk)
    flat = np.concatenate(seen).tolist() if seen else []
    assert flat == epoch_order(num_samples, SEED, EPOCH)[:position].tolist()


def test_ranks_of_one_step_take_adjacent_slices_of_the_global_batch():
    order = epoch_order(40, SEED, EPOCH)
    r0 = next(rank_batches(40, SEED, EPOCH, 8, 2, 4, 0))
    r1 = next(rank_batches(40, SEED, EPOCH, 8, 2, 4, 1))
    assert r0.indices.tolist() == order[8:12].tolist()
    assert r1.indices.tolist() == order[12:16].tolist()
    assert r0.position_after == r1.position_after == 16


def test_epoch_order_is_a_seeded_permutation_that_changes_with_epoch_and_seed():
    a = epoch_order(1000, 1, 0)
    assert sorted(a.tolist()) == list(range(1000))
    assert np.array_equal(a, epoch_order(1000, 1, 0))
    assert not np.array_equal(a, epoch_order(1000, 1, 1))
    assert not np.array_equal(a, epoch_order(1000, 2, 0))


def test_steps_helpers_drop_the_partial_global_batch():
    assert steps_per_epoch(100, 2, 8) == 6
    assert steps_remaining(100, 96, 2, 8) == 0
    assert steps_remaining(100, 30, 1, 8) == 8


@pytest.mark.parametrize(
    "args, message",
    [
        ((10, 0, 0, 2, 0), "world_size"),
        ((10, 0, 2, 2, 2), "rank"),
        ((10, 0, 2, 0, 0), "per_rank_batch"),
        ((10, 11, 1, 2, 0), "position 11"),
    ],
)
def test_impossible_splits_are_rejected_with_the_offending_value(args, message):
    num_samples, position, world_size, b, rank = args
    with pytest.raises(ValueError, match=message):
        list(rank_batches(num_samples, 0, 0, position, world_size, b, rank))
