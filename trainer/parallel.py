"""Apply parallelism to a SwAV model: FSDP2 sharding, mixed precision, SyncBN,
activation checkpointing, channels_last, torch.compile (torchtitan's ``parallelize``).

The model code knows nothing of this; this module relies only on the structure
``model.trunk.stages[i].blocks[j]`` and ``model.head`` (see ``seer.trainer.models``).

Order matters and is: SyncBN conversion -> activation checkpointing (per block) ->
compile (per block) -> channels_last -> FSDP2, bottom-up: BatchNorms (CPU workaround),
then one unit per stage, the head, and the root (stem + the rest).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

Precision = Literal["fp32", "bf16", "fp16"]

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


# NOTE (DESIGN.md section 4): on CPU, BatchNorm with bf16 parameters and float32 running
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


def apply_compile(model: nn.Module) -> None:
    """``torch.compile`` each block in place (repeated structure: few recompiles; the
    FSDP2 hooks stay outside the compiled regions)."""
    for blocks, j in _blocks(model):
        blocks[j].compile()


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
    activation_checkpointing: bool = False,
    compile: bool = False,
    device: torch.device | str = "cpu",
    channels_last: bool | None = None,
    sync_batchnorm: bool | None = None,
    bn_fp32: bool | None = None,
    reshard_after_forward: bool = True,
    cpu_autocast: bool | None = None,
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
    """
    device = torch.device(device)
    is_cuda = device.type == "cuda"
    if cpu_autocast if cpu_autocast is not None else (not is_cuda and precision == "bf16"):
        if is_cuda:
            raise ValueError("cpu_autocast is for CPU devices")
        model.autocast_dtype = _DTYPES[precision]  # type: ignore[assignment]
        precision = "fp32"  # parameters stay float32 under FSDP; autocast does the rest
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
        apply_compile(model)
    if channels_last if channels_last is not None else True:
        # NOTE: only the INPUTS go channels_last. The kernels follow the input's layout
        # (oneDNN / cuDNN pick NHWC), which is where the speed comes from (measured here,
        # RegNetY-400MF fwd+bwd on 2 CPU threads: 0.42 s -> 0.35 s fp32, 0.24 s bf16).
        # Converting the weights as well gains nothing measurable and FSDP2 rejects
        # non-contiguous parameters ("FSDP does not support non-contiguous parameters").
        model.input_memory_format = torch.channels_last  # type: ignore[assignment]
    if mesh is not None:
        apply_fsdp(
            model,
            mesh=mesh,
            precision=precision,
            bn_fp32=bn_fp32 if bn_fp32 is not None else device.type == "cpu",
            reshard_after_forward=reshard_after_forward,
        )
    return model
