"""Which data parallelism (and whether activation checkpointing) a job gets: a pure decision.

``choose(...)`` takes the requested modes (``spec.training.parallelism`` and
``activationCheckpointing``), the memory estimate, the device memory and the topology,
and returns a ``ParallelPlan`` with a reason a person can read. The trainer applies the
plan (``seer.trainer.parallel.apply_parallelism``); ``seerctl models`` prints it.

Why this order (auto):
1. replicate — no wrapper at all for one process, DDP for several — whenever parameters,
   gradients, momentum and activations fit comfortably (``HEADROOM`` of the device) in
   one device: no parameter gathers, the fewest kernel launches, the cheapest step;
2. HSDP (shard within a node, replicate across nodes, a 2-D mesh) when they don't but a
   node's worth of shards does: the all-gathers stay on the fast intra-node links;
3. FSDP2 over every rank only when even that is too big.
Activation checkpointing ``auto`` is on only when the batch does not fit even with the
most memory-frugal parallelism available (it costs a third more compute).
Without a known device memory (CPU) everything fits: replicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from seer.platform.models.memory import GIB, MemoryEstimate

ParallelismMode = Literal["auto", "ddp", "fsdp", "hsdp"]
Kind = Literal["none", "ddp", "fsdp", "hsdp"]
HEADROOM = 0.85  # "comfortably": leave 15% of the device for fragmentation and estimate error


@dataclass(frozen=True)
class ParallelPlan:
    """kind: ``none`` (plain module), ``ddp``, ``fsdp`` or ``hsdp``. ``shard_size`` ranks hold
    one copy of the sharded state (1 for none/ddp, the world for fsdp, a node for hsdp);
    ``replicate_size`` = world / shard_size. ``estimated_bytes``: per device (None: unknown)."""

    kind: Kind
    shard_size: int
    replicate_size: int
    activation_checkpointing: bool
    estimated_bytes: int | None
    reason: str


def _gib(n: int | None) -> str:
    return "?" if n is None else f"{n / GIB:.1f} GiB"


def choose(
    requested: ParallelismMode,
    *,
    estimate: MemoryEstimate | None,
    device_bytes: int | None,
    world: int,
    ranks_per_node: int,
    activation_checkpointing: bool | Literal["auto"] = "auto",
) -> ParallelPlan:
    """The plan for ``world`` ranks, ``ranks_per_node`` per node (1 <= ranks_per_node <= world).

    ``estimate``/``device_bytes`` None: memory unknown (a CPU run) — nothing is too big.
    Explicit modes are honoured: ``ddp`` on one process is no wrapper (DDP would only add
    hooks), ``hsdp`` on a single node or with one rank per node is FSDP (a 2-D mesh needs both).
    """
    if world < 1 or not 1 <= ranks_per_node <= world or world % ranks_per_node:
        raise ValueError(f"need world >= 1 and ranks_per_node dividing it, got world={world} per_node={ranks_per_node}")
    nodes = world // ranks_per_node
    known = estimate is not None and device_bytes is not None
    budget = int(HEADROOM * device_bytes) if device_bytes is not None else None

    def need(shards: int, ac: bool) -> int | None:
        return estimate.total(shards=shards, activation_checkpointing=ac) if estimate is not None else None

    def fits(shards: int, ac: bool) -> bool:
        return not known or need(shards, ac) <= budget  # type: ignore[operator]

    # --- activation checkpointing: only when even the most frugal layout would not fit
    frugal_shards = {"ddp": 1, "hsdp": ranks_per_node if nodes > 1 else world, "fsdp": world}.get(requested, world)
    if activation_checkpointing == "auto":
        ac = not fits(frugal_shards, False)
        ac_why = (
            f"activation checkpointing on: {_gib(need(frugal_shards, False))} needed > {_gib(budget)} budget"
            if ac
            else "activation checkpointing off"
        )
    else:
        ac = bool(activation_checkpointing)
        ac_why = f"activation checkpointing {'on' if ac else 'off'} (requested)"

    def plan(kind: Kind, shards: int, why: str) -> ParallelPlan:
        note = "" if fits(shards, ac) else f"; WARNING: estimated {_gib(need(shards, ac))} > {_gib(budget)} budget"
        return ParallelPlan(kind, shards, world // shards, ac, need(shards, ac), f"{why}; {ac_why}{note}")

    if requested == "ddp":
        return plan("none" if world == 1 else "ddp", 1, "requested ddp" + (" (one process: no wrapper)" * (world == 1)))
    if requested == "fsdp":
        return plan("fsdp", world, "requested fsdp")
    if requested == "hsdp":
        if nodes > 1 and ranks_per_node > 1:
            return plan("hsdp", ranks_per_node, f"requested hsdp: shard over {ranks_per_node}, replicate over {nodes}")
        return plan("fsdp", world, "requested hsdp, but a 2-D mesh needs several nodes of several ranks: fsdp")
    if requested != "auto":
        raise ValueError(f"training.parallelism must be auto, ddp, fsdp or hsdp, got {requested!r}")

    where = f"{_gib(device_bytes)} x {HEADROOM:.0%} budget" if known else "memory unknown (CPU)"
    if world == 1:  # sharding over one rank saves nothing and costs a wrapper
        return plan("none", 1, f"auto: one process, nothing to shard over ({_gib(need(1, ac))} of {where})")
    if fits(1, ac):
        kind: Kind = "ddp"
        return plan(kind, 1, f"auto: replicated state fits ({_gib(need(1, ac))} of {where})")
    if nodes > 1 and ranks_per_node > 1 and fits(ranks_per_node, ac):
        return plan(
            "hsdp",
            ranks_per_node,
            f"auto: replicated needs {_gib(need(1, ac))} > {where}; sharded within a node "
            f"({ranks_per_node} ranks) it is {_gib(need(ranks_per_node, ac))}",
        )
    return plan("fsdp", world, f"auto: replicated needs {_gib(need(1, ac))} > {where}; sharded over all {world} ranks")
