"""Whole SwAV training step on CPU, every ratio measured side by side in this one run.

Model RegNetY-400MF (``--variant``), global batch 32, crops 2x64 + 4x32 px, 3000
prototypes, LARS, one process, synthetic tensors (the same for every configuration).
Configurations, each timed as the median of ``--steps`` steps after 2 warm-up steps, the
configurations interleaved step by step (so load changes on a shared machine hit all alike):

- ``reference``: the same math written plainly, as in SwAV's published code: the plain
  module (no wrapper, contiguous tensors), one trunk call per crop resolution, SwAV's
  ``distributed_sinkhorn`` and its double loop over crops for the loss, per-tensor LARS
  (``foreach=False``), fp32.
- ``seer fp32``: Seer's step (``parallelize`` without a mesh, channels_last,
  ``SwAVObjective``, multi-tensor LARS), fp32 — and the same with contiguous tensors,
  and with a full 3840-row queue.
- ``fsdp2 fp32`` / ``fsdp2 bf16``: Seer's step with FSDP2 on a 1-rank gloo mesh.

Printed ratios, each between two configurations that differ in ONE thing:
Seer vs reference (the implementation), FSDP2 vs unwrapped (the wrapper, fp32 both),
bf16 vs fp32 (the precision, FSDP2 both), queue vs none and channels_last vs contiguous
(Seer fp32 unwrapped). The reference's first-step loss is compared with Seer's on the
same weights and data, so the reference is known to compute the same thing.

Usage: python bench/step_time.py [--threads 2] [--steps 5] [--batch 32] [--variant regnety_400mf]
"""

from __future__ import annotations

import argparse
import os
import socket
import time
from collections.abc import Callable, Sequence

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.distributed.device_mesh import init_device_mesh

from seer.trainer.models import build_trunk
from seer.trainer.optim import LARS, param_groups
from seer.trainer.parallel import parallelize
from seer.trainer.swav import SwAVHead, SwAVModel, SwAVObjective, drop_frozen_prototype_grads_, sinkhorn_reference

NUM_CROPS, ASSIGN, TEMPERATURE, EPSILON, SINKHORN_ITERS = 6, (0, 1), 0.1, 0.05, 3


def _model(variant: str) -> SwAVModel:
    torch.manual_seed(0)  # the same initial weights for every configuration
    trunk = build_trunk(variant)
    return SwAVModel(trunk, SwAVHead(trunk.out_features, hidden_dim=2048, out_dim=128, num_prototypes=3000))


def _crops(batch: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return [torch.randn(batch, 3, 64, 64, generator=g) for _ in range(2)] + [
        torch.randn(batch, 3, 32, 32, generator=g) for _ in range(4)
    ]


def _interleaved_medians(steps: dict[str, Callable[[int], float]], n: int) -> tuple[dict[str, float], dict[str, float]]:
    """Median seconds per step of every configuration and each one's first-step loss.

    Round-robin: round r runs step r of every configuration in turn, so a change in the
    machine's load (a shared machine) slows all of them alike instead of whichever
    happened to run at the time. Rounds 0 and 1 are warm-up and not timed.
    """
    times: dict[str, list[float]] = {name: [] for name in steps}
    first_loss: dict[str, float] = {}
    for it in range(n + 2):
        for name, step in steps.items():
            t = time.perf_counter()
            loss = step(it)
            elapsed = time.perf_counter() - t
            if it == 0:
                first_loss[name] = loss
            if it >= 2:
                times[name].append(elapsed)
    return {name: sorted(ts)[len(ts) // 2] for name, ts in times.items()}, first_loss


# ------------------------------------------------------------------ the reference


def _plain_sinkhorn(out: torch.Tensor) -> torch.Tensor:
    """SwAV's ``distributed_sinkhorn`` for one process, as published (the trainer's verbatim copy)."""
    return sinkhorn_reference(out, epsilon=EPSILON, iterations=SINKHORN_ITERS)


def reference_step_fn(variant: str, batch: int) -> Callable[[int], float]:
    model = _model(variant)
    opt = LARS(param_groups(model), lr=0.3, weight_decay=1e-6, foreach=False)
    crops = _crops(batch)

    def step(it: int) -> float:
        with torch.no_grad():  # SwAV: normalise the prototypes before each step
            w = model.head.prototypes.weight.data.clone()
            model.head.prototypes.weight.copy_(F.normalize(w, dim=1, p=2))
        feats = [model.trunk(torch.cat(crops[:2])), model.trunk(torch.cat(crops[2:]))]
        _, output = model.head(torch.cat(feats))
        bs = batch
        loss = torch.zeros(())
        for crop_id in ASSIGN:
            q = _plain_sinkhorn(output[bs * crop_id : bs * (crop_id + 1)].detach())
            subloss = torch.zeros(())
            for v in (v for v in range(NUM_CROPS) if v != crop_id):
                x = output[bs * v : bs * (v + 1)] / TEMPERATURE
                subloss = subloss - torch.mean(torch.sum(q * F.log_softmax(x, dim=1), dim=1))
            loss = loss + subloss / (NUM_CROPS - 1)
        loss = loss / len(ASSIGN)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss.detach())

    return step


# ------------------------------------------------------------------ Seer's step


def seer_step_fn(
    variant: str, batch: int, *, precision: str, fsdp: bool, queue: int = 0, channels_last: bool = True
) -> Callable[[int], float]:
    mesh = init_device_mesh("cpu", (1,)) if fsdp else None
    model = parallelize(_model(variant), mesh=mesh, precision=precision, device="cpu", channels_last=channels_last)
    obj = SwAVObjective(
        num_crops=NUM_CROPS,
        crops_for_assign=list(ASSIGN),
        temperature=TEMPERATURE,
        epsilon=EPSILON,
        sinkhorn_iterations=SINKHORN_ITERS,
        queue_length=queue,
        feature_dim=128,
    )
    if obj.queue is not None:  # start from a full queue: measure the steady state
        obj.queue.push(F.normalize(torch.randn(len(ASSIGN), queue, 128), dim=-1))
    opt = LARS(param_groups(model), lr=0.3, weight_decay=1e-6)
    crops = _crops(batch)

    def step(it: int) -> float:
        model.head.normalize_prototypes_()
        loss = obj(model, crops, epoch=0)
        loss.backward()
        drop_frozen_prototype_grads_(model.head, iteration=it, freeze_iterations=0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return float(loss.detach())

    return step


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--variant", default="regnety_400mf")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    print(
        f"{args.variant}, batch {args.batch}, crops 2x64 + 4x32, 3000 prototypes, {args.threads} threads, "
        f"median of {args.steps} steps"
    )
    v, b = args.variant, args.batch
    configs: dict[str, Callable[[], Callable[[int], float]]] = {
        "reference": lambda: reference_step_fn(v, b),
        "seer fp32": lambda: seer_step_fn(v, b, precision="fp32", fsdp=False),
        "seer fp32 contiguous": lambda: seer_step_fn(v, b, precision="fp32", fsdp=False, channels_last=False),
        "seer fp32 queue 3840": lambda: seer_step_fn(v, b, precision="fp32", fsdp=False, queue=3840),
        "fsdp2 fp32": lambda: seer_step_fn(v, b, precision="fp32", fsdp=True),
        "fsdp2 bf16": lambda: seer_step_fn(v, b, precision="bf16", fsdp=True),
    }
    sec, first_loss = _interleaved_medians({name: make() for name, make in configs.items()}, args.steps)
    for name in configs:
        print(f"  {name:22s} {sec[name] * 1e3:8.1f} ms/step  ({b / sec[name]:6.1f} images/s)", flush=True)

    print("ratios (each between configurations that differ in one thing; > 1: the second is faster):")
    comparisons = [
        ("implementation", "reference", "seer fp32", "both unwrapped, fp32"),
        ("wrapper", "seer fp32", "fsdp2 fp32", "both fp32"),
        ("precision", "fsdp2 fp32", "fsdp2 bf16", "both FSDP2"),
        ("layout", "seer fp32 contiguous", "seer fp32", "contiguous -> channels_last"),
        ("queue", "seer fp32 queue 3840", "seer fp32", "3840-row queue -> none"),
    ]
    for what, slow, fast, same in comparisons:
        print(f"  {what:15s} {slow:>21s} -> {fast:11s} ({same}): {sec[slow] / sec[fast]:.2f}x")
    diff = abs(first_loss["reference"] - first_loss["seer fp32"])
    print(
        f"same math: first-step loss reference {first_loss['reference']:.6f}, seer fp32 {first_loss['seer fp32']:.6f}"
        f" (|difference| {diff:.1e})"
    )
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
