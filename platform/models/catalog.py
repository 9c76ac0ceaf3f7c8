"""``describe_variants()``: the table behind ``seerctl models``."""

from __future__ import annotations

from typing import Any

from seer.platform.models.complexity import complexity
from seer.platform.models.design import stages
from seer.platform.variants import VARIANTS


def describe_variants() -> list[dict[str, Any]]:
    """One dict per named variant, smallest first.

    Keys: name, params_m (with a 1000-class fc, millions, analytic), published_params_m
    (or None), gflops (multiply-adds at 224 px, pycls convention), stage_widths,
    stage_depths, group_width (after compatibility adjustment), source.
    """
    rows: list[dict[str, Any]] = []
    for name, variant in VARIANTS.items():
        cx = complexity(variant.design, resolution=224, num_classes=1000)
        specs = stages(variant.design)
        rows.append(
            {
                "name": name,
                "params_m": round(cx.params / 1e6, 2),
                "published_params_m": variant.published_params_with_fc,
                "gflops": round(cx.flops / 1e9, 2),
                "stage_widths": [s.width for s in specs],
                "stage_depths": [s.depth for s in specs],
                "group_width": specs[0].group_width,
                "source": variant.source,
            }
        )
    return rows
