"""``choose``: the parallelism and activation-checkpointing decision, as a table."""

from __future__ import annotations

import pytest

from seer.platform.models.memory import FIXED_OVERHEAD_BYTES, GIB, MemoryEstimate, estimate_memory
from seer.platform.models.parallelism import choose
from seer.platform.variants import VARIANTS

# 1 GiB of parameters -> 14 GiB replicated (12 + bf16 copy); per shard 12/S GiB + 8 x 0.5 GiB unit.
EST = MemoryEstimate(
    params=GIB,
    largest_unit_params=GIB // 2,
    activation_bytes=60 * GIB,
    checkpointed_activation_bytes=10 * GIB,
    mixed_precision=True,
)
DEVICE = 100 * GIB  # budget 85 GiB


@pytest.mark.parametrize(
    ("requested", "world", "per_node", "device", "ac", "kind", "shards", "want_ac"),
    [
        # fits replicated (14 + 60 + 3 = 77 <= 85): no wrapper on one process, DDP on several
        ("auto", 1, 1, DEVICE, "auto", "none", 1, False),
        ("auto", 16, 8, DEVICE, "auto", "ddp", 1, False),
        # memory unknown (CPU): replicate
        ("auto", 2, 2, None, "auto", "ddp", 1, False),
        # 80 GiB device (budget 68): replicated 77 no; within a node (8): 1.5 + 4 + 63 = 68.5 no;
        # all 16 ranks: 0.75 + 4 + 63 = 67.75 yes -> fsdp everywhere, no checkpointing needed
        ("auto", 16, 8, 80 * GIB, "auto", "fsdp", 16, False),
        # 81 GiB (budget 68.85): a node's shards fit -> hsdp
        ("auto", 16, 8, 81 * GIB, "auto", "hsdp", 8, False),
        # one node, too big to replicate: fsdp over the node
        ("auto", 8, 8, 81 * GIB, "auto", "fsdp", 8, False),
        # one node, 80 GiB: not even the node's shards fit (68.5 > 68) -> checkpointing, then replicated
        ("auto", 8, 8, 80 * GIB, "auto", "ddp", 1, True),
        # 40 GiB: does not fit even fully sharded -> checkpointing on, and then replicated fits (14+10+3)
        ("auto", 16, 8, 40 * GIB, "auto", "ddp", 1, True),
        # checkpointing requested off is honoured even when it won't fit (the plan warns)
        ("auto", 1, 1, 40 * GIB, False, "none", 1, False),
        # explicit modes are honoured
        ("fsdp", 1, 1, DEVICE, "auto", "fsdp", 1, False),
        ("ddp", 1, 1, DEVICE, "auto", "none", 1, False),
        ("ddp", 4, 4, DEVICE, True, "ddp", 1, True),
        ("hsdp", 16, 8, DEVICE, "auto", "hsdp", 8, False),
        ("hsdp", 8, 8, DEVICE, "auto", "fsdp", 8, False),
    ],
)
def test_choice_table(requested, world, per_node, device, ac, kind, shards, want_ac) -> None:
    plan = choose(
        requested,
        estimate=EST,
        device_bytes=device,
        world=world,
        ranks_per_node=per_node,
        activation_checkpointing=ac,
    )
    assert (plan.kind, plan.shard_size, plan.replicate_size, plan.activation_checkpointing) == (
        kind,
        shards,
        world // shards,
        want_ac,
    ), plan.reason
    assert plan.reason


def test_a_plan_that_does_not_fit_says_so() -> None:
    plan = choose(
        "auto", estimate=EST, device_bytes=40 * GIB, world=1, ranks_per_node=1, activation_checkpointing=False
    )
    assert "WARNING" in plan.reason and "budget" in plan.reason


def test_bad_topology_and_mode_are_refused_with_the_values() -> None:
    with pytest.raises(ValueError, match="world=6"):
        choose("auto", estimate=EST, device_bytes=DEVICE, world=6, ranks_per_node=4)
    with pytest.raises(ValueError, match="parallelism"):
        choose("zero3", estimate=EST, device_bytes=DEVICE, world=1, ranks_per_node=1)  # type: ignore[arg-type]


def test_estimate_grows_with_batch_and_shrinks_with_checkpointing_and_shards() -> None:
    design = VARIANTS["regnety_128gf"].design
    small, big = estimate_memory(design, batch=16), estimate_memory(design, batch=64)
    assert big.activation_bytes == pytest.approx(4 * small.activation_bytes, rel=1e-6)
    assert big.checkpointed_activation_bytes < big.activation_bytes / 3
    assert big.total(shards=8, activation_checkpointing=False) < big.total(shards=1, activation_checkpointing=False)
    assert big.total(shards=1, activation_checkpointing=False) > FIXED_OVERHEAD_BYTES + 12 * big.params


def test_seer_sizes_on_an_h200() -> None:
    """What the issue measured: 128GF at batch 64 and 16GF fit one H200 replicated; 10B does not."""
    h200 = 141 * 10**9
    for name, batch, kind in [("regnety_16gf", 64, "none"), ("regnety_128gf", 64, "none"), ("regnety_10b", 16, "fsdp")]:
        est = estimate_memory(VARIANTS[name].design, batch=batch)
        plan = choose("auto", estimate=est, device_bytes=h200, world=8, ranks_per_node=8)
        assert plan.kind == ("ddp" if kind == "none" else kind), (name, plan.reason)
