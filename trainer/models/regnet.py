"""RegNetY networks in plain PyTorch (no torchvision, no FSDP).

Structure and initialisation follow pycls: a 3x3/2 stem, then stages of residual
bottleneck blocks (1x1 -> 3x3 grouped conv with stride -> squeeze-excitation -> 1x1),
BN + ReLU as pycls, a 1x1 conv + BN projection when the shape changes.

Parallelism lives in ``seer.trainer.parallel``; it relies only on these invariants:
``trunk.stages`` is an ``nn.ModuleList`` of ``Stage`` modules, each with ``blocks`` (an
``nn.ModuleList`` of ``ResBottleneckBlock``).
"""

from __future__ import annotations

import torch
from torch import nn

from seer.platform.models.design import StageSpec, stages
from seer.platform.variants import VARIANTS, RegNetDesign


def _conv_bn(w_in: int, w_out: int, k: int, *, stride: int = 1, groups: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(w_in, w_out, k, stride=stride, padding=k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(w_out),
    ]


class Stem(nn.Sequential):
    """3x3 conv, stride 2, BN, ReLU (pycls ``SimpleStem``)."""

    def __init__(self, w_in: int, w_out: int) -> None:
        super().__init__(*_conv_bn(w_in, w_out, 3, stride=2), nn.ReLU(inplace=True))


class SqueezeExcitation(nn.Module):
    """Channel gating: global pool -> 1x1 (bias) -> ReLU -> 1x1 (bias) -> sigmoid."""

    def __init__(self, w_in: int, w_se: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(w_in, w_se, 1, bias=True)
        self.expand = nn.Conv2d(w_se, w_in, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        s = self.expand(torch.relu(self.reduce(s)))
        return x * torch.sigmoid(s)


class ResBottleneckBlock(nn.Module):
    """RegNetY block: relu(proj(x) + f(x)).

    f = 1x1 -> BN -> ReLU -> 3x3 (groups = w_b / group_width, stride) -> BN -> ReLU ->
    SE (width round(se_ratio * w_in): the block's INPUT width, as pycls) -> 1x1 -> BN.
    The last BN's gamma starts at zero (pycls ``zero_init_final_gamma``) so each block
    starts as the identity on its residual path.
    """

    def __init__(
        self, w_in: int, w_out: int, *, stride: int, group_width: int, bottleneck_ratio: float, se_ratio: float
    ) -> None:
        super().__init__()
        w_b = int(round(w_out * bottleneck_ratio))
        groups = w_b // group_width
        self.a = nn.Sequential(*_conv_bn(w_in, w_b, 1), nn.ReLU(inplace=True))
        self.b = nn.Sequential(*_conv_bn(w_b, w_b, 3, stride=stride, groups=groups), nn.ReLU(inplace=True))
        w_se = int(round(w_in * se_ratio))
        self.se = SqueezeExcitation(w_b, w_se) if w_se > 0 else nn.Identity()
        self.c = nn.Sequential(*_conv_bn(w_b, w_out, 1))
        self.c[1].final_bn = True  # type: ignore[assignment]  # marker for zero-init
        self.proj = nn.Sequential(*_conv_bn(w_in, w_out, 1, stride=stride)) if (w_in != w_out or stride != 1) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.proj is None else self.proj(x)
        return torch.relu(shortcut + self.c(self.se(self.b(self.a(x)))))


class Stage(nn.Module):
    """``depth`` blocks; the first one changes width and has stride 2."""

    def __init__(self, w_in: int, spec: StageSpec) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            ResBottleneckBlock(
                w_in if i == 0 else spec.width,
                spec.width,
                stride=2 if i == 0 else 1,
                group_width=spec.group_width,
                bottleneck_ratio=spec.bottleneck_ratio,
                se_ratio=spec.se_ratio,
            )
            for i in range(spec.depth)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


class RegNetTrunk(nn.Module):
    """Stem + stages + global average pool: images ``[N, 3, H, W]`` -> features ``[N, C]``.

    ``out_features`` is C, the last stage's width.
    """

    def __init__(self, design: RegNetDesign) -> None:
        super().__init__()
        specs = stages(design)
        self.design = design
        self.stem = Stem(3, design.stem_width)
        w_in = design.stem_width
        mods = []
        for spec in specs:
            mods.append(Stage(w_in, spec))
            w_in = spec.width
        self.stages = nn.ModuleList(mods)
        self.out_features: int = w_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return x.mean((2, 3))

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """pycls initialisation; call after ``to_empty`` when the trunk was built on ``meta``."""
        init_weights_(self)


class RegNetClassifier(nn.Module):
    """Trunk + ``num_classes`` fc (the network pycls counts parameters for)."""

    def __init__(self, design: RegNetDesign, num_classes: int = 1000) -> None:
        super().__init__()
        self.trunk = RegNetTrunk(design)
        self.fc = nn.Linear(self.trunk.out_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.trunk(x))


@torch.no_grad()
def init_weights_(module: nn.Module) -> None:
    """pycls ``init_weights``: He-normal convs (fan-out), BN gamma 1 (0 for a block's final
    BN), beta 0, linear N(0, 0.01) with zero bias. Idempotent in distribution only."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
            m.weight.normal_(mean=0.0, std=(2.0 / fan_out) ** 0.5)
            if m.bias is not None:
                m.bias.zero_()
        elif isinstance(m, nn.BatchNorm2d):
            m.weight.fill_(0.0 if getattr(m, "final_bn", False) else 1.0)
            m.bias.zero_()
            if m.running_mean is not None:
                m.running_mean.zero_()
                m.running_var.fill_(1.0)
                m.num_batches_tracked.zero_()
        elif isinstance(m, nn.Linear):
            m.weight.normal_(mean=0.0, std=0.01)
            if m.bias is not None:
                m.bias.zero_()


def resolve_design(design: RegNetDesign | str) -> RegNetDesign:
    """A design, or the design of a named variant (``seer.platform.variants.VARIANTS``)."""
    if isinstance(design, RegNetDesign):
        return design
    try:
        return VARIANTS[design].design
    except KeyError:
        raise KeyError(f"unknown RegNet variant {design!r}; known: {', '.join(VARIANTS)}") from None


def build_trunk(design: RegNetDesign | str, *, device: torch.device | str | None = None) -> RegNetTrunk:
    """Build the feature trunk (no classifier). Returns pooled features ``[N, out_features]``.

    ``device="meta"`` allocates nothing (for the 256GF/10B models before sharding); then
    materialise with ``to_empty(device=...)`` and ``reset_parameters()``. Otherwise the
    weights are initialised as pycls does.
    """
    with torch.device(device) if device is not None else _nullcontext():
        trunk = RegNetTrunk(resolve_design(design))
    if str(device) != "meta":
        init_weights_(trunk)
    return trunk


def build_classifier(
    design: RegNetDesign | str, *, num_classes: int = 1000, device: torch.device | str | None = None
) -> RegNetClassifier:
    """Trunk + fc, the network whose parameter count pycls publishes."""
    with torch.device(device) if device is not None else _nullcontext():
        model = RegNetClassifier(resolve_design(design), num_classes)
    if str(device) != "meta":
        init_weights_(model)
    return model


class _nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
