"""SwAV training throughput on one GPU: synthetic multi-crop data (2x224 + 4x96 px),
FSDP2 bf16 + channels_last + torch.compile, LARS. Prints images/s (an image = one sample
with all its crops), model FLOPs utilisation and peak memory per variant.

MFU = (3 x 2 x forward multiply-adds of all crops, analytic, pycls convention: forward +
2x backward, 2 FLOPs per multiply-add; activation recomputation NOT counted) x images/s
/ peak. Default peak: H200 bf16 dense, 989 TFLOPS.

--dry-run: the same code path on CPU (gloo, tiny model, tiny crops, no compile, 2 steps),
to check the script without a GPU; its MFU is meaningless.
"""

from __future__ import annotations

import argparse
import os
import socket
import time

import torch
import torch.distributed as dist
from torch.distributed.device_mesh import init_device_mesh

from seer.trainer.models import build_trunk, init_weights_, resolve_design, trunk_flops
from seer.trainer.optim import LARS, param_groups
from seer.trainer.parallel import parallelize
from seer.trainer.swav import SwAVHead, SwAVModel, SwAVObjective

# variant -> (per-GPU batch, activation checkpointing)
PLAN = {"regnety_3.2gf": (64, False), "regnety_16gf": (32, False), "regnety_128gf": (16, True)}


def bench(
    variant: str,
    *,
    batch: int,
    ac: bool,
    steps: int,
    warmup: int,
    device: torch.device,
    mesh,
    compile_: bool,
    sizes: tuple[int, int],
    peak_tflops: float,
) -> None:
    torch.manual_seed(0)
    trunk = build_trunk(variant, device="meta")
    with torch.device("meta"):
        head = SwAVHead(trunk.out_features, hidden_dim=2048, out_dim=128, num_prototypes=3000)
    model = parallelize(
        SwAVModel(trunk, head),
        mesh=mesh,
        precision="bf16",
        activation_checkpointing=ac,
        compile=compile_,
        device=device,
    )
    model.to_empty(device=device)
    init_weights_(model)
    model.head.normalize_prototypes_()
    obj = SwAVObjective(
        num_crops=6,
        crops_for_assign=[0, 1],
        temperature=0.1,
        epsilon=0.05,
        sinkhorn_iterations=3,
        queue_length=0,
        feature_dim=128,
    )
    opt = LARS(param_groups(model), lr=0.3, weight_decay=1e-6)
    big, small = sizes
    crops = [torch.randn(batch, 3, big, big, device=device) for _ in range(2)]
    crops += [torch.randn(batch, 3, small, small, device=device) for _ in range(4)]
    is_cuda = device.type == "cuda"
    if is_cuda:
        torch.cuda.reset_peak_memory_stats(device)

    def sync() -> None:
        if is_cuda:
            torch.cuda.synchronize(device)

    t0 = time.perf_counter()
    for it in range(warmup + steps):
        if it == warmup:
            sync()
            compile_s = time.perf_counter() - t0
            t0 = time.perf_counter()
        model.head.normalize_prototypes_()
        loss = obj(model, crops, epoch=0)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    sync()
    dt = (time.perf_counter() - t0) / steps
    images_s = batch / dt
    design = resolve_design(variant)
    flops_per_image = 6 * (2 * trunk_flops(design, big) + 4 * trunk_flops(design, small))
    mfu = flops_per_image * images_s / (peak_tflops * 1e12)
    peak_mem = torch.cuda.max_memory_allocated(device) / 2**30 if is_cuda else float("nan")
    print(
        f"{variant:15s} batch {batch:3d} ac={str(ac):5s} step {dt * 1e3:8.1f} ms  {images_s:8.1f} images/s  "
        f"MFU {mfu * 100:5.1f}%  peak mem {peak_mem:6.1f} GiB  (warmup+compile {compile_s:.0f} s, loss {loss.item():.3f})",
        flush=True,
    )
    del model, opt, obj, crops
    if is_cuda:
        torch.cuda.empty_cache()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--variants", nargs="*", default=list(PLAN))
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=8)
    ap.add_argument("--peak-tflops", type=float, default=989.0)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--dry-run", action="store_true", help="CPU, tiny model and crops, 2 steps")
    args = ap.parse_args()
    dry = args.dry_run or not torch.cuda.is_available()
    if dry:
        print("dry run on CPU (no CUDA or --dry-run): tiny model, numbers are not a benchmark")
        torch.set_num_threads(2)
    device = torch.device("cpu") if dry else torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    if not dry:
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if not dist.is_initialized():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        dist.init_process_group("gloo" if dry else "nccl", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    mesh = init_device_mesh(device.type, (dist.get_world_size(),))
    print(
        f"device {torch.cuda.get_device_name(device) if not dry else 'cpu'}, torch {torch.__version__}, "
        f"world {dist.get_world_size()}, bf16 FSDP2 + channels_last{'' if args.no_compile or dry else ' + compile'}"
    )
    if dry:
        bench(
            "regnety_200mf",
            batch=4,
            ac=True,
            steps=2,
            warmup=1,
            device=device,
            mesh=mesh,
            compile_=False,
            sizes=(64, 32),
            peak_tflops=args.peak_tflops,
        )
    else:
        for v in args.variants:
            batch, ac = PLAN.get(v, (16, True))
            bench(
                v,
                batch=batch,
                ac=ac,
                steps=args.steps,
                warmup=args.warmup,
                device=device,
                mesh=mesh,
                compile_=not args.no_compile,
                sizes=(224, 96),
                peak_tflops=args.peak_tflops,
            )
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
