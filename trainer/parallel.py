"""Apply parallelism to a SwAV model: no wrapper / DDP / FSDP2 / HSDP, mixed precision,
SyncBN, activation checkpointing, channels_last, torch.compile (torchtitan's ``parallelize``).

The training loop calls ONE function, :func:`apply_parallelism`: it sizes the job
(``seer.platform.models.memory``), decides (``seer.platform.models.parallelism.choose``),
creates the device mesh, applies the plan and logs it. Every layout keeps the module tree
and parameter names unchanged, so DCP checkpoints load across layouts and world sizes.

The model code knows nothing of this; this module relies only on the structure
``model.trunk.stages[i].blocks[j]`` and ``model.head`` (see ``seer.trainer.models``).

Order matters and is: SyncBN conversion -> activation checkpointing (per block) ->
compile (per block) -> channels_last -> FSDP2, bottom-up: BatchNorms (CPU workaround),
then one unit per stage, the head, and the root (stem + the rest).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.device_mesh import DeviceMesh, init_device_mesh
from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

from seer.platform.models.memory import HeadShape, estimate_memory
from seer.platform.models.parallelism import Kind, ParallelPlan, choose

if TYPE_CHECKING:
    from seer.platform.spec import SeerJob

Precision = Literal["fp32", "bf16", "fp16"]
log = logging.getLogger("seer.trainer.parallel")

_DTYPES: dict[str, torch.dtype] = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
_BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.SyncBatchNorm)


def mixed_precision_policy(precision: Precision) -> MixedPrecisionPolicy:
    """Parameters all-gathered in ``precision``; gradients reduced in float32; the sharded
    master weights and optimizer state stay float32. NOTE: fp16 needs loss scaling in the
    training loop (not done here); bf16 does not."""
    if precision not in _DTYPES:
        raise ValueError(f"precision must be one of {sorted(_DTYPES)}, got {precision!r}")
    if precision == "fp32":
        return MixedPrecisionPolicy()
    return MixedPrecisionPolicy(param_dtype=_DTYPES[precision], reduce_dtype=torch.float32)


# NOTE: on CPU, BatchNorm with bf16 parameters and float32 running
# statistics fails ("expected scalar type BFloat16 but found Float"). CPU batch_norm does
# accept a bf16 input with float32 parameters, so each BatchNorm becomes its own FSDP unit,
# sharded FIRST (FSDP2 is applied bottom-up), with float32 parameters and no input cast.
_BN_FP32_POLICY = MixedPrecisionPolicy(param_dtype=torch.float32, reduce_dtype=torch.float32, cast_forward_inputs=False)


def _blocks(model: nn.Module) -> list[tuple[nn.ModuleList, int]]:
    out = []
    for stage in model.trunk.stages:  # type: ignore[union-attr]
        for j in range(len(stage.blocks)):
            out.append((stage.blocks, j))
    return out


def apply_activation_checkpointing(model: nn.Module) -> None:
    """Wrap every residual block: its activations are recomputed in the backward.
    The wrapper strips its prefix from state-dict keys, so checkpoints are unaffected."""
    from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import CheckpointImpl, checkpoint_wrapper

    for blocks, j in _blocks(model):
        blocks[j] = checkpoint_wrapper(blocks[j], checkpoint_impl=CheckpointImpl.NO_REENTRANT, preserve_rng_state=False)


CompileRegion = Literal["trunk", "blocks"]


def distinct_block_shapes(model: nn.Module) -> int:
    """Residual blocks that differ in what a compiled graph specialises on (widths, stride,
    groups, projection, SE): same-shaped blocks share one graph (their parameters are graph
    inputs, ``inline_inbuilt_nn_modules``)."""
    shapes = set()
    for blocks, j in _blocks(model):
        block = getattr(blocks[j], "_checkpoint_wrapped_module", blocks[j])
        shapes.add(tuple((n, tuple(p.shape)) for n, p in block.named_parameters()) + (block.b[0].stride,))
    return len(shapes)


def apply_compile(
    model: nn.Module,
    *,
    region: CompileRegion = "blocks",
    resolutions: int = 2,
    backend: str = "inductor",
    mode: str | None = None,
) -> int:
    """``torch.compile`` in place, without a recompile storm; returns the number of graphs
    expected per compiled code object (the recompile limit is raised to cover it).

    region ``trunk``: the whole trunk, one static graph per crop resolution (2 for 2x224 +
    4x96). For the plain module and DDP: the fewest graphs and the largest fusions.
    region ``blocks``: each residual block (FSDP2, whose hooks sit between stages, must
    stay outside the graphs); one graph per distinct block shape x resolution, which is
    more than dynamo's default ``recompile_limit`` (8) for a RegNet (the storm measured on
    an H200 in issue 11: it fell back to eager after 94 s).
    Measured on CPU (RegNetY-200MF, 2 crop sizes, aot_eager, 2 shared cores): trunk 2
    graphs, 32 s to compile, 10.4 s/step; blocks 12 graphs, 19 s, 13.1 s/step.
    ``dynamic=False``: every shape is static, so a second resolution is a second graph,
    not a recompilation into a slower dynamic-shape graph.
    """
    import torch._dynamo

    if region == "trunk":
        expected = resolutions
        model.trunk.forward = torch.compile(model.trunk.forward, backend=backend, mode=mode, dynamic=False)  # type: ignore[union-attr]
    else:
        expected = distinct_block_shapes(model) * resolutions
        for blocks, j in _blocks(model):
            blocks[j].compile(backend=backend, mode=mode, dynamic=False)
    limit = max(torch._dynamo.config.recompile_limit, expected + 2)
    torch._dynamo.config.recompile_limit = limit
    torch._dynamo.config.accumulated_recompile_limit = max(torch._dynamo.config.accumulated_recompile_limit, 4 * limit)
    return expected


def compile_seconds() -> float:
    """Seconds dynamo has spent compiling in this process so far (for reporting)."""
    from torch._dynamo.utils import compilation_time_metrics

    return float(sum(compilation_time_metrics.get("_compile.compile_inner", [])))


def apply_fsdp(
    model: nn.Module,
    *,
    mesh: DeviceMesh,
    precision: Precision,
    bn_fp32: bool,
    reshard_after_forward: bool = True,
) -> None:
    """FSDP2 units: [each BN if ``bn_fp32``], each trunk stage, the head, the root."""
    policy = mixed_precision_policy(precision)
    if bn_fp32 and precision != "fp32":
        for m in model.modules():
            if isinstance(m, _BN_TYPES):
                fully_shard(m, mesh=mesh, mp_policy=_BN_FP32_POLICY, reshard_after_forward=reshard_after_forward)
    for stage in model.trunk.stages:  # type: ignore[union-attr]
        fully_shard(stage, mesh=mesh, mp_policy=policy, reshard_after_forward=reshard_after_forward)
    fully_shard(model.head, mesh=mesh, mp_policy=policy, reshard_after_forward=reshard_after_forward)  # type: ignore[arg-type]
    # Root: the stem and whatever is left; the root keeps its parameters after forward
    # (it is used first in the backward anyway only for the stem).
    fully_shard(model, mesh=mesh, mp_policy=policy, reshard_after_forward=reshard_after_forward)


def parallelize(
    model: nn.Module,
    *,
    mesh: DeviceMesh | None,
    precision: Precision = "fp32",
    activation_checkpointing: bool | str = False,
    compile: bool = False,
    device: torch.device | str = "cpu",
    channels_last: bool | None = None,
    sync_batchnorm: bool | None = None,
    bn_fp32: bool | None = None,
    reshard_after_forward: bool = True,
    cpu_autocast: bool | None = None,
    kind: Kind | None = None,
    compile_region: CompileRegion | None = None,
    compile_backend: str = "inductor",
    resolutions: int = 2,
) -> nn.Module:
    """Parallelise a ``SwAVModel`` in place and return it.

    cpu_autocast (default: on for bf16 on CPU): shard with float32 parameters and run the
    forward under ``torch.autocast("cpu", bfloat16)`` instead of FSDP's bf16 parameter
    policy. NOTE: measured here (RegNetY-400MF SwAV step, 2 threads) the FSDP bf16 policy
    on CPU is no faster than fp32 — every BatchNorm must be its own fp32 FSDP unit (see
    above), which costs casts and collectives per BN — while autocast keeps BatchNorm in
    float32 by itself and runs the convolutions in bf16.

    mesh: a 1-D data-parallel mesh (``init_device_mesh(device_type, (world,))``); None
    means no sharding, allowed only with ``precision="fp32"`` (a 1-rank gloo group gives
    mixed precision in one process). device: where compute runs; decides the defaults
    ``channels_last`` (default on: inputs in NHWC, faster on CPU and GPU), ``sync_batchnorm`` (CUDA and world > 1;
    SyncBatchNorm does not run on CPU) and ``bn_fp32`` (CPU only, see the NOTE above).

    A model built on ``meta`` stays on meta (shards included): materialise afterwards with
    ``model.to_empty(device=device)`` and re-initialise (``init_weights_``).

    kind: ``fsdp``/``hsdp`` shard over ``mesh`` (2-D ``(replicate, shard)`` for hsdp);
    ``ddp`` replicates over ``mesh`` (composable DDP: the module tree is unchanged);
    ``none`` is the plain module. Without FSDP mixed precision is ``torch.autocast`` and the
    weights go channels_last too. Default: ``fsdp`` with a mesh, ``none`` without.

    compile_region: see :func:`apply_compile` (default: ``trunk`` unsharded, ``blocks``
    under FSDP2/HSDP); ``resolutions``: distinct crop sizes per step (sizes the cache).
    """
    device = torch.device(device)
    is_cuda = device.type == "cuda"
    # The spec's value may arrive as is ("on"/"off"/"auto"); "auto" is resolved by
    # apply_parallelism, so a caller passing it here directly gets no checkpointing.
    activation_checkpointing = str(getattr(activation_checkpointing, "value", activation_checkpointing)) in (
        "True",
        "on",
    )
    kind = kind or ("fsdp" if mesh is not None else "none")
    if kind in ("none", "ddp") and precision != "fp32" and cpu_autocast is None:
        # No FSDP casts: autocast does the mixed precision (parameters, grads, momentum stay fp32).
        cpu_autocast = True
    if cpu_autocast if cpu_autocast is not None else (not is_cuda and precision == "bf16"):
        if is_cuda and kind == "fsdp":
            raise ValueError("cpu_autocast is for CPU devices")
        model.autocast_dtype = _DTYPES[precision]  # type: ignore[assignment]
        precision = "fp32"  # parameters stay float32 under FSDP; autocast does the rest
    if kind in ("fsdp", "hsdp") and mesh is None:
        raise ValueError(f"parallelism {kind} needs a device mesh")
    if mesh is None and precision != "fp32":
        raise ValueError(f"precision={precision!r} needs FSDP: pass a mesh (a 1-rank gloo mesh works in one process)")
    world = mesh.size() if mesh is not None else 1
    if sync_batchnorm if sync_batchnorm is not None else (is_cuda and world > 1):
        if not is_cuda:
            raise ValueError("SyncBatchNorm does not run on CPU; use sync_batchnorm=False")
        group = mesh.get_group() if mesh is not None else None
        nn.SyncBatchNorm.convert_sync_batchnorm(model, process_group=group)
    if activation_checkpointing:
        apply_activation_checkpointing(model)
    if compile:
        apply_compile(
            model,
            region=compile_region or ("trunk" if kind in ("none", "ddp") else "blocks"),
            resolutions=resolutions,
            backend=compile_backend,
        )
    if channels_last if channels_last is not None else True:
        # NOTE: only the INPUTS go channels_last. The kernels follow the input's layout
        # (oneDNN / cuDNN pick NHWC), which is where the speed comes from (measured here,
        # RegNetY-400MF fwd+bwd on 2 CPU threads: 0.42 s -> 0.35 s fp32, 0.24 s bf16).
        # Converting the weights as well gains nothing measurable and FSDP2 rejects
        # non-contiguous parameters ("FSDP does not support non-contiguous parameters").
        model.input_memory_format = torch.channels_last  # type: ignore[assignment]
        if kind in ("none", "ddp"):
            # Unsharded weights can be NHWC too: cuDNN then needs no layout transforms
            # (measured in issue 11: ~23 ms/step of tensorTransform under FSDP2 on an H200).
            model.to(memory_format=torch.channels_last)
    if kind == "ddp":
        from torch.distributed._composable.replicate import replicate

        if mesh is None:
            raise ValueError("parallelism ddp needs a device mesh")
        replicate(model, device_mesh=mesh, **({"device_ids": [device]} if is_cuda else {}))
    elif mesh is not None:
        apply_fsdp(
            model,
            mesh=mesh,
            precision=precision,
            bn_fp32=bn_fp32 if bn_fp32 is not None else device.type == "cpu",
            reshard_after_forward=reshard_after_forward,
        )
    return model


@dataclass(frozen=True)
class ParallelChoice:
    """What :func:`apply_parallelism` did: the plan (kind, shard/replicate sizes, activation
    checkpointing, estimated bytes per device, reason) and the mesh it built (None: no mesh)."""

    plan: ParallelPlan
    mesh: DeviceMesh | None

    def as_fields(self) -> dict[str, Any]:
        """Flat fields for an event or a log line."""
        p = self.plan
        return {
            "parallelism": p.kind,
            "shard_size": p.shard_size,
            "replicate_size": p.replicate_size,
            "activation_checkpointing": p.activation_checkpointing,
            "estimated_gib": None if p.estimated_bytes is None else round(p.estimated_bytes / 2**30, 2),
            "reason": p.reason,
        }


def device_memory_bytes(device: torch.device) -> int | None:
    """Total memory of a CUDA device; None for CPU (unknown: nothing counts as too big)."""
    if device.type != "cuda":
        return None
    return int(torch.cuda.get_device_properties(device).total_memory)


def build_mesh(plan: ParallelPlan, device: torch.device) -> DeviceMesh | None:
    """The mesh for ``plan``: none for a single process without a process group, 1-D over
    all ranks for ddp/fsdp, 2-D ``(replicate, shard)`` for hsdp (shard = ranks of a node,
    which torchrun numbers consecutively)."""
    if not dist.is_initialized():
        if plan.kind != "none":
            raise ValueError(f"parallelism {plan.kind} needs torch.distributed to be initialised")
        return None
    world = dist.get_world_size()
    if plan.kind == "hsdp":
        return init_device_mesh(
            device.type, (plan.replicate_size, plan.shard_size), mesh_dim_names=("replicate", "shard")
        )
    if plan.kind == "none" and world == 1:
        return None
    return init_device_mesh(device.type, (world,))


def apply_parallelism(
    model: nn.Module, job: SeerJob, device: torch.device, *, device_bytes: int | None = None
) -> ParallelChoice:
    """Size the job, choose the parallelism (``spec.training.parallelism``, default auto) and
    activation checkpointing, build the mesh and wrap ``model`` in place. Collective when a
    process group exists (every rank calls it; all reach the same plan from the same spec).

    ``device_bytes`` overrides the device's memory (tests; None: read it from CUDA). The
    choice is also left on ``model.parallel_choice`` so that whoever reports the run can
    export it (:func:`export_choice`, ``ParallelChoice.as_fields()`` for an event)."""
    training = job.spec.training
    world = dist.get_world_size() if dist.is_initialized() else 1
    per_node = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    if per_node < 1 or world % per_node:
        per_node = world
    crops = job.spec.swav.crops
    head = job.spec.model.head
    estimate = estimate_memory(
        job.spec.model.resolved_design(),
        batch=job.spec.data.batch_size,
        crop_sizes=list(crops.sizes),
        crop_counts=list(crops.counts),
        precision=str(getattr(training.precision, "value", training.precision)),
        head=HeadShape(
            hidden_dim=head.hidden_dim, output_dim=head.output_dim, num_prototypes=job.spec.swav.num_prototypes
        ),
    )
    ac_mode = str(getattr(training.activation_checkpointing, "value", training.activation_checkpointing))
    plan = choose(
        str(getattr(training.parallelism, "value", training.parallelism)),  # type: ignore[arg-type]
        estimate=estimate,
        device_bytes=device_bytes if device_bytes is not None else device_memory_bytes(device),
        world=world,
        ranks_per_node=per_node,
        activation_checkpointing="auto" if ac_mode == "auto" else ac_mode == "on",
    )
    mesh = build_mesh(plan, device)
    parallelize(
        model,
        mesh=mesh,
        kind=plan.kind,
        precision=str(getattr(training.precision, "value", training.precision)),  # type: ignore[arg-type]
        activation_checkpointing=plan.activation_checkpointing,
        compile=training.compile,
        device=device,
        channels_last=training.channels_last,
        resolutions=len(set(crops.sizes)),
    )
    choice = ParallelChoice(plan, mesh)
    model.parallel_choice = choice  # type: ignore[assignment]  # for the reporter: export_choice / events
    log.info(
        "parallelism %s (shard %d x replicate %d): %s", plan.kind, plan.shard_size, plan.replicate_size, plan.reason
    )
    return choice


def export_choice(choice: ParallelChoice, registry: Any, labels: dict[str, str]) -> None:
    """Export the choice as the Prometheus info metric ``seer_train_parallelism_info`` on
    ``registry`` (the trainer's ``CollectorRegistry``), labelled with ``labels`` too."""
    from prometheus_client import Info

    info = Info(
        "seer_train_parallelism", "Data parallelism chosen for this run and why.", list(labels), registry=registry
    )
    target = info.labels(**labels) if labels else info
    target.info({k: str(v) for k, v in choice.as_fields().items()})
