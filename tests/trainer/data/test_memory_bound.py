"""Memory per process does not grow with the dataset: 10^9 samples in metadata only.

The check runs in a fresh interpreter so that its peak RSS (``ru_maxrss``) is its
own: the baseline is taken after the imports, then a manifest of 100,000 shards
x 10,000 samples is built (no bytes: a shard's offsets are synthesised when its
block is fetched), a 64-rank loader is built for rank 63, and batches are
addressed at positions 0, N/2 and N - B.  Before this design the epoch order
alone was an 8 GB int64 permutation per process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from seer.trainer.data.permutation import WINDOW_CHUNKS

SCRIPT = textwrap.dedent(
    """
    import json, resource
    import numpy as np
    from seer.trainer.data.dataset_index import BLOCK_ROWS, IndexedSamples, Manifest
    from seer.trainer.data.loader import build_loader
    from seer.trainer.data.multicrop_config import MultiCropConfig

    def peak_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    SHARDS, PER_SHARD, WORLD, B = 100_000, 10_000, 64, 256
    calls = []

    def synthetic_block(block, first, count):  # where sample k of shard sid would be in its tar
        calls.append((block, first, count))
        i = np.arange(first, first + count, dtype=np.int64)
        sid, local = i // PER_SHARD, i % PER_SHARD
        return np.stack([1536 + 4096 * local, 3000 + sid % 7], axis=1)

    before = peak_mb()
    manifest = Manifest(
        urls=("s3://bucket/train/",),
        format="webdataset",
        root="s3://bucket/train/",
        names=tuple(f"shard-{s:06d}.tar" for s in range(SHARDS)),
        is_tar=np.ones(SHARDS, dtype=bool),
        sizes=np.full(SHARDS, PER_SHARD * 4096, dtype=np.int64),
        versions=("",) * SHARDS,
        ends=np.arange(1, SHARDS + 1, dtype=np.int64) * PER_SHARD,
    )
    samples = IndexedSamples(manifest, "s3://bucket/train/.seer-index", block_reader=synthetic_block)
    n = len(samples)
    cfg = MultiCropConfig(sizes=(224, 96), counts=(2, 6), min_scale=(0.14, 0.05), max_scale=(1.0, 0.14))
    drawn, checked = 0, 0
    lengths = []
    for position in (0, (n // 2 // (WORLD * B)) * WORLD * B, n - WORLD * B):
        loader = build_loader(samples, multicrop=cfg, per_rank_batch=B, rank=63, world_size=WORLD,
                              start_position=position, workers=4)
        dataset = loader.epoch_loader(0, position).dataset
        lengths.append(len(dataset))
        for j in range(min(len(dataset), 20)):
            plan = dataset.batch_plan(j)
            sid, offset, size = samples.locate(plan.indices)
            local = plan.indices - sid * PER_SHARD
            assert np.array_equal(offset, 1536 + 4096 * local) and np.array_equal(size, 3000 + sid % 7)
            drawn += 1
            checked += len(plan.indices)
    print(json.dumps({
        "n": n, "rss_growth_mb": peak_mb() - before, "batches": drawn, "samples": checked,
        "blocks_fetched": samples.blocks_fetched, "blocks_held": len(samples._blocks),
        "max_blocks": samples.max_blocks, "block_rows": BLOCK_ROWS, "lengths": lengths,
    }))
    """
)


@pytest.mark.slow
def test_a_billion_sample_dataset_is_addressed_in_bounded_memory():
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=600,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["n"] == 10**9
    steps = 10**9 // (64 * 256)
    assert report["lengths"] == [steps, steps - steps // 2, 1]  # steps left, computed, not materialised
    assert report["batches"] == 41 and report["samples"] == 41 * 256
    assert report["rss_growth_mb"] < 200, report
    # Work is bounded by the order's locality, not by N: each position's batches lie in at most two
    # windows of WINDOW_CHUNKS chunks, each chunk one offsets block (+1 for the ragged last window).
    assert report["blocks_fetched"] <= 3 * 2 * (WINDOW_CHUNKS + 1)
    assert report["blocks_held"] <= report["max_blocks"]
