"""Sinkhorn-Knopp alone: 3840-row queue + 32 batch rows x 3000 prototypes, 3 iterations.

Prints ms for SwAV's reference implementation and ours (out-of-place, and in place into a
reused workspace as ``SwAVObjective`` does) and the speed-up ratios. Numbers, not pass/fail.
Usage: python bench/sinkhorn.py [--threads 1] [--repeats 10]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from seer.trainer.swav import sinkhorn, sinkhorn_reference


def best_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--rows", type=int, default=3872)
    ap.add_argument("--prototypes", type=int, default=3000)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    z = F.normalize(torch.randn(args.rows, 128, generator=g), dim=1)
    c = F.normalize(torch.randn(args.prototypes, 128, generator=g), dim=1)
    scores = z @ c.t()
    ws = torch.empty_like(scores)

    def inplace() -> torch.Tensor:
        ws.copy_(scores)
        return sinkhorn(ws, epsilon=0.05, iterations=3, last_rows=32, inplace=True)

    err = (inplace() - sinkhorn_reference(scores, epsilon=0.05, iterations=3)[-32:]).abs().max().item()
    ref = best_ms(lambda: sinkhorn_reference(scores, epsilon=0.05, iterations=3), args.repeats)
    oop = best_ms(lambda: sinkhorn(scores, epsilon=0.05, iterations=3, last_rows=32), args.repeats)
    inp = best_ms(inplace, args.repeats)
    print(f"sinkhorn {args.rows}x{args.prototypes}, 3 iterations, {args.threads} thread(s), best of {args.repeats}")
    print(f"  reference (SwAV)            {ref:8.1f} ms")
    print(f"  ours, out of place          {oop:8.1f} ms   ratio {ref / oop:4.1f}x")
    print(f"  ours, in place (+copy in)   {inp:8.1f} ms   ratio {ref / inp:4.1f}x")
    print(f"  max |ours - reference|      {err:.2e}")


if __name__ == "__main__":
    main()
