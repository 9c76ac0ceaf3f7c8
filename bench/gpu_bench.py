"""One-GPU SwAV throughput, Seer's step against a plain PyTorch loop of the same math, in ONE run.

For each (model, per-GPU batch, eager/compiled) it runs, side by side on the same GPU:
  seer        what ``apply_parallelism`` picks for one process (no wrapper + autocast bf16,
              channels_last weights, multi-tensor LARS, SwAV objective);
  seer-fsdp   the previous default (FSDP2 over one GPU + per-tensor LARS), eager rows only;
  plain       the same trunk + head unwrapped under ``torch.autocast(bfloat16)``, channels_last,
              ``torch.optim.SGD``, the same SwAV loss: the loop a user writes by hand;
  torchvision torchvision's RegNetY of the same design (+ the same head), when it imports.
Synthetic crops 2x224 + 4x96, 3000 prototypes, bf16. Prints images/s (an image = one sample
with all its crops), MFU against the H200 datasheet peak (989 TFLOP/s dense bf16) and against
the matmul peak measured at the start of the run, peak memory (and the estimate), compile
seconds, and seer/plain. Writes every number to a JSON file.

MFU counts model FLOPs only: 3 (forward + 2x backward) x 2 (multiply-add) x the analytic
forward multiply-adds of all crops (pycls convention); recomputation is not counted.

Needs only torch and Seer's torch-only modules (no pydantic): ``--smoke`` runs the same code
on CPU with a tiny model and crops (tests use it), its numbers mean nothing.
Usage: bash bench/gpu.sh [--json PATH] [--smoke] [--budget-s 450]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from seer.platform.models.complexity import trunk_flops
from seer.platform.models.memory import GIB, estimate_memory
from seer.platform.models.parallelism import choose
from seer.trainer.models import build_trunk, init_weights_, resolve_design
from seer.trainer.optim import LARS, param_groups
from seer.trainer.parallel import compile_seconds, parallelize
from seer.trainer.swav import SwAVHead, SwAVModel, SwAVObjective

DATASHEET_PEAK = 989e12  # H200 SXM, dense bf16


@dataclass
class Case:
    variant: str
    batches: list[int]  # tried in order; the first that runs is kept (the largest that fits)
    compiled: bool = False


@dataclass
class Row:
    variant: str
    batch: int
    mode: str  # eager | compiled
    impl: str
    step_ms: float | None = None
    images_per_s: float | None = None
    mfu_datasheet: float | None = None
    mfu_measured: float | None = None
    peak_gib: float | None = None
    estimated_gib: float | None = None
    compile_s: float | None = None
    parallelism: str | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


CASES = [
    Case("regnety_16gf", [32]),
    Case("regnety_16gf", [64]),
    Case("regnety_128gf", [64]),
    Case("regnety_256gf", [48, 40, 32, 24, 16]),
    Case("regnety_16gf", [64], compiled=True),
    Case("regnety_256gf", [32, 24, 16], compiled=True),
]
SMOKE_CASES = [Case("regnety_200mf", [2]), Case("regnety_200mf", [2], compiled=True)]


def _head(trunk_out: int, smoke: bool) -> SwAVHead:
    if smoke:
        return SwAVHead(trunk_out, hidden_dim=32, out_dim=16, num_prototypes=20)
    return SwAVHead(trunk_out, hidden_dim=2048, out_dim=128, num_prototypes=3000)


def _objective(smoke: bool) -> SwAVObjective:
    return SwAVObjective(
        num_crops=6,
        crops_for_assign=[0, 1],
        temperature=0.1,
        epsilon=0.05,
        sinkhorn_iterations=3,
        feature_dim=16 if smoke else 128,
    )


def _torchvision_trunk(variant: str) -> nn.Module | None:
    try:
        import torchvision.models as tvm
    except Exception:  # noqa: BLE001 - torchvision missing or broken: the row says so
        return None
    name = {"regnety_16gf": "regnet_y_16gf", "regnety_32gf": "regnet_y_32gf", "regnety_128gf": "regnet_y_128gf"}.get(
        variant
    )
    if name is None or not hasattr(tvm, name):
        return None
    net = getattr(tvm, name)()
    net.out_features = net.fc.in_features  # type: ignore[assignment]
    net.fc = nn.Identity()
    return net


def build_step(impl: str, variant: str, batch: int, *, device: torch.device, compiled: bool, smoke: bool, mesh: Any):
    """(step function, the plan's parallelism or None) for one implementation."""
    torch.manual_seed(0)
    if impl == "torchvision":
        trunk = _torchvision_trunk(variant)
        if trunk is None:
            raise LookupError("torchvision does not import or has no such RegNetY")
        trunk = trunk.to(device)
    else:
        trunk = build_trunk(variant, device=device)
    model = SwAVModel(trunk, _head(trunk.out_features, smoke).to(device))
    init_weights_(model.head)
    objective = _objective(smoke)
    backend = "eager" if smoke else "inductor"
    kind = None
    if impl == "seer":
        est = estimate_memory(resolve_design(variant), batch=batch, head=None)
        dev_bytes = torch.cuda.get_device_properties(device).total_memory if device.type == "cuda" else None
        plan = choose("auto", estimate=est, device_bytes=dev_bytes, world=1, ranks_per_node=1)
        kind = plan.kind + ("+ac" if plan.activation_checkpointing else "")
        parallelize(
            model,
            mesh=None,
            kind=plan.kind,
            precision="bf16",
            activation_checkpointing=plan.activation_checkpointing,
            compile=compiled,
            compile_backend=backend,
            device=device,
        )
        optimizer: torch.optim.Optimizer = LARS(param_groups(model), lr=0.3, weight_decay=1e-6)
    elif impl == "seer-fsdp":
        kind = "fsdp"
        parallelize(model, mesh=mesh, kind="fsdp", precision="bf16", device=device)
        optimizer = LARS(param_groups(model), lr=0.3, weight_decay=1e-6, foreach=False)
    else:  # plain / torchvision: what a user writes by hand
        model = model.to(memory_format=torch.channels_last)
        model.input_memory_format = torch.channels_last
        model.autocast_dtype = torch.bfloat16
        if compiled:
            model.trunk = torch.compile(model.trunk, backend=backend)  # type: ignore[assignment]
        optimizer = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9, weight_decay=1e-6)
    big, small = (32, 16) if smoke else (224, 96)
    crops = [torch.randn(batch, 3, big, big, device=device) for _ in range(2)]
    crops += [torch.randn(batch, 3, small, small, device=device) for _ in range(4)]

    def step() -> float:
        model.head.normalize_prototypes_()
        loss = objective(model, crops, epoch=0)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    return step, kind


def measure(step: Callable[[], float], *, warmup: int, steps: int, device: torch.device) -> tuple[float, float, float]:
    """(seconds per step, warm-up seconds, compile seconds spent in the warm-up)."""

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    c0 = compile_seconds()
    t0 = time.perf_counter()
    for _ in range(warmup):
        step()
    sync()
    warm = time.perf_counter() - t0
    compiled_s = compile_seconds() - c0
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return (time.perf_counter() - t0) / steps, warm, compiled_s


def matmul_peak(device: torch.device, smoke: bool) -> float | None:
    """Measured dense bf16 matmul FLOP/s (8192^3, ~1 s), the practical ceiling for MFU."""
    if device.type != "cuda" or smoke:
        return None
    n = 8192
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize(device)
    iters, t0 = 50, time.perf_counter()
    for _ in range(iters):
        a @ b
    torch.cuda.synchronize(device)
    return 2 * n**3 * iters / (time.perf_counter() - t0)


def run_case(case: Case, impls: list[str], args: argparse.Namespace, ctx: dict[str, Any]) -> list[Row]:
    device, smoke = ctx["device"], args.smoke
    sizes = (32, 16) if smoke else (224, 96)
    design = resolve_design(case.variant)
    flops_per_image = 6 * (2 * trunk_flops(design, sizes[0]) + 4 * trunk_flops(design, sizes[1]))
    rows: list[Row] = []
    batch_ok: int | None = None
    for impl in impls:
        tried = [batch_ok] if batch_ok is not None else case.batches
        for batch in tried:
            mode = "compiled" if case.compiled else "eager"
            row = Row(case.variant, batch, mode, impl)
            row.estimated_gib = round(
                estimate_memory(design, batch=batch).total(shards=1, activation_checkpointing=False) / GIB, 1
            )
            if time.perf_counter() - ctx["t_start"] > args.budget_s:
                row.note = "skipped: time budget"
                rows.append(row)
                break
            try:
                if device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(device)
                step, kind = build_step(
                    impl, case.variant, batch, device=device, compiled=case.compiled, smoke=smoke, mesh=ctx["mesh"]
                )
                row.parallelism = kind
                dt, warm, comp = measure(step, warmup=args.warmup, steps=args.steps, device=device)
            except LookupError as exc:
                row.note = str(exc)
                rows.append(row)
                break
            except torch.OutOfMemoryError:
                row.note = "out of memory"
                del row
                gc.collect()
                torch.cuda.empty_cache()
                continue
            finally:
                step = None  # type: ignore[assignment]
                gc.collect()
                if device.type == "cuda":
                    torch.cuda.empty_cache()
            row.step_ms = round(dt * 1e3, 2)
            row.images_per_s = round(batch / dt, 2)
            row.mfu_datasheet = round(flops_per_image * batch / dt / DATASHEET_PEAK, 4)
            if ctx["measured_peak"]:
                row.mfu_measured = round(flops_per_image * batch / dt / ctx["measured_peak"], 4)
            row.peak_gib = round(torch.cuda.max_memory_allocated(device) / GIB, 1) if device.type == "cuda" else None
            row.compile_s = round(comp, 1) if case.compiled else None
            row.extra["warmup_s"] = round(warm, 1)
            batch_ok = batch
            rows.append(row)
            _print_row(row, ctx)
            break
        else:
            rows.append(
                Row(
                    case.variant,
                    case.batches[-1],
                    "compiled" if case.compiled else "eager",
                    impl,
                    note="out of memory at every batch",
                )
            )
    return rows


def _fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def _print_row(r: Row, ctx: dict[str, Any]) -> None:
    mfu = None if r.mfu_datasheet is None else 100 * r.mfu_datasheet
    mfu_measured = None if r.mfu_measured is None else 100 * r.mfu_measured
    print(
        f"{r.variant:14s} b{r.batch:<3d} {r.mode:8s} {r.impl:11s} {_fmt(r.step_ms, '8.1f')} ms "
        f"{_fmt(r.images_per_s, '8.1f')} img/s  MFU {_fmt(mfu, '5.1f')}% (of measured {_fmt(mfu_measured, '5.1f')}%)  "
        f"peak {_fmt(r.peak_gib, '6.1f')} GiB (est {_fmt(r.estimated_gib, '6.1f')})  "
        f"compile {_fmt(r.compile_s, '5.1f')} s  [{r.parallelism or '-'}] {r.note}",
        flush=True,
    )


def _summary(rows: list[Row]) -> list[dict[str, Any]]:
    out = []
    keys = sorted({(r.variant, r.mode) for r in rows}, key=lambda k: (k[1], k[0]))
    for variant, mode in keys:
        by = {r.impl: r for r in rows if (r.variant, r.mode) == (variant, mode) and r.images_per_s}
        seer, plain = by.get("seer"), by.get("plain")
        out.append(
            {
                "variant": variant,
                "mode": mode,
                "batch": seer.batch if seer else None,
                "seer_images_per_s": seer.images_per_s if seer else None,
                "plain_images_per_s": plain.images_per_s if plain else None,
                "seer_over_plain": round(seer.images_per_s / plain.images_per_s, 3) if seer and plain else None,
                "seer_mfu": seer.mfu_datasheet if seer else None,
                "previous_default_images_per_s": by["seer-fsdp"].images_per_s if "seer-fsdp" in by else None,
                "torchvision_images_per_s": by["torchvision"].images_per_s if "torchvision" in by else None,
            }
        )
    return out


def _write(rows: list[Row], args: argparse.Namespace, ctx: dict[str, Any], name: str, *, partial: bool) -> str:
    result = {
        "device": name,
        "torch": torch.__version__,
        "datasheet_peak_flops": DATASHEET_PEAK,
        "measured_peak_flops": ctx["measured_peak"],
        "total_s": round(time.perf_counter() - ctx["t_start"], 1),
        "smoke": args.smoke,
        "complete": not partial,
        "rows": [asdict(r) for r in rows],
        "summary": _summary(rows),
    }
    path = args.json or os.path.join(os.environ.get("OUT") or "out", "gpu.json")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", default=os.environ.get("SEER_BENCH_SMOKE") == "1")
    ap.add_argument(
        "--json", default=None, help="where to write the numbers (default: $OUT/gpu.json, else out/gpu.json)"
    )
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--budget-s", type=float, default=450.0, help="skip what is left after this many seconds")
    args = ap.parse_args()
    args.steps = args.steps or (1 if args.smoke else 8)
    args.warmup = args.warmup or (1 if args.smoke else 3)
    if not args.smoke and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run on a GPU, or use --smoke to check the script on CPU")
    device = torch.device("cpu") if args.smoke else torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    else:
        torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dist.init_process_group(
        "nccl" if device.type == "cuda" else "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1
    )
    from torch.distributed.device_mesh import init_device_mesh

    ctx: dict[str, Any] = {
        "device": device,
        "t_start": time.perf_counter(),
        "mesh": init_device_mesh(device.type, (1,)),
    }
    ctx["measured_peak"] = matmul_peak(device, args.smoke)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({platform.processor() or 'smoke'})"
    peak_note = f", measured bf16 matmul peak {ctx['measured_peak'] / 1e12:.0f} TFLOP/s" if ctx["measured_peak"] else ""
    print(
        f"{name}, torch {torch.__version__}; MFU vs datasheet {DATASHEET_PEAK / 1e12:.0f} TFLOP/s{peak_note}",
        flush=True,
    )
    print(
        "crops 2x224 + 4x96, bf16, 3000 prototypes"
        if not args.smoke
        else "SMOKE: tiny model on CPU, numbers mean nothing"
    )
    rows: list[Row] = []
    for case in SMOKE_CASES if args.smoke else CASES:
        # The plain loop goes first: the batch it fits (largest first) is used for every row.
        impls = ["plain", "seer"] + ([] if case.compiled else ["seer-fsdp", "torchvision"])
        rows += run_case(case, impls, args, ctx)
        _write(rows, args, ctx, name, partial=True)  # a timeout still leaves the rows done so far
    summary = _summary(rows)
    print("\nseer / plain (images/s):")
    for s_ in summary:
        print(
            f"  {s_['variant']:14s} {s_['mode']:8s} b{s_['batch']}: seer {s_['seer_images_per_s']} plain "
            f"{s_['plain_images_per_s']} -> {s_['seer_over_plain']}x; "
            f"previous default {s_['previous_default_images_per_s']}; torchvision {s_['torchvision_images_per_s']}"
        )
    path = _write(rows, args, ctx, name, partial=False)
    print(f"wrote {path} ({time.perf_counter() - ctx['t_start']:.0f} s)")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
