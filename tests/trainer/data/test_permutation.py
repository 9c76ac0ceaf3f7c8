"""The epoch order is a keyed bijection computed on demand, and it is well mixed."""

from __future__ import annotations

from itertools import islice

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seer.trainer.data.permutation import CHUNK, WINDOW, EpochOrder, FeistelPermutation
from seer.trainer.data.sharding import epoch_order, rank_batches


@pytest.mark.parametrize(
    "n",
    [0, 1, 2, 3, 4, 5, 7, 8, 16, 31, 97, 1024, 8191, 65_537, CHUNK - 1, CHUNK, CHUNK + 1, WINDOW, WINDOW + 1],
)
def test_the_order_is_a_bijection_for_powers_of_two_primes_and_window_edges(n):
    order = epoch_order(n, 3, 1)
    assert order.dtype == np.int64
    assert np.array_equal(np.sort(order), np.arange(n))


def test_the_order_is_a_bijection_across_several_windows_and_a_partial_chunk():
    n = 2 * WINDOW + 3 * CHUNK + 77  # whole windows, whole chunks and a ragged tail
    assert np.array_equal(np.sort(epoch_order(n, 0, 5)), np.arange(n))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 5000), key=st.tuples(st.integers(0, 2**32), st.integers(0, 2**16)))
def test_feistel_with_cycle_walking_is_a_bijection_for_any_size_and_key(n, key):
    assert np.array_equal(np.sort(FeistelPermutation(n, key)(np.arange(n))), np.arange(n))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 3 * WINDOW), data=st.data())
def test_on_demand_positions_equal_the_materialised_order(n, data):
    order = EpochOrder(n, 11, 2)
    positions = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=50)))
    reference = epoch_order(n, 11, 2) if n <= 5000 else None
    got = order.at(positions)
    for p, value in zip(positions.tolist(), got.tolist(), strict=True):
        assert order[p] == value
        if reference is not None:
            assert reference[p] == value
    start = int(positions[0])
    assert order[start : start + 7].tolist() == [order[i] for i in range(start, min(n, start + 7))]


def test_the_order_depends_only_on_n_seed_and_epoch():
    n = WINDOW + 12_345
    a = EpochOrder(n, 7, 3).at(np.arange(0, n, 997))
    assert np.array_equal(a, EpochOrder(n, 7, 3).at(np.arange(0, n, 997)))
    assert not np.array_equal(a, EpochOrder(n, 7, 4).at(np.arange(0, n, 997)))
    assert not np.array_equal(a, EpochOrder(n, 8, 3).at(np.arange(0, n, 997)))


def test_positions_outside_the_epoch_are_rejected():
    with pytest.raises(IndexError):
        EpochOrder(10, 0, 0).at(np.array([10]))
    with pytest.raises(ValueError, match="seed"):
        EpochOrder(10, -1, 0)


# --------------------------------------------------------------------------- mixing

N_MIX = 2 * WINDOW + 50_000  # three windows, the last partial
SHARD = 1000  # samples per (synthetic) shard: sample i lives in shard i // SHARD


@pytest.fixture(scope="module")
def mixed():
    return epoch_order(N_MIX, 1, 0)


def _longest_run(values: np.ndarray) -> int:
    change = np.flatnonzero(np.diff(values) != 0)
    bounds = np.concatenate([[-1], change, [len(values) - 1]])
    return int(np.diff(bounds).max())


@pytest.mark.parametrize(
    "position, min_distinct",
    [
        (0, 40),  # a whole window: 64 chunks (~520 shards); 64 draws give ~60 distinct shards
        (WINDOW - 8 * 64 * 2, 40),  # across a window boundary
        (N_MIX - 8 * 64 * 4, 25),  # the partial last window holds ~6 chunks (~50 shards): ~36 expected
    ],
)
def test_no_rank_sees_a_run_of_one_shard(position, min_distinct):
    world, b = 8, 64
    for rank in range(world):
        for batch in islice(rank_batches(N_MIX, 1, 0, position, world, b, rank), 3):
            shards = batch.indices // SHARD
            assert _longest_run(shards) <= 3, shards
            assert len(np.unique(shards)) >= min_distinct


def test_positions_and_sample_indices_are_decorrelated_at_a_billion_samples():
    """Sampled, not materialised: 200k random positions of a 10^9-sample epoch
    (122k chunks, so the standard deviation of r under independence is ~0.003)."""
    n = 10**9
    order = EpochOrder(n, 1, 0)
    positions = np.sort(np.random.default_rng(0).choice(n - 1, size=200_000, replace=False))
    samples = order.at(positions)
    assert abs(np.corrcoef(positions, samples)[0, 1]) < 0.015
    assert abs(np.corrcoef(samples, order.at(positions + 1))[0, 1]) < 0.015  # neighbours unrelated
    # Contingency of position decile x sample decile: uniform (chi-square, df 81, mean 81, sd 12.7).
    table = np.histogram2d(positions, samples, bins=10, range=[[0, n], [0, n]])[0]
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    assert ((table - expected) ** 2 / expected).sum() < 160


def test_every_sample_of_a_mixed_epoch_is_drawn_once(mixed):
    assert np.array_equal(np.sort(mixed), np.arange(N_MIX))


def test_small_datasets_are_fully_shuffled_not_block_shuffled():
    n = 40_000  # smaller than a window: one Feistel permutation over everything
    order = epoch_order(n, 2, 0)
    first_half = order[: n // 2]
    # Every 1000-sample shard shows up in the first half, about half of it each time.
    counts = np.bincount(first_half // 1000, minlength=n // 1000)
    assert counts.min() > 400 and counts.max() < 600
