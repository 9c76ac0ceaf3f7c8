"""Per-GPU memory estimate of one SwAV training step, from the design alone (no torch).

Model, all in bytes per device:

- training state: float32 parameters, float32 gradients and the float32 momentum buffer,
  12 bytes per parameter; replicated in full, or divided by the shard count when sharded
  (plus the largest FSDP unit gathered: bf16 parameters twice for prefetch and its float32
  gradients before the reduce-scatter, 8 bytes per parameter of the largest stage).
  Mixed precision without sharding keeps a bf16 copy of the weights (autocast's cache):
  2 more bytes per parameter.
- activations saved for the backward: pycls counts the elements every convolution writes
  ("acts"); measured on CPU with ``saved_tensors_hooks`` (RegNetY-200MF and -1.6GF,
  channels_last), a step saves 8.4 bytes per act under bf16 autocast and 16.7 in float32.
  We use 8.5 and 17. With activation checkpointing per block only the block inputs stay
  (2 or 4 bytes per element) plus one block's activations during its recomputation.
- a fixed 3 GiB for the CUDA context, cuDNN/cuBLAS workspaces and allocator slack.

It is an estimate for sizing jobs and choosing defaults; ``bench/gpu.sh`` prints the
measured peak next to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from seer.platform.models.complexity import complexity
from seer.platform.models.design import stages
from seer.platform.variants import RegNetDesign

GIB = 2**30
FIXED_OVERHEAD_BYTES = 3 * GIB
_ACT_BYTES = {"bf16": 8.5, "fp16": 8.5, "fp32": 17.0}
_BOUNDARY_BYTES = {"bf16": 2, "fp16": 2, "fp32": 4}


@dataclass(frozen=True)
class HeadShape:
    """The SwAV head: Linear(C, hidden) + BN + Linear(hidden, out) + prototypes (out x K)."""

    hidden_dim: int = 2048
    output_dim: int = 128
    num_prototypes: int = 3000

    def params(self, in_features: int) -> int:
        h, d, k = self.hidden_dim, self.output_dim, self.num_prototypes
        if h > 0:
            return in_features * h + h + 2 * h + h * d + d + d * k
        return in_features * d + d + d * k


@dataclass(frozen=True)
class MemoryEstimate:
    """The pieces of one device's memory; ``total(...)`` combines them per parallelism."""

    params: int  # trunk + head parameters
    largest_unit_params: int  # the largest FSDP unit (a trunk stage)
    activation_bytes: int  # saved for the backward, the whole per-device batch, no checkpointing
    checkpointed_activation_bytes: int  # the same with per-block activation checkpointing
    mixed_precision: bool

    def state_bytes(self, shards: int) -> int:
        """Parameters + gradients + momentum (+ the gathered unit when sharded)."""
        if shards <= 1:
            return 12 * self.params + (2 * self.params if self.mixed_precision else 0)
        return -(-12 * self.params // shards) + 8 * self.largest_unit_params

    def total(self, *, shards: int, activation_checkpointing: bool) -> int:
        acts = self.checkpointed_activation_bytes if activation_checkpointing else self.activation_bytes
        return self.state_bytes(shards) + acts + FIXED_OVERHEAD_BYTES


def _block_walk(design: RegNetDesign, resolution: int) -> tuple[int, int]:
    """(sum of every block's output elements, the largest single block's pycls acts) per image."""
    h = (resolution - 1) // 2 + 1  # the stem's stride 2
    boundary = 0
    largest = 0
    w_in = design.stem_width
    for spec in stages(design):
        for i in range(spec.depth):
            if i == 0:
                h = (h - 1) // 2 + 1
            w_b = int(round(spec.width * spec.bottleneck_ratio))
            # a, b, c convs (+ projection on the first block) write w_b, w_b, width (+ width) maps
            acts = (2 * w_b + spec.width * (2 if (i == 0 or w_in != spec.width) else 1)) * h * h
            largest = max(largest, acts)
            boundary += spec.width * h * h
            w_in = spec.width
    return boundary, largest


def estimate_memory(
    design: RegNetDesign,
    *,
    batch: int,
    crop_sizes: Sequence[int] = (224, 96),
    crop_counts: Sequence[int] = (2, 4),
    precision: str = "bf16",
    head: HeadShape | None = None,
) -> MemoryEstimate:
    """The estimate for ``batch`` samples per device, each with all its crops."""
    if precision not in _ACT_BYTES:
        raise ValueError(f"precision must be one of {sorted(_ACT_BYTES)}, got {precision!r}")
    if batch <= 0:
        raise ValueError(f"batch must be positive, got {batch}")
    head = head or HeadShape()
    specs = stages(design)
    trunk = complexity(design, num_classes=None).params
    params = trunk + head.params(specs[-1].width)
    # The largest stage's parameters: the difference of two prefix designs is messy; count directly.
    stage_params = []
    w_in = design.stem_width
    for spec in specs:
        w_b = int(round(spec.width * spec.bottleneck_ratio))
        per_block = []
        for i in range(spec.depth):
            wi = w_in if i == 0 else spec.width
            w_se = int(round(wi * spec.se_ratio))
            p = wi * w_b + 9 * w_b * w_b // (w_b // spec.group_width) + w_b * spec.width + 2 * (2 * w_b + spec.width)
            p += (2 * wi * w_se + w_se + w_b) if w_se else 0
            p += (wi * spec.width + 2 * spec.width) if (wi != spec.width or i == 0) else 0
            per_block.append(p)
        stage_params.append(sum(per_block))
        w_in = spec.width
    per_image_acts = 0
    boundary = 0
    largest_block = 0
    for size, count in zip(crop_sizes, crop_counts, strict=True):
        per_image_acts += count * complexity(design, resolution=size, num_classes=None).acts
        b, lb = _block_walk(design, size)
        boundary += count * b
        largest_block = max(largest_block, lb)
    act_bytes = _ACT_BYTES[precision]
    full = int(batch * per_image_acts * act_bytes)
    # checkpointed: block inputs of every crop + one block recomputed for the largest crop group
    group = max(crop_counts)
    ckpt = int(batch * boundary * _BOUNDARY_BYTES[precision] + batch * group * largest_block * act_bytes)
    return MemoryEstimate(
        params=params,
        largest_unit_params=max(max(stage_params), head.params(specs[-1].width)),
        activation_bytes=full,
        checkpointed_activation_bytes=min(ckpt, full),
        mixed_precision=precision != "fp32",
    )


_UNITS = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def parse_bytes(quantity: str) -> int:
    """A Kubernetes-style memory quantity ('141Gi', '80G', '1024') in bytes."""
    text = quantity.strip()
    number = text.rstrip("kMGTi")
    unit = text[len(number) :]
    try:
        value = float(number)
    except ValueError:
        value = -1.0
    if unit not in _UNITS or value <= 0:
        raise ValueError(f"{quantity!r} is not a memory size; write e.g. 141Gi, 80G or 8192Mi")
    return int(value * _UNITS[unit])
