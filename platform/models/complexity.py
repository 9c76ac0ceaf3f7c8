"""Analytic parameter and FLOP counts for RegNet (pycls ``complexity`` semantics).

Computed from the design alone, so it works for the 10B model without allocating.
"flops" are multiply-adds, as pycls reports them (a "400MF" model has ~0.4e9).
BN contributes 2 parameters per channel and no FLOPs; SE and fc biases count.
"""

from __future__ import annotations

from dataclasses import dataclass

from seer.platform.models.design import stages
from seer.platform.variants import RegNetDesign


@dataclass(frozen=True)
class Complexity:
    """Totals for one network at one input resolution."""

    params: int
    flops: int  # multiply-adds
    acts: int  # activations written (pycls "acts")


class _Counter:
    def __init__(self, resolution: int) -> None:
        self.h = self.w = resolution
        self.flops = self.params = self.acts = 0

    def conv(self, w_in: int, w_out: int, k: int, *, stride: int = 1, groups: int = 1, bias: bool = False) -> None:
        self.h, self.w = (self.h - 1) // stride + 1, (self.w - 1) // stride + 1
        self.flops += k * k * w_in * w_out * self.h * self.w // groups + (w_out * self.h * self.w if bias else 0)
        self.params += k * k * w_in * w_out // groups + (w_out if bias else 0)
        self.acts += w_out * self.h * self.w

    def bn(self, w: int) -> None:
        self.params += 2 * w

    def linear(self, w_in: int, w_out: int, *, bias: bool) -> None:
        self.flops += w_in * w_out + (w_out if bias else 0)
        self.params += w_in * w_out + (w_out if bias else 0)
        self.acts += w_out


def complexity(design: RegNetDesign, *, resolution: int = 224, num_classes: int | None = 1000) -> Complexity:
    """Parameters and multiply-adds of the trunk (+ a ``num_classes`` fc unless None)."""
    c = _Counter(resolution)
    c.conv(3, design.stem_width, 3, stride=2)
    c.bn(design.stem_width)
    w_in = design.stem_width
    for spec in stages(design):
        for i in range(spec.depth):
            stride = 2 if i == 0 else 1
            w_b = int(round(spec.width * spec.bottleneck_ratio))
            h, w = c.h, c.w
            c.conv(w_in, w_b, 1)
            c.bn(w_b)
            c.conv(w_b, w_b, 3, stride=stride, groups=w_b // spec.group_width)
            c.bn(w_b)
            w_se = int(round(w_in * spec.se_ratio))
            if w_se > 0:
                hb, wb = c.h, c.w
                c.h = c.w = 1
                c.conv(w_b, w_se, 1, bias=True)
                c.conv(w_se, w_b, 1, bias=True)
                c.h, c.w = hb, wb
            c.conv(w_b, spec.width, 1)
            c.bn(spec.width)
            if w_in != spec.width or stride != 1:
                ho, wo = c.h, c.w
                c.h, c.w = h, w
                c.conv(w_in, spec.width, 1, stride=stride)
                c.bn(spec.width)
                c.h, c.w = ho, wo
            w_in = spec.width
    if num_classes is not None:
        c.linear(w_in, num_classes, bias=True)
    return Complexity(params=c.params, flops=c.flops, acts=c.acts)


def trunk_flops(design: RegNetDesign, resolution: int) -> int:
    """Forward multiply-adds of the trunk for one image of side ``resolution``.

    For MFU: training FLOPs per image ~ 3 (fwd + 2x bwd) * 2 (mul+add) * this.
    """
    return complexity(design, resolution=resolution, num_classes=None).flops
