"""The RegNet design-space generator: design parameters -> per-stage widths and depths.

Pure functions, no torch. Semantics follow pycls ``generate_regnet`` and
``adjust_block_compatibility`` (Radosavovic et al., 2020), so that a named variant
reproduces the published network exactly (tested against published parameter counts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from seer.platform.variants import RegNetDesign

QUANTUM = 8  # pycls ``q``: block widths are first quantised to multiples of 8


@dataclass(frozen=True, kw_only=True)
class StageSpec:
    """One stage of a RegNet: ``depth`` blocks of output width ``width``.

    Invariant: ``width * bottleneck_ratio`` is a multiple of ``group_width`` (the 3x3
    grouped conv must split its channels evenly), and ``group_width <= width *
    bottleneck_ratio``. The first block of every stage has stride 2.
    """

    width: int
    depth: int
    group_width: int
    bottleneck_ratio: float
    se_ratio: float


def generate_block_widths(*, w0: int, wa: float, wm: float, depth: int, q: int = QUANTUM) -> list[int]:
    """Per-block widths of the linear-then-quantised design (pycls ``generate_regnet``).

    u_j = w0 + wa*j is snapped to the nearest w0 * wm^k (in log space) and rounded to a
    multiple of ``q``.
    """
    if not (wa >= 0 and w0 > 0 and wm > 1 and w0 % q == 0 and depth > 0):
        raise ValueError(
            f"invalid RegNet design: w0={w0} (must be >0 and a multiple of {q}), wa={wa} (>=0), wm={wm} (>1), "
            f"depth={depth} (>0)"
        )
    widths: list[int] = []
    for j in range(depth):
        u = j * wa + w0
        k = round(math.log(u / w0) / math.log(wm))  # numpy.round: half to even, like Python's round
        w = w0 * math.pow(wm, k)
        widths.append(int(round(w / q)) * q)
    return widths


def _group_runs(widths: list[int]) -> tuple[list[int], list[int]]:
    """Distinct widths (ascending, as ``np.unique``) and how many blocks have each."""
    ws = sorted(set(widths))
    return ws, [widths.count(w) for w in ws]


def adjust_block_compatibility(
    ws: list[int], bs: list[float], gs: list[int]
) -> tuple[list[int], list[float], list[int]]:
    """Make widths compatible with group widths and bottleneck ratios (pycls semantics).

    Clamps each group width to the bottleneck width, then rounds the bottleneck width to a
    multiple of lcm(group width, bottleneck ratio) (the group width when the ratio is 1).
    """
    vs = [int(max(1, w * b)) for w, b in zip(ws, bs, strict=False)]
    gs = [int(min(g, v)) for g, v in zip(gs, vs, strict=False)]
    ms = [math.lcm(g, int(b)) if b > 1 else g for g, b in zip(gs, bs, strict=False)]
    vs = [max(m, int(round(v / m) * m)) for v, m in zip(vs, ms, strict=False)]
    ws = [int(v / b) for v, b in zip(vs, bs, strict=False)]
    if not all(w * b % g == 0 for w, b, g in zip(ws, bs, gs, strict=False)):
        raise AssertionError(f"incompatible widths after adjustment: ws={ws} bs={bs} gs={gs}")
    return ws, bs, gs


def stages(design: RegNetDesign) -> list[StageSpec]:
    """The stages of ``design``, in order (pycls ``RegNet.get_params``)."""
    widths = generate_block_widths(w0=design.w0, wa=design.wa, wm=design.wm, depth=design.depth)
    ws, ds = _group_runs(widths)
    n = len(ws)
    ws, bs, gs = adjust_block_compatibility(ws, [design.bottleneck_ratio] * n, [design.group_width] * n)
    return [
        StageSpec(width=w, depth=d, group_width=g, bottleneck_ratio=b, se_ratio=design.se_ratio)
        for w, d, g, b in zip(ws, ds, gs, bs, strict=False)
    ]
