"""Dispatched ops per SwAV training step and wrapper overhead, side by side in one run (CPU).

1. Op count per step, "before" (the previous default for one process: FSDP2 over a 1-rank
   group + the per-tensor LARS) vs "after" (what ``apply_parallelism`` picks for one process:
   no wrapper + the multi-tensor LARS). Counted with ``torch.profiler``: *dispatched* ops are
   the aten ops called from Python or autograd (not the ops an op calls internally); on a GPU
   each is at least one kernel launch, which is what makes a RegNet step launch-bound.
2. Wrapper overhead: the same step unwrapped vs FSDP2 vs DDP (composable ``replicate``) on one
   process, tiny inputs so that per-op overhead dominates; median step time, as ratios.

Usage: python bench/op_count.py [--variant regnety_200mf] [--batch 4] [--steps 6] [--threads 2]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import time
from collections import Counter
from collections.abc import Callable

import torch
import torch.distributed as dist
from torch.distributed.device_mesh import init_device_mesh
from torch.profiler import ProfilerActivity, profile

from seer.trainer.models import build_trunk
from seer.trainer.optim import LARS, param_groups
from seer.trainer.parallel import parallelize
from seer.trainer.swav import SwAVHead, SwAVModel, SwAVObjective


def make_step(variant: str, *, kind: str, foreach: bool, batch: int, sizes: tuple[int, int]) -> Callable[[], None]:
    """One SwAV training step (normalise prototypes, forward, Sinkhorn, loss, backward, LARS)."""
    torch.manual_seed(0)
    trunk = build_trunk(variant)
    head = SwAVHead(trunk.out_features, hidden_dim=256, out_dim=64, num_prototypes=300)
    mesh = init_device_mesh("cpu", (1,)) if kind in ("fsdp", "ddp") else None
    model = parallelize(SwAVModel(trunk, head), mesh=mesh, kind=kind, precision="fp32", device="cpu")  # type: ignore[arg-type]
    objective = SwAVObjective(
        num_crops=6, crops_for_assign=[0, 1], temperature=0.1, epsilon=0.05, sinkhorn_iterations=3, feature_dim=64
    )
    optimizer = LARS(param_groups(model), lr=0.1, weight_decay=1e-6, foreach=foreach)
    big, small = sizes
    crops = [torch.randn(batch, 3, big, big) for _ in range(2)] + [
        torch.randn(batch, 3, small, small) for _ in range(4)
    ]

    def step() -> None:
        model.head.normalize_prototypes_()
        loss = objective(model, crops, epoch=0)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def count_ops(step: Callable[[], None]) -> tuple[int, int, Counter[str]]:
    """(dispatched aten ops, all aten ops, the dispatched ones by name) of one step."""
    step()  # warm-up: lazy state (momentum buffers, workspaces) is not part of a step
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    dispatched: Counter[str] = Counter()
    total = 0
    for e in prof.events():
        if not e.name.startswith("aten::"):
            continue
        total += 1
        parent = e.cpu_parent
        while parent is not None and not parent.name.startswith("aten::"):
            parent = parent.cpu_parent
        if parent is None:
            dispatched[e.name] += 1
    return sum(dispatched.values()), total, dispatched


def median_step_s(steps: dict[str, Callable[[], None]], n: int) -> dict[str, float]:
    """Median seconds per step, the configurations interleaved so drift hits all alike."""
    times: dict[str, list[float]] = {k: [] for k in steps}
    for fn in steps.values():
        fn()
    for _ in range(n):
        for name, fn in steps.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", default="regnety_200mf")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    sizes = (32, 16)
    before = make_step(args.variant, kind="fsdp", foreach=False, batch=args.batch, sizes=sizes)
    after = make_step(args.variant, kind="none", foreach=True, batch=args.batch, sizes=sizes)
    b_disp, b_all, b_names = count_ops(before)
    a_disp, a_all, a_names = count_ops(after)
    print(f"{args.variant}, batch {args.batch}, crops 2x{sizes[0]} + 4x{sizes[1]} px, fp32, one process")
    print(f"{'ops per step':28s} {'before':>10s} {'after':>10s} {'after/before':>13s}")
    print(f"{'dispatched aten ops':28s} {b_disp:10d} {a_disp:10d} {a_disp / b_disp:13.2f}")
    print(f"{'all aten ops (nested too)':28s} {b_all:10d} {a_all:10d} {a_all / b_all:13.2f}")
    print("largest drops (dispatched):")
    for name, n in sorted(b_names.items(), key=lambda kv: kv[1] - a_names.get(kv[0], 0), reverse=True)[:6]:
        print(f"  {name:40s} {n:6d} -> {a_names.get(name, 0):6d}")

    steps = {
        "unwrapped": make_step(args.variant, kind="none", foreach=True, batch=args.batch, sizes=sizes),
        "fsdp": make_step(args.variant, kind="fsdp", foreach=True, batch=args.batch, sizes=sizes),
        "ddp": make_step(args.variant, kind="ddp", foreach=True, batch=args.batch, sizes=sizes),
    }
    med = median_step_s(steps, args.steps)
    print(f"wrapper overhead, one process (median of {args.steps} steps, {args.threads} threads):")
    for name, t in med.items():
        print(f"  {name:10s} {t * 1e3:8.1f} ms/step  {t / med['unwrapped']:5.2f}x unwrapped")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
